"""The endpoints that answer questions about the caller instead of storing objects: SelfSubjectAccessReview
(``kubectl auth can-i``), SelfSubjectRulesReview (``can-i --list``), SelfSubjectReview (``kubectl auth whoami``)
and the TokenRequest subresource of ServiceAccounts (``kubectl create token``, the kubeconfig backend).

Each is a POST that returns the request with a ``status`` filled in (201), and nothing is stored, as on a real
API server. Authorization of the POST itself happened before routing (``system:basic-user`` lets every
authenticated user ask about itself; a token needs ``create`` on ``serviceaccounts/token``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim import rbac
from opsgym.cluster.sim.clock import rfc3339
from opsgym.cluster.sim.rbac import ADMIN, Attributes, User
from opsgym.cluster.sim.status import ApiError, FieldError

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["answer"]

Obj = dict[str, Any]
AUTHZ, AUTHN = "authorization.k8s.io", "authentication.k8s.io"
DEFAULT_TOKEN_S = 3600
MIN_TOKEN_S = 600


def _review(body: Any, kind: str, group: str) -> Obj:
    if not isinstance(body, dict):
        raise ApiError.bad_request(f"the body of the request must be a JSON object (got {type(body).__name__})")
    return {"kind": kind, "apiVersion": f"{group}/v1", "metadata": {"creationTimestamp": None},
            "spec": body.get("spec") if isinstance(body.get("spec"), dict) else {}}


def _access(engine: Engine, user: User, body: Any) -> Obj:
    review = _review(body, "SelfSubjectAccessReview", AUTHZ)
    spec = review["spec"]
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (res is None) == (non is None) or not isinstance(res or non, dict):
        raise ApiError.invalid(f"SelfSubjectAccessReview.{AUTHZ}", "", [FieldError(
            "spec.resourceAttributes", "Invalid", "exactly one of nonResourceAttributes or resourceAttributes must "
            "be specified", "nil", show_value=False)])
    if res is not None:
        attrs = Attributes(str(res.get("verb", "")), "", True, str(res.get("group", "")),
                           str(res.get("resource", "")), str(res.get("subresource", "")),
                           str(res.get("namespace", "")), str(res.get("name", "")))
    else:
        attrs = Attributes(str(non.get("verb", "")), str(non.get("path", "")))
    allowed, reason = rbac.authorize(engine.store, user, attrs)
    status: Obj = {"allowed": allowed or user is ADMIN}
    if reason:
        status["reason"] = reason
    review["status"] = status
    return review


def _rules(engine: Engine, user: User, body: Any) -> Obj:
    review = _review(body, "SelfSubjectRulesReview", AUTHZ)
    resource_rules, non_resource, errors = rbac.rules_for(engine.store, user, str(review["spec"].get("namespace", "")))
    status: Obj = {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": bool(errors)}
    if errors:
        status["evaluationError"] = ", ".join(errors)
    review["status"] = status
    return review


def _whoami(user: User) -> Obj:
    return {"kind": "SelfSubjectReview", "apiVersion": f"{AUTHN}/v1", "metadata": {"creationTimestamp": None},
            "status": {"userInfo": user.info()}}


def _token(engine: Engine, namespace: str, name: str, body: Any) -> Obj:
    account = engine.store.get("serviceaccounts", namespace, name)
    if account is None:
        raise ApiError.not_found("serviceaccounts", name)
    spec = dict((body or {}).get("spec") or {}) if isinstance(body, dict) else {}
    seconds = spec.get("expirationSeconds") or DEFAULT_TOKEN_S
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < MIN_TOKEN_S or seconds > 2**32:
        why = "may not specify a duration less than 10 minutes" if isinstance(seconds, int) and \
            seconds < MIN_TOKEN_S else "may not specify a duration larger than 2^32 seconds"
        raise ApiError.invalid(f"TokenRequest.{AUTHN}", name, [FieldError("spec.expirationSeconds", "Invalid", why,
                                                                          seconds)])
    audiences = [str(a) for a in spec.get("audiences") or []]
    token, expires = engine.policy.auth.issue(account, audiences, seconds)
    spec.update(audiences=audiences or ["https://kubernetes.default.svc.cluster.local"], expirationSeconds=seconds)
    spec.setdefault("boundObjectRef", None)
    return {"kind": "TokenRequest", "apiVersion": f"{AUTHN}/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None}, "spec": spec,
            "status": {"token": token, "expirationTimestamp": rfc3339(expires)}}


def answer(engine: Engine, method: str, segments: list[str], user: User | None, body: Callable[[], Any]) -> Obj | None:
    """The review a POST asks for (201 body; ``body`` reads the request), or None for any other request."""
    if method != "POST":
        return None
    user = user or ADMIN
    if segments[:4] == ["apis", AUTHZ, "v1", "selfsubjectaccessreviews"] and len(segments) == 4:
        return _access(engine, user, body())
    if segments[:4] == ["apis", AUTHZ, "v1", "selfsubjectrulesreviews"] and len(segments) == 4:
        return _rules(engine, user, body())
    if segments[:2] == ["apis", AUTHN] and len(segments) == 4 and segments[3] == "selfsubjectreviews" and \
            segments[2] in ("v1", "v1beta1"):
        review = _whoami(user)
        review["apiVersion"] = f"{AUTHN}/{segments[2]}"
        return review
    if len(segments) == 7 and segments[:3] == ["api", "v1", "namespaces"] and segments[4] == "serviceaccounts" and \
            segments[6] == "token":
        return _token(engine, segments[3], segments[5], body())
    return None
