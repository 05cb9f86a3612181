"""Pod Security Admission: a namespace's ``pod-security.kubernetes.io/enforce|warn`` level applied to pods, worded
as kube-apiserver 1.32's PodSecurity plugin words it.

A pod that breaks the enforce level is refused (``violates PodSecurity "restricted:latest": …``); a pod breaking the
warn level, and a workload whose pod template breaks either, is accepted with a ``would violate PodSecurity``
warning, which kubectl prints as ``Warning:``. Namespaces without the labels are ``privileged``: nothing is checked,
so every existing scenario behaves as before. Checks run in the order of their ids, as the plugin reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["LABEL", "levels", "violations"]

Obj = dict[str, Any]
LABEL = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                 "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}
SECCOMP_OK = ("RuntimeDefault", "Localhost")


def levels(namespace: Obj | None, mode: str) -> str | None:
    """``restricted:latest`` style policy of a namespace for ``mode`` (enforce, warn), None when privileged."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get(LABEL + mode)
    if level not in LEVELS[1:]:
        return None
    return f"{level}:{labels.get(LABEL + mode + '-version') or 'latest'}"


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _who(names: list[str], noun: str = "container") -> str:
    return f"{noun}{'s' if len(names) > 1 else ''} {_quoted(names)}"


def _containers(spec: Obj) -> list[Obj]:
    return [c for group in ("initContainers", "containers", "ephemeralContainers") for c in spec.get(group) or []
            if isinstance(c, dict)]


def _sc(obj: Obj) -> Obj:
    return obj.get("securityContext") or {}


def _allow_privilege_escalation(spec: Obj) -> str | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return f"allowPrivilegeEscalation != false ({_who(bad)} must set securityContext.allowPrivilegeEscalation=false)" \
        if bad else None


def _capabilities_baseline(spec: Obj) -> str | None:
    bad, caps = [], []
    for c in _containers(spec):
        added = [a for a in (_sc(c).get("capabilities") or {}).get("add") or [] if a not in BASELINE_CAPS]
        if added:
            bad.append(c.get("name", ""))
            caps += [a for a in added if a not in caps]
    return f"non-default capabilities ({_who(bad)} must not include {_quoted(sorted(caps))} in " \
        "securityContext.capabilities.add)" if bad else None


def _capabilities_restricted(spec: Obj) -> str | None:
    no_drop, bad_add, caps = [], [], []
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            no_drop.append(c.get("name", ""))
        added = [a for a in capabilities.get("add") or [] if a != "NET_BIND_SERVICE"]
        if added:
            bad_add.append(c.get("name", ""))
            caps += [a for a in added if a not in caps]
    parts = []
    if no_drop:
        parts.append(f'{_who(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if bad_add:
        parts.append(f"{_who(bad_add)} must not include {_quoted(sorted(caps))} in securityContext.capabilities.add")
    return f"unrestricted capabilities ({'; '.join(parts)})" if parts else None


def _host_namespaces(spec: Obj) -> str | None:
    used = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return f"host namespaces ({', '.join(used)})" if used else None


def _host_path_volumes(spec: Obj) -> str | None:
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("hostPath")]
    return f"hostPath volumes ({_who(bad, 'volume')})" if bad else None


def _host_ports(spec: Obj) -> str | None:
    bad, ports = [], []
    for c in _containers(spec):
        used = [str(p["hostPort"]) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if used:
            bad.append(c.get("name", ""))
            ports += [p for p in used if p not in ports]
    if not bad:
        return None
    verb, noun = "use" if len(bad) > 1 else "uses", "hostPorts" if len(ports) > 1 else "hostPort"
    return f"hostPort ({_who(bad)} {verb} {noun} {', '.join(sorted(ports))})"


def _privileged(spec: Obj) -> str | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged")]
    return f"privileged ({_who(bad)} must not set securityContext.privileged=true)" if bad else None


def _restricted_volumes(spec: Obj) -> str | None:
    bad, kinds = [], []
    for v in spec.get("volumes") or []:
        kind = next((k for k in v if k != "name" and k not in RESTRICTED_VOLUMES), None) if isinstance(v, dict) \
            else None
        if kind:
            bad.append(v.get("name", ""))
            kinds += [kind] if kind not in kinds else []
    if not bad:
        return None
    verb, noun = "use" if len(bad) > 1 else "uses", "types" if len(kinds) > 1 else "type"
    return f"restricted volume types ({_who(bad, 'volume')} {verb} restricted volume {noun} {_quoted(sorted(kinds))})"


def _run_as_non_root(spec: Obj) -> str | None:
    pod = _sc(spec).get("runAsNonRoot")
    explicit_false = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsNonRoot") is False]
    unset = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsNonRoot") is None]
    parts = []
    if pod is False:
        parts.append("pod must not set securityContext.runAsNonRoot=false")
    if explicit_false:
        parts.append(f"{_who(explicit_false)} must not set securityContext.runAsNonRoot=false")
    if pod is not True and pod is not False and unset:
        parts.append(f"pod or {_who(unset)} must set securityContext.runAsNonRoot=true")
    return f"runAsNonRoot != true ({'; '.join(parts)})" if parts else None


def _run_as_user(spec: Obj) -> str | None:
    parts = ["pod must not set runAsUser=0"] if _sc(spec).get("runAsUser") == 0 else []
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        parts.append(f"{_who(bad)} must not set runAsUser=0")
    return f"runAsUser=0 ({'; '.join(parts)})" if parts else None


def _seccomp_type(obj: Obj) -> str | None:
    return (_sc(obj).get("seccompProfile") or {}).get("type")


def _seccomp_baseline(spec: Obj) -> str | None:
    parts = ['pod must not set securityContext.seccompProfile.type to "Unconfined"'] \
        if _seccomp_type(spec) == "Unconfined" else []
    bad = [c.get("name", "") for c in _containers(spec) if _seccomp_type(c) == "Unconfined"]
    if bad:
        parts.append(f'{_who(bad)} must not set securityContext.seccompProfile.type to "Unconfined"')
    return f"seccompProfile ({'; '.join(parts)})" if parts else None


def _seccomp_restricted(spec: Obj) -> str | None:
    pod, parts = _seccomp_type(spec), []
    if pod is not None and pod not in SECCOMP_OK:
        parts.append(f'pod must not set securityContext.seccompProfile.type to "{pod}"')
    wrong = [c for c in _containers(spec) if _seccomp_type(c) is not None and _seccomp_type(c) not in SECCOMP_OK]
    for value in dict.fromkeys(str(_seccomp_type(c)) for c in wrong):
        names = [c.get("name", "") for c in wrong if _seccomp_type(c) == value]
        parts.append(f'{_who(names)} must not set securityContext.seccompProfile.type to "{value}"')
    unset = [c.get("name", "") for c in _containers(spec) if _seccomp_type(c) is None]
    if pod is None and unset:
        parts.append(f'pod or {_who(unset)} must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                     '"Localhost"')
    return f"seccompProfile ({'; '.join(parts)})" if parts else None


Check = Callable[[Obj], "str | None"]
BASELINE: tuple[Check, ...] = (_capabilities_baseline, _host_namespaces, _host_path_volumes, _host_ports,
                               _privileged, _seccomp_baseline)
RESTRICTED: tuple[Check, ...] = (_allow_privilege_escalation, _capabilities_restricted, _host_namespaces, _host_ports,
                                 _privileged, _restricted_volumes, _run_as_non_root, _run_as_user,
                                 _seccomp_restricted)
"""Each level's checks in id order; restricted's capabilities, volume and seccomp checks replace baseline's."""


def violations(policy: str, spec: Obj) -> list[str]:
    """What a pod spec breaks under ``policy`` (``baseline:latest`` …), in the plugin's order."""
    checks = RESTRICTED if policy.startswith("restricted:") else BASELINE
    return [text for check in checks if (text := check(spec))]
