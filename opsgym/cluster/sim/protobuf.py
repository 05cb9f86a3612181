"""Protobuf request bodies → the JSON object the same client would have sent as JSON.

kubectl's typed generators (``kubectl create configmap|secret|deployment|…``), and the typed client behind drain, auth
and autoscale, POST ``application/vnd.kubernetes.protobuf`` with no JSON fallback. Such a body is the magic
``k8s\\x00`` then a ``runtime.Unknown`` whose ``typeMeta`` names the kind and whose ``raw`` holds the object message.

The messages come from ``k8sproto.json``, written at development time by ``scripts/gen_k8s_protos.py`` from the
upstream ``generated.proto`` files and Go struct tags (k8s.io/api and k8s.io/apimachinery v0.32). Here they become
descriptors in a private pool, decoded by the maintained ``protobuf`` runtime, then rendered the way Go's
``encoding/json`` renders the Go object the client built: a pointer field is present only when the client set it (so
server defaulting still sees absence), ``omitempty`` drops zero scalars and empty lists and maps, inline structs merge
into their parent, and Time, Quantity, IntOrString, FieldsV1 and named string lists use their own JSON forms. Nothing
is emitted as ``null``: where Go writes null (a nil list without omitempty, the zero Time), the API server's decoder
reads absence.

The pool and the per-message plans are built on the first protobuf body and kept for the process.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from opsgym.cluster.sim.status import ApiError

__all__ = ["MAGIC", "MEDIA_TYPE", "UNKNOWN", "ProtobufError", "decode", "message_class", "request_object"]

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
DATA = Path(__file__).with_name("k8sproto.json")
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_PROTO = descriptor_pb2.FieldDescriptorProto
SCALAR_TYPES = {"string": _PROTO.TYPE_STRING, "bool": _PROTO.TYPE_BOOL, "int32": _PROTO.TYPE_INT32,
                "int64": _PROTO.TYPE_INT64, "bytes": _PROTO.TYPE_BYTES, "double": _PROTO.TYPE_DOUBLE}
_ABSENT = object()  # a converter's answer for a value Go would write as null


class ProtobufError(ValueError):
    """A body that is not a Kubernetes protobuf object; ``gvk`` is (kind, version) once the envelope has named it."""

    def __init__(self, message: str, gvk: tuple[str, str] | None = None):
        super().__init__(message)
        self.gvk = gvk


class _Schema:
    """The descriptor pool, message classes by full name, and the apiVersion/Kind → message table."""

    def __init__(self) -> None:
        data = json.loads(DATA.read_text())
        self.pool = descriptor_pool.DescriptorPool()
        self.fields: dict[str, dict[str, tuple[str, str]]] = {}  # message → proto field → (json name, flags)
        self.lists: set[str] = set(data["lists"])
        self.kinds: dict[str, str] = data["kinds"]
        packages = {package for package, _ in data["packages"]}
        for package, messages in data["packages"]:
            self.pool.Add(self._file(package, messages, packages))
        self.classes: dict[str, type[Message]] = {}
        self.plans: dict[str, list[tuple[FieldDescriptor, str, str, Callable[[Any], Any]]]] = {}

    def _file(self, package: str, messages: dict[str, list[list[Any]]],
              packages: set[str]) -> descriptor_pb2.FileDescriptorProto:
        proto = descriptor_pb2.FileDescriptorProto(name=package.replace(".", "/") + ".proto", package=package,
                                                   syntax="proto2")
        deps: set[str] = set()
        for name, fields in messages.items():
            message = proto.message_type.add(name=name)
            self.fields[f"{package}.{name}"] = {f[0]: (f[4] or f[0], f[5]) for f in fields}
            for field_name, number, label, type_name, _, _ in fields:
                if label == "m":
                    entry = message.nested_type.add(name=field_name[:1].upper() + field_name[1:] + "Entry")
                    entry.options.map_entry = True
                    _field(entry, "key", 1, "o", type_name[0], deps)
                    _field(entry, "value", 2, "o", type_name[1], deps)
                    _field(message, field_name, number, "r", f"{package}.{name}.{entry.name}", deps)
                else:
                    _field(message, field_name, number, label, type_name, deps)
        proto.dependency.extend(sorted(d.replace(".", "/") + ".proto" for d in (deps & packages) - {package}))
        return proto

    def message_class(self, full_name: str) -> type[Message]:
        cls = self.classes.get(full_name)
        if cls is None:
            cls = self.classes[full_name] = message_factory.GetMessageClass(
                self.pool.FindMessageTypeByName(full_name))
        return cls

    def plan(self, descriptor: Any) -> list[tuple[FieldDescriptor, str, str, Callable[[Any], Any]]]:
        """Per field: descriptor, JSON name, Go flags (p pointer, e omitempty, i inline) and value converter."""
        plan = self.plans.get(descriptor.full_name)
        if plan is None:
            tags = self.fields[descriptor.full_name]
            plan = self.plans[descriptor.full_name] = [(fd, *tags[fd.name], self._converter(fd))
                                                       for fd in descriptor.fields]
        return plan

    def _converter(self, fd: FieldDescriptor) -> Callable[[Any], Any]:
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value = self._single(fd.message_type.fields_by_name["value"])
            return lambda m: {_text(k): value(v) for k, v in m.items()}
        single = self._single(fd)
        if fd.is_repeated:
            return lambda items: [single(v) for v in items]
        return single

    def _single(self, fd: FieldDescriptor) -> Callable[[Any], Any]:
        if fd.type == FieldDescriptor.TYPE_BYTES:
            return lambda b: base64.b64encode(b).decode("ascii")
        if fd.type == FieldDescriptor.TYPE_STRING:
            return _text
        if fd.message_type is None:
            return lambda v: v
        name = fd.message_type.full_name
        special = _SPECIAL.get(name)
        if special is not None:
            return special
        if name in self.lists:
            return lambda m: list(m.items)
        return self.to_json

    def to_json(self, message: Message) -> dict[str, Any]:
        """``message`` as Go's encoding/json writes the Go struct it decodes into (see the module docstring)."""
        out: dict[str, Any] = {}
        for fd, name, flags, convert in self.plan(message.DESCRIPTOR):
            value = getattr(message, fd.name)
            if fd.is_repeated:
                if value:
                    out[name] = convert(value)
                continue
            if "p" in flags and not message.HasField(fd.name):
                continue
            if fd.message_type is None and "e" in flags and "p" not in flags and not value:
                continue
            converted = convert(value)
            if "i" in flags:
                out.update(converted)
            elif converted is not _ABSENT:
                out[name] = converted
        return out


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, label: str, type_name: str,
           deps: set[str]) -> None:
    field = message.field.add(name=name, number=number,
                              label=_PROTO.LABEL_REPEATED if label == "r" else _PROTO.LABEL_OPTIONAL)
    if type_name in SCALAR_TYPES:
        field.type = SCALAR_TYPES[type_name]
        return
    field.type, field.type_name = _PROTO.TYPE_MESSAGE, "." + type_name
    deps.add(type_name.rpartition(".")[0])


def _text(value: str | bytes) -> str:
    """A proto2 string is not checked for UTF-8 (upb then hands back bytes); Go's JSON writes bad bytes as U+FFFD."""
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")


def _time(message: Any) -> Any:
    """meta/v1 Time: RFC 3339 in UTC to the second; the zero time (an empty message) is Go's null."""
    if not message.HasField("seconds") and not message.HasField("nanos"):
        return _ABSENT
    try:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=message.seconds)
    except OverflowError:
        raise ProtobufError("Time.MarshalJSON: year outside of range [0,9999]") from None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(message: Any) -> int | str:
    return str(message.strVal) if message.type == 1 else int(message.intVal)


def _raw_json(message: Any) -> Any:
    """FieldsV1 carries its JSON document as bytes; Go writes those bytes verbatim."""
    if not message.Raw:
        return _ABSENT
    try:
        return json.loads(message.Raw)
    except ValueError as exc:
        raise ProtobufError(f"FieldsV1 is not JSON: {exc}") from None


_SPECIAL: dict[str, Callable[[Any], Any]] = {
    META + "Time": _time,
    META + "FieldsV1": _raw_json,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda m: m.string or "0",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
}


@functools.cache
def _schema() -> _Schema:
    return _Schema()


def message_class(name: str) -> type[Message]:
    """The class of a kind's message by ``apiVersion/Kind`` (``"apps/v1/Deployment"``) or of any message by its full
    proto name (``UNKNOWN``, the envelope): what a client needs to encode a body, as the tests do."""
    schema = _schema()
    return schema.message_class(schema.kinds.get(name, name))


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object a Kubernetes protobuf body stands for, with ``apiVersion`` and ``kind`` from its envelope.

    Raises :class:`ProtobufError` for anything else: a missing magic, a truncated or malformed envelope or object,
    or a kind the simulator has no message for. Worded as apimachinery's protobuf serializer words them."""
    if not body:
        raise ProtobufError("empty data")
    if not body.startswith(MAGIC):
        raise ProtobufError(f"provided data does not appear to be a protobuf message, expected prefix "
                            f"[{' '.join(str(b) for b in MAGIC)}]")
    if len(body) == len(MAGIC):
        raise ProtobufError("empty body")
    schema = _schema()
    envelope: Any = schema.message_class(UNKNOWN)()
    try:
        envelope.ParseFromString(body[len(MAGIC):])
    except DecodeError as exc:
        raise ProtobufError(f"proto: runtime.Unknown: {exc}") from None
    api_version, kind = _text(envelope.typeMeta.apiVersion), _text(envelope.typeMeta.kind)
    gvk = (kind, api_version.rpartition("/")[2])
    if not kind:
        raise ProtobufError("Object 'Kind' is missing")
    # DeleteOptions is registered in every group version (metav1.AddToGroupVersion); the typed client sends its own.
    name = schema.kinds.get(f"{api_version}/{kind}") or schema.kinds.get(f"meta.k8s.io/v1/{kind}")
    if name is None:
        raise ProtobufError(f'no kind "{kind}" is registered for version "{api_version}" in scheme '
                            '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"', gvk)
    message = schema.message_class(name)()
    try:
        message.ParseFromString(envelope.raw)
        obj = schema.to_json(message)
    except DecodeError as exc:
        raise ProtobufError(f"proto: {kind}: {exc}", gvk) from None
    except ProtobufError as exc:
        raise ProtobufError(str(exc), gvk) from None
    return {"apiVersion": api_version, "kind": kind, **obj}


def request_object(body: bytes, into: str) -> dict[str, Any]:
    """A request body for an endpoint of kind ``into``; a 400 worded as the apiserver's transformDecodeError."""
    try:
        return decode(body)
    except ProtobufError as exc:
        if exc.gvk is not None:
            message = f'{exc.gvk[0]} in version "{exc.gvk[1]}" cannot be handled as a {into}: {exc}'
        else:
            message = f"the object provided is unrecognized (must be of type {into}): {exc} ({_summary(body)})"
        raise ApiError.bad_request(message) from None


def _summary(data: bytes, limit: int = 30) -> str:
    """apiserver's summarizeData: a decode error quotes the body's first bytes, in hex when it is not JSON."""
    if not data:
        return "<empty>"
    return data[:limit].hex() + (" ..." if len(data) > limit else "")
