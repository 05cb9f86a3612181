"""API errors as the real Kubernetes API server reports them: an HTTP code plus a ``Status`` object.

kubectl and the Python client print ``Status.message`` and branch on ``reason``/``code``, so every failure the
simulator produces goes through :class:`ApiError` and leaves with the same shape a kube-apiserver would send.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "FieldError", "status_object"]


def status_object(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``meta/v1 Status``: ``Success`` for 2xx codes, ``Failure`` otherwise."""
    status: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success" if code < 300 else "Failure", "message": message, "reason": reason, "code": code,
    }
    if details is not None:
        status["details"] = details
    if code < 300:
        del status["message"], status["reason"]
    return status


class FieldError:
    """One invalid field, rendered the way apimachinery's ``field.Error`` prints."""

    TYPES = {"Invalid": "FieldValueInvalid", "Required": "FieldValueRequired", "NotFound": "FieldValueNotFound",
             "Duplicate": "FieldValueDuplicate", "Forbidden": "FieldValueForbidden",
             "Unsupported": "FieldValueNotSupported"}

    def __init__(self, field: str, kind: str, detail: str, value: Any = None, *, show_value: bool = True):
        self.field, self.kind, self.detail, self.value = field, kind, detail, value
        self.show_value = show_value and kind in ("Invalid", "Duplicate", "NotFound", "Unsupported")

    def __str__(self) -> str:
        label = {"Invalid": "Invalid value", "Required": "Required value", "NotFound": "Not found",
                 "Duplicate": "Duplicate value", "Forbidden": "Forbidden",
                 "Unsupported": "Unsupported value"}[self.kind]
        text = f"{self.field}: {label}"
        if self.show_value:
            text += f": {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def cause(self) -> dict[str, Any]:
        return {"reason": self.TYPES[self.kind], "message": str(self).split(": ", 1)[1], "field": self.field}


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class ApiError(Exception):
    """A failed request; ``status()`` is the body the server sends."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.reason, self.message, self.details)

    # ---- constructors named after apimachinery's errors.New* helpers
    @classmethod
    def not_found(cls, qualified: str, name: str, group: str = "") -> ApiError:
        details = {"name": name, "kind": qualified.split(".")[0]} | ({"group": group} if group else {})
        return cls(404, "NotFound", f'{qualified} "{name}" not found', details)

    @classmethod
    def already_exists(cls, qualified: str, name: str, group: str = "") -> ApiError:
        details = {"name": name, "kind": qualified.split(".")[0]} | ({"group": group} if group else {})
        return cls(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)

    @classmethod
    def conflict(cls, qualified: str, name: str, why: str) -> ApiError:
        return cls(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                   {"name": name, "kind": qualified.split(".")[0]})

    @classmethod
    def invalid(cls, kind_qualified: str, name: str, errors: list[FieldError]) -> ApiError:
        listing = ", ".join(str(e) for e in errors)
        message = f'{kind_qualified} "{name}" is invalid: ' + (f"[{listing}]" if len(errors) > 1 else listing)
        group = kind_qualified.split(".", 1)[1] if "." in kind_qualified else ""
        details = {"name": name, "kind": kind_qualified.split(".")[0], "causes": [e.cause() for e in errors]}
        if group:
            details["group"] = group
        return cls(422, "Invalid", message, details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def forbidden(cls, qualified: str, name: str, why: str) -> ApiError:
        return cls(403, "Forbidden", f'{qualified} "{name}" is forbidden: {why}',
                   {"name": name, "kind": qualified.split(".")[0]})

    @classmethod
    def method_not_allowed(cls) -> ApiError:
        return cls(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @classmethod
    def unsupported_media(cls, content_type: str, hint: str = "") -> ApiError:
        return cls(415, "UnsupportedMediaType",
                   f'the body of the request was in an unknown format - accepted media types include: '
                   f'application/json, application/yaml, application/json-patch+json, '
                   f'application/merge-patch+json, application/strategic-merge-patch+json, '
                   f'application/apply-patch+yaml (got "{content_type}"){hint}')

    @classmethod
    def path_not_found(cls) -> ApiError:
        return cls(404, "NotFound", "the server could not find the requested resource", {})
