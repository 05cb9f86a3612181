"""The files a simulated container shows to ``kubectl exec``: what the kubelet mounts, laid out as on a node.

- ConfigMap and Secret volumes use the atomic-writer layout: the data lives in a timestamped directory
  ``..2026_12_03_14_57_17.1234567890``, ``..data`` links to it, and each key is a link ``KEY -> ..data/KEY``
  (a ``subPath`` mount is a plain file); ``items`` choose keys and paths.
- The service-account token volume at ``/var/run/secrets/kubernetes.io/serviceaccount`` (``token``, ``ca.crt``,
  ``namespace``) unless automounting is off for the pod or its ServiceAccount.
- The kubelet-managed ``/etc/hosts``, ``/etc/hostname`` and ``/etc/resolv.conf`` (ClusterFirst DNS).
- The image's top-level directories (an empty ``/tmp`` and so on), which is all this simulator knows of an image.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from opsgym.cluster.sim.podenv import Objects, _volume_data

__all__ = ["Entry", "container_files", "pod_hostname", "resolv_conf"]

Obj = dict[str, Any]
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_TTL_S = 3607
ROOT_DIRS = ("bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt", "proc", "root", "run",
             "sbin", "srv", "sys", "tmp", "usr", "var", "var/run", "var/run/secrets", "etc/ssl")
"""A Debian image's top-level tree (busybox and alpine differ in a few names; ``ls /`` is what they show)."""


@dataclass(frozen=True)
class Entry:
    """A file (``content``), directory (``content`` None, ``target`` None) or symbolic link (``target``)."""

    content: str | None = None
    target: str | None = None
    mtime: float = 0.0
    mode: int = 0o644
    tmpfs: bool = False
    """On a tmpfs (Secret and projected volumes): directories are sized by their entries, not 4096."""

    @property
    def is_dir(self) -> bool:
        return self.content is None and self.target is None

    @property
    def size(self) -> int:
        if self.target is not None:
            return len(self.target)
        return 4096 if self.content is None else len(self.content.encode())


def pod_hostname(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return (spec.get("hostname") or pod["metadata"]["name"])[:63]


def resolv_conf(namespace: str) -> str:
    return (f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n"
            "options ndots:5\n")


def _hosts(pod: Obj, ip: str) -> str:
    spec, lines = pod.get("spec") or {}, ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
                                          "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
                                          "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes",
                                          "fe00::2\tip6-allrouters"]
    name = pod_hostname(pod)
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{pod['metadata']['namespace']}.svc.cluster.local"
        lines.append(f"{ip}\t{name}.{domain}\t{name}")
    else:
        lines.append(f"{ip}\t{name}")
    aliases = spec.get("hostAliases") or []
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        lines += [f"{a.get('ip')}\t" + "\t".join(a.get("hostnames") or []) for a in aliases]
    return "\n".join(lines) + "\n"


def _stamp_dir(when: float) -> str:
    fraction = round((when % 1) * 1e9)
    return time.strftime("..%Y_%m_%d_%H_%M_%S", time.gmtime(when)) + f".{fraction or 123456789}"


def _atomic(files: dict[str, Entry], root: str, data: dict[str, str], when: float, mode: int, *,
            tmpfs: bool = False) -> None:
    """The atomic-writer layout of a volume at ``root`` (Secrets and projected volumes live on a tmpfs)."""
    stamp = _stamp_dir(when)
    files[root] = Entry(mtime=when, mode=0o1777 if tmpfs else 0o777, tmpfs=tmpfs)
    files[f"{root}/{stamp}"] = Entry(mtime=when, mode=0o755, tmpfs=tmpfs)
    files[f"{root}/..data"] = Entry(target=stamp, mtime=when, mode=0o777)
    for path, content in data.items():
        top = path.split("/", 1)[0]
        files[f"{root}/{stamp}/{path}"] = Entry(content, mtime=when, mode=mode, tmpfs=tmpfs)
        files.setdefault(f"{root}/{top}", Entry(target=f"..data/{top}", mtime=when, mode=0o777))


def _token(pod: Obj, issued: float) -> str:
    """A JWT shaped like a bound service-account token (claims as real; the signature is a stand-in)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    account = spec.get("serviceAccountName") or "default"
    claims = {"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": int(issued) + TOKEN_TTL_S,
              "iat": int(issued), "iss": "https://kubernetes.default.svc.cluster.local",
              "jti": hashlib.sha256(f"{meta.get('uid')}/jti".encode()).hexdigest()[:36],
              "kubernetes.io": {"namespace": meta["namespace"],
                                "node": {"name": spec.get("nodeName", ""), "uid": ""},
                                "pod": {"name": meta["name"], "uid": meta.get("uid", "")},
                                "serviceaccount": {"name": account, "uid": ""},
                                "warnafter": int(issued) + 3600},
              "nbf": int(issued), "sub": f"system:serviceaccount:{meta['namespace']}:{account}"}

    def part(value: Any) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = part({"alg": "RS256", "kid": hashlib.sha256(b"opsgym-sim").hexdigest()[:43]})
    body = part(claims)
    return f"{head}.{body}.{part(hashlib.sha512(f'{head}.{body}'.encode()).digest() * 4)}"


def _projected(store: Objects, pod: Obj, volume: Obj, issued: float) -> dict[str, str]:
    """A projected volume's files: the bound token, ConfigMap/Secret items and downward-API fields it names (the
    ServiceAccount admission plugin's ``kube-api-access-*`` volume is one)."""
    meta, files = pod["metadata"], {}
    fields = {"metadata.namespace": meta["namespace"], "metadata.name": meta["name"], "metadata.uid": meta.get("uid")}
    for source in volume.get("sources") or []:
        if "serviceAccountToken" in source:
            files[(source["serviceAccountToken"] or {}).get("path", "token")] = _token(pod, issued)
        for kind in ("configMap", "secret"):
            ref = source.get(kind) or {}
            if kind in source:
                data, _ = _volume_data(store, meta["namespace"], {kind: {**ref, "secretName": ref.get("name")}})
                data = data or {}
                items = ref.get("items")
                files.update({i.get("path", i.get("key")): data[i["key"]] for i in items if i.get("key") in data}
                             if items else data)
        for item in (source.get("downwardAPI") or {}).get("items") or []:
            value = fields.get(((item.get("fieldRef") or {}).get("fieldPath")) or "")
            if value is not None and item.get("path"):
                files[item["path"]] = str(value)
    return files


def _automount(store: Objects, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    account = store.get("serviceaccounts", pod["metadata"]["namespace"], spec.get("serviceAccountName") or "default")
    return (account or {}).get("automountServiceAccountToken") is not False


def container_files(store: Objects, pod: Obj, container: Obj, ip: str, started: float, ca_pem: str,
                    extra_dirs: tuple[str, ...] = ()) -> dict[str, Entry]:
    """Absolute path → :class:`Entry` for every file and directory the container shows."""
    namespace = pod["metadata"]["namespace"]
    files: dict[str, Entry] = {"/": Entry(mtime=started, mode=0o755)}
    for name in (*ROOT_DIRS, *extra_dirs):
        files[f"/{name}"] = Entry(mtime=started, mode=0o1777 if name == "tmp" else 0o755)
    files["/etc/hostname"] = Entry(pod_hostname(pod) + "\n", mtime=started)
    files["/etc/hosts"] = Entry(_hosts(pod, ip), mtime=started)
    files["/etc/resolv.conf"] = Entry(resolv_conf(namespace), mtime=started)
    mounts = {m.get("mountPath", "").rstrip("/") for m in container.get("volumeMounts") or []}
    if _automount(store, pod) and TOKEN_DIR not in mounts:
        root_ca = store.get("configmaps", namespace, "kube-root-ca.crt")
        ca = ((root_ca or {}).get("data") or {}).get("ca.crt") or ca_pem
        _atomic(files, TOKEN_DIR, {"ca.crt": ca, "namespace": namespace, "token": _token(pod, started)}, started,
                0o644, tmpfs=True)
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        root = "/" + mount.get("mountPath", "/").strip("/")
        if "emptyDir" in volume:
            files[root] = Entry(mtime=started, mode=0o777)
            continue
        if "projected" in volume:
            projected = volume["projected"] or {}
            _atomic(files, root, _projected(store, pod, projected, started), started,
                    int(projected.get("defaultMode", 0o644)), tmpfs=True)
            continue
        data, ref = _volume_data(store, namespace, volume)
        if data is None:
            continue
        items = ref.get("items")
        layout = {i.get("path", i.get("key")): data[i["key"]] for i in items if i.get("key") in data} if items \
            else dict(data)
        mode = int(ref.get("defaultMode", 0o644))
        if mount.get("subPath"):
            if mount["subPath"] in layout:
                files[root] = Entry(layout[mount["subPath"]], mtime=started, mode=mode)
            continue
        _atomic(files, root, layout, started, mode, tmpfs="secret" in volume)
    for path in list(files):  # every parent directory exists
        parent = path.rsplit("/", 1)[0] or "/"
        while parent not in files:
            files[parent] = Entry(mtime=started, mode=0o755)
            parent = parent.rsplit("/", 1)[0] or "/"
    return files
