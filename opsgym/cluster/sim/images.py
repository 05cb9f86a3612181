"""Image references and pulls as the kubelet and containerd 1.7 see them: which ``image:tag`` exist, what a pull
costs, and the exact failure texts (InvalidImageName, ErrImagePull, ImagePullBackOff, ErrImageNeverPull).

Which images exist is data: ``images.yaml`` beside this module (common public images with real tags) plus the
catalogs apps register (:func:`register_catalog`, an ``images.yaml`` beside an app's ``app.yaml``). A repository a
catalog names is authoritative: a tag or digest it does not list is ``not found``, a ``private`` one needs an
imagePullSecret for its registry. A repository no catalog names is taken as already on the nodes (as ``kind load
docker-image`` leaves a locally built image), so test fixtures and third-party tasks keep running as before —
unless its registry host does not resolve: only the hosts a catalog lists under ``registries`` (and those of its
repositories) do, so a typo in the registry (``docker.oi/library/python``) fails to pull as containerd reports it.
Existing public images are on every node from the start (pre-pulled, as kind loads an app's images), so
``IfNotPresent`` says "already present on machine"; ``Always`` pulls, and a private image is pulled with its
secret the first time its container starts.

Pull back-off is the kubelet's: per pod and image, 10 s doubling to 5 min, forgotten after 10 min without a pull.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import yaml

__all__ = ["Daemon", "PullState", "Pulled", "Reference", "Repository", "catalogued", "container_command", "daemon",
           "ensure_image", "image_config", "parse_reference", "register_catalog", "resolves", "startable"]

Obj = dict[str, Any]
INITIAL_BACKOFF_S, MAX_BACKOFF_S = 10.0, 300.0
STATUS_DELAY_S = 1.0
"""How long a failed pull shows as ErrImagePull before the next sync finds it backing off (ImagePullBackOff)."""
DEFAULT_SIZE = 52428800
NODE_RESOLVER = "172.18.0.1:53"
"""The DNS server a kind node's containerd asks (the docker network's gateway; the sim's nodes are 172.18.0.2 up)."""
"""The size reported for an image no catalog names when a pull is forced (``imagePullPolicy: Always``)."""
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*" \
          r"[a-zA-Z0-9]))*(?::[0-9]+)?"
_REFERENCE = re.compile(rf"^((?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::([\w][\w.-]{{0,127}}))?"
                        r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")


class Objects(Protocol):
    def get(self, plural: str, namespace: str, name: str) -> Obj | None: ...


# ------------------------------------------------------------------------------------------------ references
@dataclass(frozen=True)
class Reference:
    """A normalised image reference (``docker.io/library/nginx:latest``)."""

    domain: str
    path: str
    tag: str
    digest: str

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        return self.repository + (f"@{self.digest}" if self.digest else f":{self.tag}")


class InvalidImage(ValueError):
    """The kubelet cannot parse the reference: ``InvalidImageName``."""


def parse_reference(image: str) -> Reference:
    """Parse as the kubelet does (distribution/reference's ParseNormalizedNamed, ``latest`` by default).

    Raises:
        InvalidImage: with the message the kubelet puts in the waiting state.
    """
    def invalid(why: str) -> InvalidImage:
        return InvalidImage(f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": '
                            f"{why}")

    if _IDENTIFIER.match(image):
        raise invalid(f"invalid repository name ({image}), cannot specify 64-byte hexadecimal strings")
    slash = image.find("/")
    first = image[:slash] if slash >= 0 else ""
    if slash < 0 or (not any(ch in first for ch in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = "docker.io", image
    else:
        domain, remainder = first, image[slash + 1:]
    domain = "docker.io" if domain == "index.docker.io" else domain
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise invalid(f"invalid reference format: repository name ({remote}) must be lowercase")
    match = _REFERENCE.match(f"{domain}/{remainder}")
    if match is None:
        raise invalid("invalid reference format")
    if len(match.group(1)) > 255:
        raise invalid("repository name must not be more than 255 characters")
    tag, digest = match.group(2) or "", match.group(3) or ""
    return Reference(domain, match.group(1)[len(domain) + 1:], tag or ("" if digest else "latest"), digest)


# ------------------------------------------------------------------------------------------------ catalogs
@dataclass(frozen=True)
class Repository:
    """One repository of the catalog: its tags and the image configuration its containers start from."""

    tags: dict[str, int]
    private: bool = False
    bin: frozenset[str] | None = None
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    shell: str = "gnu"
    """Whose wording the image's tools use: ``gnu`` (Debian coreutils, dash as ``sh``) or ``busybox``."""
    files: tuple[tuple[str, str], ...] = ()
    auth: frozenset[str] = frozenset()
    """For a private repository: the ``user:password`` pairs its registry accepts (empty: any credentials for it)."""


@dataclass(frozen=True)
class Daemon:
    """What a long-running server executable does when a container runs it (``daemons`` in ``images.yaml``)."""

    ports: tuple[int, ...]
    http: dict[str, tuple[int, str]]
    docroot: str = ""
    missing: str = ""
    autoindex: bool = False
    """Whether a directory without an index.html is answered with a listing (Python's ``http.server``)."""


_APP_CATALOGS: list[Path] = []
_FIELDS = ("entrypoint", "cmd", "env", "shell", "files", "auth")


def register_catalog(path: Path) -> None:
    """Add an app's ``images.yaml`` (ignored when absent); its repositories add to the built-in ones."""
    if path.is_file() and path not in _APP_CATALOGS:
        _APP_CATALOGS.append(path)
        _catalogs.cache_clear()
        _executables.cache_clear()


def _names(entries: Any) -> frozenset[str]:
    """A ``bin`` list (YAML anchors nest lists; an unquoted ``true`` reads as a boolean) as executable names."""
    if isinstance(entries, list):
        return frozenset().union(*(_names(entry) for entry in entries))
    return frozenset({str(entries).lower() if isinstance(entries, bool) else str(entries)})


def _repository(entry: dict[str, Any], old: Repository | None) -> Repository:
    tags = {str(tag): int(size) for tag, size in (entry.get("tags") or {}).items()}
    binaries = _names(entry["bin"]) if entry.get("bin") else None
    fields: dict[str, Any] = {"entrypoint": tuple(str(a) for a in entry.get("entrypoint") or ()),
                              "cmd": tuple(str(a) for a in entry.get("cmd") or ()),
                              "env": tuple((str(k), str(v)) for k, v in (entry.get("env") or {}).items()),
                              "shell": str(entry.get("shell") or "gnu"),
                              "files": tuple((str(k), str(v)) for k, v in (entry.get("files") or {}).items()),
                              "auth": frozenset(str(pair) for pair in entry.get("auth") or ())}
    if old is not None:
        tags = {**old.tags, **tags}
        binaries = binaries | (old.bin or frozenset()) if binaries else old.bin
        fields = {key: fields[key] if key in entry else getattr(old, key) for key in _FIELDS}
    return Repository(tags, bool(entry.get("private", old.private if old else False)), binaries, **fields)


def _read(path: Path, into: dict[str, Repository], daemons: dict[str, Daemon], registries: set[str]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    registries.update(str(host) for host in data.get("registries") or ())
    if data.get("default"):
        into[""] = _repository(data["default"], into.get(""))
    for name, entry in (data.get("repositories") or {}).items():
        into[name] = _repository(entry, into.get(name))
    for name, entry in (data.get("daemons") or {}).items():
        daemons[str(name)] = Daemon(tuple(int(p) for p in entry.get("ports") or ()),
                                    {str(k): (int(v[0]), str(v[1])) for k, v in (entry.get("http") or {}).items()},
                                    str(entry.get("docroot") or ""), str(entry.get("missing") or ""))


@functools.cache
def _catalogs() -> tuple[dict[str, Repository], dict[str, Daemon], frozenset[str]]:
    repositories: dict[str, Repository] = {}
    daemons: dict[str, Daemon] = {}
    registries: set[str] = set()
    for path in (Path(__file__).with_name("images.yaml"), *_APP_CATALOGS):
        _read(path, repositories, daemons, registries)
    registries |= {name.split("/", 1)[0] for name in repositories if name}
    return repositories, daemons, frozenset(registries)


def _host(domain: str) -> str:
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain


def resolves(domain: str) -> bool:
    """Whether a node can look up the registry ``domain`` (``host[:port]``): a listed registry host or an IP."""
    known, host = _catalogs()[2], _host(domain)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return domain in known or host in known
    return True


def _catalog() -> dict[str, Repository]:
    """The catalogued repositories (the ``default`` entry is kept under the empty name, which no reference has)."""
    return _catalogs()[0]


def image_config(image: str) -> Repository:
    """The configuration of ``image``'s repository; an image no catalog names (or an invalid reference) gets the
    catalog's ``default`` (a Debian-based image: coreutils, dash and bash, no entrypoint)."""
    repositories = _catalogs()[0]
    try:
        name = parse_reference(image).repository
    except InvalidImage:
        name = ""
    return repositories.get(name) or repositories[""]


def catalogued(image: str) -> bool:
    try:
        return parse_reference(image).repository in _catalog()
    except InvalidImage:
        return False


def daemon(executable: str) -> Daemon | None:
    """The catalogued server ``executable`` names (by its base name), if any."""
    return _catalogs()[1].get(executable.rsplit("/", 1)[-1])


def container_command(container: Obj, env: dict[str, str]) -> list[str]:
    """The argv the runtime starts, as containerd builds it from the spec and the image: ``command`` replaces the
    image's ENTRYPOINT (and drops its CMD), ``args`` replace its CMD; only the spec's words get ``$(VAR)`` expanded."""
    from opsgym.cluster.sim.podenv import command_line

    spec_words = command_line(container, env)
    if container.get("command") or not catalogued(str(container.get("image", ""))):
        return spec_words
    config = image_config(str(container.get("image", "")))
    return [*config.entrypoint, *(spec_words if container.get("args") else config.cmd)]


def startable(image: str, command: list[str]) -> str | None:
    """The runtime's StartError text when a catalogued image is started with a command that no catalogued image
    ships (a typo such as ``slep``), else None.

    Any image's executables are accepted, not only this one's: a container's behaviour comes from its spec and
    program, and fixtures run ``python`` in a ``busybox`` image.
    """
    if not command or not catalogued(image) or command[0].rsplit("/", 1)[-1] in _executables() \
            or command[0] in _executables():
        return None
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            f'failed: unable to start container process: exec: "{command[0]}": executable file not found in $PATH: '
            "unknown")


@functools.cache
def _executables() -> frozenset[str]:
    return frozenset(name for repo in _catalog().values() for name in repo.bin or ())


# ------------------------------------------------------------------------------------------------ pulls
@dataclass(frozen=True)
class PullState:
    """One container's image history in the kubelet: the last failed pull and its back-off, the last pulled image."""

    image: str = ""
    failed_at: float | None = None
    backoff: float = 0.0
    error: str = ""
    pulled: str = ""


@dataclass(frozen=True)
class Pulled:
    """What :func:`ensure_image` decided: events to emit, the waiting state if blocked, when to look again."""

    events: tuple[tuple[str, str, str], ...]
    state: PullState
    waiting: tuple[str, str] | None = None
    wake: float | None = None


def _duration(seconds: float) -> str:
    """Go's ``time.Duration`` text for a millisecond-truncated duration (``812ms``, ``1.5s``, ``1m2.345s``)."""
    millis = int(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    minutes, rest = divmod(millis, 60000)
    text = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{text}" if minutes else text


def _login(entry: Any) -> str:
    """An auths entry's ``user:password`` (its ``auth``, base64, else its ``username`` and ``password``)."""
    if not isinstance(entry, dict):
        return ""
    try:
        return base64.b64decode(str(entry["auth"])).decode("utf-8", "replace") if entry.get("auth") else \
            f"{entry.get('username', '')}:{entry.get('password', '')}"
    except (binascii.Error, ValueError):
        return ""


def _credentials(store: Objects, pod: Obj, domain: str, accepted: frozenset[str] = frozenset()) -> bool:
    """Whether a pull secret of the pod (or of its ServiceAccount) holds an auth for ``domain`` (one of
    ``accepted``, when the registry's accepted logins are known)."""
    namespace, spec = pod["metadata"]["namespace"], pod.get("spec") or {}
    names = [s.get("name", "") for s in spec.get("imagePullSecrets") or []]
    account = store.get("serviceaccounts", namespace, spec.get("serviceAccountName") or "default") or {}
    names += [s.get("name", "") for s in account.get("imagePullSecrets") or []]
    hosts = {domain, f"https://{domain}", f"https://{domain}/v1/", f"https://{domain}/v2/"}
    if domain == "docker.io":
        hosts |= {"index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"}
    for name in names:
        secret = store.get("secrets", namespace, name) or {}
        data = secret.get("data") or {}
        raw = data.get(".dockerconfigjson") or data.get(".dockercfg") or ""
        try:
            config = json.loads(base64.b64decode(raw) or b"{}")
        except (binascii.Error, ValueError):
            continue
        auths = config.get("auths", config) if isinstance(config, dict) else {}
        if isinstance(auths, dict) and any(not accepted or _login(auths[host]) in accepted
                                           for host in hosts & set(auths)):
            return True
    return False


def missing_pull_secrets(store: Objects, pod: Obj) -> list[str]:
    namespace = pod["metadata"]["namespace"]
    return [s.get("name", "") for s in (pod.get("spec") or {}).get("imagePullSecrets") or []
            if store.get("secrets", namespace, s.get("name", "")) is None]


def _pull(store: Objects, pod: Obj, ref: Reference) -> tuple[int, str]:
    """(image size, "") for a pull that works, or (0, the CRI error text)."""
    repo = _catalog().get(ref.repository)
    head = f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
    if not resolves(ref.domain):
        kind = f"manifests/{ref.digest or ref.tag}"
        return 0, (f'rpc error: code = Unknown desc = {head}failed to do request: Head "https://{ref.domain}/v2/'
                   f'{ref.path}/{kind}": dial tcp: lookup {_host(ref.domain)} on {NODE_RESOLVER}: no such host')
    if repo is None:
        return DEFAULT_SIZE, ""
    if repo.private and not _credentials(store, pod, ref.domain, repo.auth):
        if ref.domain == "docker.io":
            why = ("pull access denied, repository does not exist or may require authorization: server message: "
                   "insufficient_scope: authorization failed")
        else:
            kind = f"manifests/{ref.digest or ref.tag}"
            why = f"unexpected status from HEAD request to https://{ref.domain}/v2/{ref.path}/{kind}: 401 Unauthorized"
        return 0, f"rpc error: code = Unknown desc = {head}{why}"
    if ref.digest or ref.tag not in repo.tags:
        return 0, f"rpc error: code = NotFound desc = {head}{ref}: not found"
    return repo.tags[ref.tag], ""


def ensure_image(store: Objects, pod: Obj, container: Obj, state: PullState, now: float) -> Pulled:
    """The kubelet's EnsureImageExists for one container start."""
    image = container.get("image", "")
    try:
        ref = parse_reference(image)
    except InvalidImage as exc:
        return Pulled((("Warning", "InspectFailed", str(exc)), ("Warning", "Failed", "Error: InvalidImageName")),
                      state, ("InvalidImageName", str(exc)))
    repo = _catalog().get(ref.repository)
    present = state.pulled == image or (resolves(ref.domain) if repo is None else (
        not repo.private and not ref.digest and ref.tag in repo.tags))
    policy = container.get("imagePullPolicy") or "IfNotPresent"
    if policy == "Never" or (policy == "IfNotPresent" and present):
        if present:
            return Pulled((("Normal", "Pulled", f'Container image "{image}" already present on machine'),), state)
        message = f'Container image "{image}" is not present with pull policy of Never'
        return Pulled((("Warning", "ErrImageNeverPull", message), ("Warning", "Failed", "Error: ErrImageNeverPull")),
                      state, ("ErrImageNeverPull", message))
    if state.image == image and state.failed_at is not None and now - state.failed_at < state.backoff:
        if now < state.failed_at + STATUS_DELAY_S:
            return Pulled((), state, ("ErrImagePull", state.error), state.failed_at + STATUS_DELAY_S)
        message = f'Back-off pulling image "{image}"'
        return Pulled((("Normal", "BackOff", message), ("Warning", "Failed", "Error: ImagePullBackOff")), state,
                      ("ImagePullBackOff", f"{message}: ErrImagePull: {state.error}"), state.failed_at + state.backoff)
    events: list[tuple[str, str, str]] = [("Normal", "Pulling", f'Pulling image "{image}"')]
    missing = missing_pull_secrets(store, pod)
    if missing:
        events.insert(0, ("Warning", "FailedToRetrieveImagePullSecret", f"Unable to retrieve some image pull secrets "
                          f"({', '.join(missing)}); attempting to pull the image may not succeed."))
    size, error = _pull(store, pod, ref)
    if error:
        fresh = state.image != image or state.failed_at is None or now - state.failed_at > 2 * MAX_BACKOFF_S
        backoff = INITIAL_BACKOFF_S if fresh else min(state.backoff * 2, MAX_BACKOFF_S)
        events += [("Warning", "Failed", f'Failed to pull image "{image}": {error}'),
                   ("Warning", "Failed", "Error: ErrImagePull")]
        return Pulled(tuple(events), replace(state, image=image, failed_at=now, backoff=backoff, error=error),
                      ("ErrImagePull", error), now + STATUS_DELAY_S)
    took = _duration(0.4 + size / 80e6) if repo is not None else "1.2s"
    events.append(("Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                   f"Image size: {size} bytes."))
    return Pulled(tuple(events), replace(state, pulled=image, failed_at=None, error=""))
