#!/usr/bin/env python3
"""Write opsgym/cluster/sim/k8sproto.json: the protobuf messages kubectl's typed clients send, as data.

Run at development time, never at runtime::

    python scripts/gen_k8s_protos.py --api /work/.mirror/kubernetes+api/repo \\
        --machinery /work/.mirror/kubernetes+apimachinery/repo --ref v0.32.13

``--api`` and ``--machinery`` are git directories (bare or not) of github.com/kubernetes/api and
github.com/kubernetes/apimachinery; ``--ref`` is the tag of the kubectl minor the simulator speaks (v0.32.x for 1.32).

Two upstream sources are read, both facts of the public API, nothing typed by hand:

* each package's ``generated.proto`` (go-to-protobuf output): message names, field names, numbers, types, labels;
* the Go ``types.go`` struct tags next to it (``json:"…" protobuf:"…,name=…"``): the JSON name of each proto field,
  whether Go holds it as a pointer (then proto presence decides, e.g. ``replicas``) and whether it has
  ``omitempty`` or is ``inline`` (``Volume.volumeSource``, ``Probe.handler``). The decoder needs these to produce
  the very JSON that kubectl would have sent for the same Go object.

Only the transitive closure of ``ROOTS`` is kept, so the file stays small (~100 KB). Field entries are
``[name, number, label, type, json, flags]``: label ``o`` optional, ``r`` repeated, ``m`` map (type is then
``[key, value]``); json is ``""`` when it equals the proto name; flags hold ``p`` (Go pointer), ``e`` (omitempty),
``i`` (inline). A message whose Go type is a named ``[]string`` (``ExtraValue``) is listed under ``lists``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parents[1]
OUT = ROOT_DIR / "opsgym" / "cluster" / "sim" / "k8sproto.json"

# (repository key, directory, proto package); dependencies come first so a runtime pool can add them in order.
PACKAGES = [
    ("machinery", "pkg/api/resource", "k8s.io.apimachinery.pkg.api.resource"),
    ("machinery", "pkg/util/intstr", "k8s.io.apimachinery.pkg.util.intstr"),
    ("machinery", "pkg/runtime/schema", "k8s.io.apimachinery.pkg.runtime.schema"),
    ("machinery", "pkg/runtime", "k8s.io.apimachinery.pkg.runtime"),
    ("machinery", "pkg/apis/meta/v1", "k8s.io.apimachinery.pkg.apis.meta.v1"),
    ("api", "core/v1", "k8s.io.api.core.v1"),
    ("api", "apps/v1", "k8s.io.api.apps.v1"),
    ("api", "batch/v1", "k8s.io.api.batch.v1"),
    ("api", "networking/v1", "k8s.io.api.networking.v1"),
    ("api", "rbac/v1", "k8s.io.api.rbac.v1"),
    ("api", "policy/v1", "k8s.io.api.policy.v1"),
    ("api", "scheduling/v1", "k8s.io.api.scheduling.v1"),
    ("api", "autoscaling/v1", "k8s.io.api.autoscaling.v1"),
    ("api", "autoscaling/v2", "k8s.io.api.autoscaling.v2"),
    ("api", "authorization/v1", "k8s.io.api.authorization.v1"),
    ("api", "authentication/v1", "k8s.io.api.authentication.v1"),
]

# apiVersion → kinds sent as protobuf: the `kubectl create <generator>` kinds, plus what other typed-client verbs
# send (drain: Eviction and DeleteOptions; auth can-i/whoami; create token; autoscale; scale).
ROOTS = {
    "v1": ["ConfigMap", "Secret", "Service", "Namespace", "ServiceAccount", "ResourceQuota", "Pod"],
    "apps/v1": ["Deployment"],
    "batch/v1": ["Job", "CronJob"],
    "networking.k8s.io/v1": ["Ingress"],
    "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "policy/v1": ["PodDisruptionBudget", "Eviction"],
    "scheduling.k8s.io/v1": ["PriorityClass"],
    "autoscaling/v1": ["HorizontalPodAutoscaler", "Scale"],
    "autoscaling/v2": ["HorizontalPodAutoscaler"],
    "authorization.k8s.io/v1": ["SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectRulesReview"],
    "authentication.k8s.io/v1": ["SelfSubjectReview", "TokenRequest"],
    "meta.k8s.io/v1": ["DeleteOptions"],
}

ENVELOPE = "k8s.io.apimachinery.pkg.runtime.Unknown"  # runtime.Unknown wraps every body after the k8s\x00 magic
# Types whose Go JSON form is custom and which opsgym/cluster/sim/protobuf.py has no converter for yet (it handles
# Time, FieldsV1, Quantity, IntOrString): a root that pulls one in needs a converter there first.
UNCONVERTED = {"k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime", "k8s.io.apimachinery.pkg.apis.meta.v1.Duration",
               "k8s.io.apimachinery.pkg.runtime.RawExtension"}
MESSAGE = re.compile(r"^message (\w+) \{\n(.*?)^\}", re.M | re.S)
FIELD = re.compile(r"^\s+(optional|repeated) (\S+) (\w+) = (\d+);", re.M)
MAP_FIELD = re.compile(r"^\s+map<(\w+), (\S+)> (\w+) = (\d+);", re.M)
STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
NAMED_LIST = re.compile(r"^type (\w+) \[\]string\b", re.M)
TAGGED = re.compile(r"^\s*([^`/\n]*?)\s*`([^`]*protobuf:\"[^`]*)`", re.M)
SCALARS = {"string", "bool", "int32", "int64", "bytes", "double"}  # what protobuf.py maps; another fails loudly


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _qualify(type_name: str, package: str) -> str:
    if type_name in SCALARS:
        return type_name
    return type_name.lstrip(".") if type_name.startswith(".") else f"{package}.{type_name}"


def _proto_messages(text: str, package: str) -> dict[str, list[list[Any]]]:
    messages: dict[str, list[list[Any]]] = {}
    for name, body in MESSAGE.findall(text):
        fields: list[list[Any]] = [[f, int(n), label[0], _qualify(t, package)]
                                   for label, t, f, n in FIELD.findall(body)]
        fields += [[f, int(n), "m", [k, _qualify(v, package)]] for k, v, f, n in MAP_FIELD.findall(body)]
        messages[f"{package}.{name}"] = sorted(fields, key=lambda x: x[1])
    return messages


def _go_tags(sources: list[str]) -> tuple[dict[tuple[str, str], tuple[str, str]], set[str]]:
    """(struct, proto field) → (json name, flags), and the named []string types, from the Go struct tags."""
    tags: dict[tuple[str, str], tuple[str, str]] = {}
    lists: set[str] = set()
    for text in sources:
        lists.update(NAMED_LIST.findall(text))
        for struct, body in STRUCT.findall(text):
            for decl, tag in TAGGED.findall(body):
                proto = re.search(r'protobuf:"[^"]*name=(\w+)', tag)
                js = re.search(r'json:"([^"]*)"', tag)
                go_type = decl.split()[-1] if decl.split() else ""
                if not js or not go_type:
                    continue
                # An embedded struct's tag may omit name=; go-to-protobuf then names it after the type, lowerCamel.
                base = go_type.lstrip("*").rpartition(".")[2]
                proto_name = proto.group(1) if proto else base[:1].lower() + base[1:]
                json_name, *options = js.group(1).split(",")
                flags = ("p" if go_type.startswith("*") else "") + ("e" if "omitempty" in options else "")
                if not json_name and "inline" in options:
                    flags += "i"
                tags[(struct, proto_name)] = (json_name, flags)
    return tags, lists


def _closure(messages: dict[str, list[list[Any]]], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for field in messages[name]:
            for t in (field[3] if field[2] == "m" else [field[3]]):
                if t not in SCALARS:
                    todo.append(t)
    return sorted(seen)


def _root_names() -> dict[str, str]:
    groups = {"v1": "core/v1", "meta.k8s.io/v1": "pkg/apis/meta/v1"}
    by_dir = {d: p for _, d, p in PACKAGES}
    out = {}
    for api_version, kinds in ROOTS.items():
        directory = groups.get(api_version) or f"{api_version.split('/')[0].split('.')[0]}/{api_version.split('/')[1]}"
        for kind in kinds:
            out[f"{api_version}/{kind}"] = f"{by_dir[directory]}.{kind}"
    return out


def generate(api: Path, machinery: Path, ref: str) -> tuple[dict[str, Any], list[str]]:
    """The data file's content, and the proto fields no Go struct tag describes (the special types' own fields)."""
    repos = {"api": api, "machinery": machinery}
    messages: dict[str, list[list[Any]]] = {}
    tags: dict[str, dict[tuple[str, str], tuple[str, str]]] = {}
    lists: set[str] = set()
    for key, directory, package in PACKAGES:
        repo = repos[key]
        messages.update(_proto_messages(_git(repo, "show", f"{ref}:{directory}/generated.proto"), package))
        files = [f for f in _git(repo, "ls-tree", "--name-only", f"{ref}:{directory}").split()
                 if f.endswith(".go") and not f.endswith("_test.go") and not f.startswith(("zz_", "generated"))]
        tags[package], named = _go_tags([_git(repo, "show", f"{ref}:{directory}/{f}") for f in files])
        lists.update(f"{package}.{n}" for n in named if f"{package}.{n}" in messages)
    roots = _root_names()
    keep = _closure(messages, [*roots.values(), ENVELOPE])
    if UNCONVERTED & set(keep):
        raise SystemExit(f"the roots need {sorted(UNCONVERTED & set(keep))}: add their converters to protobuf.py")
    packages: dict[str, dict[str, list[list[Any]]]] = {p: {} for _, _, p in PACKAGES}
    untagged = []
    for full in keep:
        package, _, name = full.rpartition(".")
        fields = []
        for field in messages[full]:
            json_name, flags = tags[package].get((name, field[0]), (field[0], "pe"))
            if (name, field[0]) not in tags[package]:
                untagged.append(f"{full}.{field[0]}")
            fields.append([*field, "" if json_name == field[0] else json_name, flags])
        packages[package][name] = fields
    return {
        "source": {"k8s.io/api": f"{ref} {_git(api, 'rev-parse', ref).strip()}",
                   "k8s.io/apimachinery": f"{ref} {_git(machinery, 'rev-parse', ref).strip()}"},
        "packages": [[p, m] for p, m in packages.items() if m],
        "lists": sorted(lists & set(keep)),
        "kinds": roots,
    }, untagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", type=Path, default=Path("/work/.mirror/kubernetes+api/repo"))
    parser.add_argument("--machinery", type=Path, default=Path("/work/.mirror/kubernetes+apimachinery/repo"))
    parser.add_argument("--ref", default="v0.32.13")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data, untagged = generate(args.api, args.machinery, args.ref)
    args.out.write_text(json.dumps(data, separators=(",", ":"), sort_keys=False) + "\n")
    count = sum(len(m) for _, m in data["packages"])
    print(f"{args.out}: {count} messages, {args.out.stat().st_size} bytes; fields without a Go tag: {untagged}")


if __name__ == "__main__":
    main()
