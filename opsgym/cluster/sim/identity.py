"""Who a bearer token is: the admin kubeconfig's user, or a ServiceAccount through a token the cluster signed.

ServiceAccount tokens are JWTs with the claims kube-apiserver puts in them (``sub``, ``kubernetes.io``…), issued by
the TokenRequest API (``kubectl create token``, the kubeconfig backend) or written into legacy
``kubernetes.io/service-account-token`` Secrets by the token controller. They are signed with a key that lives only
in this process (never in the store or a snapshot), so they cannot be forged from outside, while everything they
say comes from the virtual clock and the engine's seeded identities. A token stops working when its account is
deleted (or recreated: the uid differs), when it expires on the virtual clock, or when its Secret goes away.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim import rbac
from opsgym.cluster.sim.rbac import ADMIN, User
from opsgym.cluster.sim.store import revised

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine
    from opsgym.cluster.sim.store import Store

__all__ = ["Authority", "impersonate", "service_account_user"]

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def service_account_user(namespace: str, name: str, uid: str = "",
                         extra: dict[str, tuple[str, ...]] | None = None) -> User:
    """The user a ServiceAccount authenticates as, with the three groups every account has."""
    return User(f"system:serviceaccount:{namespace}:{name}",
                ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"), uid,
                extra or {})


class Authority:
    """Issues and verifies one cluster's ServiceAccount tokens (the caller holds the engine lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._key = secrets.token_bytes(32)
        self._kid = _b64(hashlib.sha256(self._key).digest()[:16])

    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "kid": self._kid}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(mac)}"

    def issue(self, account: dict[str, Any], audiences: list[str], seconds: int) -> tuple[str, float]:
        """A bound token for ``account`` valid ``seconds`` on the virtual clock; returns (token, expiry)."""
        meta, now = account["metadata"], int(self.engine.clock.now)
        claims = {"aud": audiences or [ISSUER], "exp": now + seconds, "iat": now, "iss": ISSUER,
                  "jti": self.engine.uid(), "nbf": now,
                  "kubernetes.io": {"namespace": meta["namespace"],
                                    "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}},
                  "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}
        return self._sign(claims), float(now + seconds)

    def _claims(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        mac = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), mac):
                return None
            claims = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            return None
        return claims if isinstance(claims, dict) else None

    def authenticate(self, token: str) -> User | None:
        """The ServiceAccount a valid token stands for, or None (the server answers 401)."""
        claims = self._claims(token)
        if claims is None:
            return None
        store = self.engine.store
        if claims.get("iss") == LEGACY_ISSUER:
            namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
            secret = store.get("secrets", namespace, claims.get("kubernetes.io/serviceaccount/secret.name", ""))
            stored = ((secret or {}).get("data") or {}).get("token", "")
            if secret is None or base64.b64decode(stored or "").decode(errors="replace") != token:
                return None
            name = claims.get("kubernetes.io/serviceaccount/service-account.name", "")
            uid = claims.get("kubernetes.io/serviceaccount/service-account.uid", "")
            extra: dict[str, tuple[str, ...]] | None = None
        else:
            bound = claims.get("kubernetes.io") or {}
            namespace, account = bound.get("namespace", ""), bound.get("serviceaccount") or {}
            name, uid = account.get("name", ""), account.get("uid", "")
            now = self.engine.clock.now
            if not claims.get("nbf", 0) <= now < claims.get("exp", 0):
                return None
            extra = {CREDENTIAL_ID: (f"JTI={claims.get('jti', '')}",)}
        found = store.get("serviceaccounts", namespace, name)
        if found is None or found["metadata"].get("uid") != uid:
            return None
        return service_account_user(namespace, name, uid, extra)

    def fill_legacy_tokens(self) -> None:
        """The token controller: a ``kubernetes.io/service-account-token`` Secret naming an existing account gets
        ``token`` and ``namespace`` data (and the account's uid annotation)."""
        store = self.engine.store
        for secret in store.items("secrets"):
            meta = secret["metadata"]
            account_name = (meta.get("annotations") or {}).get(SA_ANNOTATION)
            if secret.get("type") != TOKEN_TYPE or not account_name or (secret.get("data") or {}).get("token"):
                continue
            account = store.get("serviceaccounts", meta["namespace"], account_name)
            if account is None:
                continue
            uid = account["metadata"]["uid"]
            token = self._sign({
                "iss": LEGACY_ISSUER, "kubernetes.io/serviceaccount/namespace": meta["namespace"],
                "kubernetes.io/serviceaccount/secret.name": meta["name"],
                "kubernetes.io/serviceaccount/service-account.name": account_name,
                "kubernetes.io/serviceaccount/service-account.uid": uid,
                "sub": f"system:serviceaccount:{meta['namespace']}:{account_name}"})
            fresh = revised(secret, data={**(secret.get("data") or {}),
                                          "token": base64.b64encode(token.encode()).decode(),
                                          "namespace": base64.b64encode(meta["namespace"].encode()).decode()})
            fresh["metadata"]["annotations"] = {**meta.get("annotations", {}), UID_ANNOTATION: uid}
            store.put("secrets", fresh)


def impersonate(store: Store, user: User, name: str, groups: list[str]) -> User:
    """The identity ``kubectl --as NAME [--as-group G]`` asks for (``Impersonate-User``/``-Group`` headers).

    The admin may impersonate anyone; anyone else needs RBAC's ``impersonate`` verb on the user, each group, or the
    ServiceAccount, and is refused with the authorizer's 403 otherwise.

    Raises:
        ApiError: 403 when ``user`` may not impersonate the identity.
    """
    account = name.split(":") if name.startswith("system:serviceaccount:") else []
    if user is not ADMIN:
        wanted = [rbac.Attributes("impersonate", "", True, "", "serviceaccounts", namespace=account[2],
                                  name=account[3]) if len(account) == 4 else
                  rbac.Attributes("impersonate", "", True, "", "users", name=name)]
        wanted += [rbac.Attributes("impersonate", "", True, "", "groups", name=g) for g in groups]
        for attrs in wanted:
            allowed, reason = rbac.authorize(store, user, attrs)
            if not allowed:
                raise rbac.forbidden(user, attrs, reason)
    if len(account) == 4 and not groups:
        return service_account_user(account[2], account[3])
    extra = [] if name == "system:anonymous" or "system:authenticated" in groups else ["system:authenticated"]
    return User(name, (*groups, *extra))
