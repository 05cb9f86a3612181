"""The ``kubeconfig`` backend: SRE episodes in a dedicated namespace of a cluster the user already has.

The user picks a kubeconfig and a context. opsgym creates the task's namespace (labelled as its own, and refuses
to reuse one it did not create), a ServiceAccount + Role + RoleBinding confined to it, and hands the agent's kubectl
a kubeconfig with only that account's token — the agent cannot read or change anything outside the namespace, and
gets no cluster-wide view at all. Because a mistake here hits a shared cluster, opsgym refuses contexts that look
like production (a name such as ``prod``/``production``/``prd``/``live``, or an API server that is not on this
machine) unless the user passes ``allow_production=True``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from opsgym.cluster.access import cluster_entry
from opsgym.cluster.real import RealCluster, flag
from opsgym.errors import BackendUnavailableError, UnsafeClusterError

__all__ = ["KubeconfigCluster", "default_kubeconfig", "production_reasons", "unavailable_reason"]

PRODUCTION_NAME = re.compile(r"(^|[^a-z0-9])(prod|production|prd|live)([^a-z0-9]|$)", re.IGNORECASE)
LOCAL_HOSTS = {"localhost", "host.docker.internal", "kubernetes.docker.internal"}


def default_kubeconfig() -> Path:
    """The file kubectl would use: the first entry of ``$KUBECONFIG``, else ``~/.kube/config``."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(paths[0]).expanduser() if paths else Path.home() / ".kube" / "config"


def _is_local(server: str) -> bool:
    host = (urlsplit(server).hostname or "").lower()
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def production_reasons(context: str, cluster: str, server: str) -> list[str]:
    """Why a context looks like production (empty when it looks like a local, disposable cluster)."""
    reasons = [f"{what} {name!r} looks like a production name" for what, name in (("context", context),
               ("cluster", cluster)) if PRODUCTION_NAME.search(name)]
    if not _is_local(server):
        reasons.append(f"its API server {server!r} is not on this machine")
    return reasons


class KubeconfigCluster(RealCluster):
    """Runs episodes in opsgym-labelled namespaces of an existing cluster.

    Args:
        kubeconfig: the admin kubeconfig (default: ``$KUBECONFIG`` or ``~/.kube/config``). opsgym only reads it.
        context: the context to use (default: the file's current context).
        allow_production: run even though the context looks like production (a remote or prod-named cluster).
        **options: see :class:`opsgym.cluster.real.RealCluster` (``token_ttl_s``, ``poll_s`` …).
    """

    name = "kubeconfig"

    def __init__(self, *, kubeconfig: str | Path | None = None, context: str | None = None,
                 allow_production: bool | str = False, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.source = Path(kubeconfig).expanduser() if kubeconfig else default_kubeconfig()
        self.context = context or None
        self.allow_production = flag(allow_production)

    def check(self) -> str:
        """Resolve the context and refuse production-looking ones, without contacting the cluster; returns it."""
        if not self.source.is_file():
            raise BackendUnavailableError(f"no kubeconfig at {self.source}; pass kubeconfig=PATH (and context=NAME) "
                                          "or set KUBECONFIG")
        try:
            config = yaml.safe_load(self.source.read_text(encoding="utf-8")) or {}
            context, cluster, entry = cluster_entry(config, self.context)
        except (yaml.YAMLError, KeyError, AttributeError) as exc:
            raise BackendUnavailableError(f"{self.source}: cannot use it ({exc}); pass context=NAME of one of its "
                                          "contexts") from None
        reasons = production_reasons(context, cluster, str(entry.get("server", "")))
        if reasons and not self.allow_production:
            raise UnsafeClusterError(
                f"refusing to run on context {context!r}: {'; '.join(reasons)}. opsgym creates namespaces and lets an "
                "agent change workloads there; use a local or disposable cluster (e.g. the kind backend), or pass "
                "allow_production=True (--backend-option allow_production=true) if you really mean this cluster.")
        self.context = context
        return context

    def _open(self) -> tuple[Path, str | None]:
        return self.source, self.check()


def unavailable_reason(kubeconfig: str | Path | None = None, context: str | None = None) -> str:
    """Why the kubeconfig backend would refuse to run (``""`` when the context is usable), for ``opsgym doctor``.

    Checks the file, the context and the production guard only; it sends nothing to the cluster.
    """
    try:
        KubeconfigCluster(kubeconfig=kubeconfig, context=context).check()
    except (BackendUnavailableError, UnsafeClusterError) as exc:
        return str(exc)
    return ""
