"""kubectl under bubblewrap: it sees its own binary, the episode's kubeconfig and its cache folder, nothing else.

The parser in front of kubectl (:mod:`opsgym.cluster.pflag`) decides what may run; this is the second wall, for the
day a flag or an output format that reads or writes a host file gets past it. Inside, the root is an empty tmpfs
holding: the kubectl binary (read-only, at ``/kubectl``), the kubeconfig (read-only, ``/kube/config``), the discovery
cache (read-write, ``/kube/cache``), the resolver files of ``/etc`` a hostname lookup needs, the public CA bundle, a
minimal ``/dev``, a ``/proc`` of its own PID namespace and an empty ``/tmp`` as ``HOME``. No ``/etc/shadow``, no home
folders, no task catalog, no other process's ``/proc``. Capabilities are dropped in a user namespace of its own.

The network is the host's: kubectl must reach the API server on the host's loopback. That is why every embedded
cluster also asks for its own bearer token (:mod:`opsgym.cluster.sim.server`): another episode's port is reachable,
but answers 401.

Without bubblewrap opsgym refuses to run the agent's kubectl (:class:`~opsgym.errors.BackendUnavailableError` says
how to install it); ``OPSGYM_KUBECTL_SANDBOX=off`` runs it unsandboxed, by explicit choice, with a warning.
Cost: bwrap adds a few milliseconds to a ~40 ms kubectl command (``benchmarks/bench_kubectl.py``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from opsgym.errors import BackendUnavailableError

__all__ = ["INSIDE_CACHE", "INSIDE_CONFIG", "OPT_OUT", "KubectlSandbox", "check_available", "sandbox_wanted",
           "unavailable_reason"]

OPT_OUT = "OPSGYM_KUBECTL_SANDBOX"
"""Environment variable: ``off`` runs the agent's kubectl without bubblewrap (not recommended)."""
INSIDE_BINARY, INSIDE_CONFIG, INSIDE_CACHE = "/kubectl", "/kube/config", "/kube/cache"
ETC_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/ssl/certs", "/etc/pki/tls/certs",
             "/etc/ca-certificates")
"""What name resolution and TLS need from /etc: no secrets (``/etc/ssl/private`` stays out)."""
INSTALL_HINT = (f"install bubblewrap (`apt-get install bubblewrap`), or set {OPT_OUT}=off to run the agent's kubectl "
                "unsandboxed on this machine (it can then read any file kubectl can, if a flag slips through)")


def sandbox_wanted() -> bool:
    """Whether the agent's kubectl runs under bubblewrap (always, unless ``OPSGYM_KUBECTL_SANDBOX=off``)."""
    return os.environ.get(OPT_OUT, "").strip().lower() not in ("off", "0", "false", "no")


class KubectlSandbox:
    """The bubblewrap command line that runs one kubectl binary against one kubeconfig.

    Args:
        binary: the kubectl executable (a path; symlinks are resolved, a static Go binary needs nothing else).
        kubeconfig: the episode's kubeconfig, bound read-only (read afresh by every command: backends rewrite it).
        cache_dir: kubectl's discovery cache, bound read-write (created if missing).
    """

    def __init__(self, binary: str, kubeconfig: Path, cache_dir: Path) -> None:
        self.binary = os.path.realpath(binary)
        self.kubeconfig, self.cache_dir = Path(kubeconfig), Path(cache_dir)
        self.bwrap = shutil.which("bwrap") or "bwrap"  # by path: the command's own PATH is empty

    def command(self, args: list[str]) -> list[str]:
        """``bwrap ... /kubectl ARGS`` (environment: see :meth:`environment`)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        config = str(self.kubeconfig) if self.kubeconfig.exists() else os.devnull
        line = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-user", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL",
                "--ro-bind", self.binary, INSIDE_BINARY, "--dev", "/dev", "--proc", "/proc",
                "--tmpfs", "/tmp", "--ro-bind", config, INSIDE_CONFIG, "--bind", str(self.cache_dir), INSIDE_CACHE]
        for path in ETC_FILES:
            line += ["--ro-bind-try", path, path]
        return [*line, "--remount-ro", "/", "--chdir", "/tmp", "--", INSIDE_BINARY, *args]

    @staticmethod
    def environment(base: dict[str, str]) -> dict[str, str]:
        """``base`` with the inside paths for the kubeconfig, the cache, ``HOME``/``TMPDIR`` and an empty ``PATH``."""
        return {**base, "PATH": "/", "HOME": "/tmp", "TMPDIR": "/tmp", "KUBECONFIG": INSIDE_CONFIG,
                "KUBECACHEDIR": INSIDE_CACHE}


@functools.cache
def _probe(binary: str) -> str:
    """Why ``binary`` cannot run in the sandbox here (``""`` when it can), asked once per process."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="opsgym-kubectl-probe-") as scratch:
        sandbox = KubectlSandbox(binary, Path(os.devnull), Path(scratch))
        try:
            done = subprocess.run(sandbox.command(["version", "--client"]), capture_output=True, text=True,
                                  timeout=30, stdin=subprocess.DEVNULL, env=sandbox.environment({"LANG": "C"}))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start kubectl: {exc}"
    if done.returncode != 0:
        return f"bubblewrap could not start kubectl (exit {done.returncode}: {done.stderr.strip()[:300]})"
    return ""


def unavailable_reason(binary: str) -> str:
    """Why the agent's kubectl cannot run sandboxed here, ``""`` when it can (for ``opsgym doctor``)."""
    return _probe(os.path.realpath(binary))


def check_available(binary: str) -> None:
    """Raise :class:`BackendUnavailableError` (with the fix) when ``binary`` cannot run in the sandbox here."""
    reason = unavailable_reason(binary)
    if reason:
        raise BackendUnavailableError(f"the agent's kubectl runs under bubblewrap, and {reason}; {INSTALL_HINT}")
