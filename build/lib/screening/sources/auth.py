"""Authorisation for extraction: SMART Backend Services, a static bearer token, or none.

SMART Backend Services (client-credentials grant with a signed JWT assertion, RS384 or ES384):
- the token endpoint is discovered at `<fhir>/.well-known/smart-configuration`, falling back to the
  CapabilityStatement's `oauth-uris` extension (servers rarely advertise correctly, so the
  algorithms they list are not enforced; the key type decides RS384 vs ES384);
- the access token is re-requested shortly before it expires and once on a 401;
- the key is read once from a file, an environment variable or (flows) a Prefect Secret block and kept in a
  `Secret` wrapper whose repr is masked, so neither key nor token can reach a log line, an error message, a
  Prefect parameter or the export folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from screening.sources.errors import AuthError, FhirServerError
from screening.sources.http import TokenSource, redact_url

if TYPE_CHECKING:
    from screening.sources.http import FhirSession

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE = "system/*.read"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


class Secret:
    """A value that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes):
        self._value = value

    def get(self) -> str | bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # refuse pickling into Prefect results or caches
        raise TypeError("Secret values are not picklable")


def _read_secret_file(path: str | Path, what: str) -> bytes:
    p = Path(path).expanduser()
    try:
        return p.read_bytes()
    except OSError as exc:
        raise AuthError(f"cannot read {what} file {p}: {exc.strerror or type(exc).__name__}") from None


@dataclass(frozen=True, repr=False)
class AuthConfig:
    kind: Literal["none", "bearer", "smart"] = "none"
    client_id: str | None = None
    key_id: str | None = None
    scope: str = DEFAULT_SCOPE
    token_endpoint: str | None = None
    private_key: Secret | None = field(default=None, compare=False)
    bearer_token: Secret | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"AuthConfig(kind={self.kind!r}, client_id={self.client_id!r}, key_id={self.key_id!r})"

    @classmethod
    def none(cls) -> AuthConfig:
        return cls()

    @classmethod
    def from_options(
        cls,
        *,
        client_id: str | None = None,
        private_key_path: str | Path | None = None,
        key_id: str | None = None,
        token_file: str | Path | None = None,
        bearer_env: str | None = None,
        scope: str | None = None,
        private_key_env: str | None = None,
        private_key_pem: str | bytes | None = None,
        bearer_token: str | None = None,
        token_endpoint: str | None = None,
    ) -> AuthConfig:
        """Build from CLI-style inputs; file/env names are read here, the values are kept masked.

        SMART Backend Services: client_id + one of private_key_path / private_key_env / private_key_pem.
        Static bearer: token_file, bearer_env (name of an environment variable) or bearer_token.
        Nothing given: no authorisation.
        """
        key_sources = [x for x in (private_key_path, private_key_env, private_key_pem) if x]
        token_sources = [x for x in (token_file, bearer_env, bearer_token) if x]
        if len(key_sources) > 1 or len(token_sources) > 1:
            raise AuthError("give one private key source and at most one bearer-token source")
        if key_sources and token_sources:
            raise AuthError(
                "choose either SMART Backend Services (--client-id/--private-key) or a static "
                "bearer token (--token-file/--token-env), not both"
            )
        if token_sources:
            if token_file:
                value = _read_secret_file(token_file, "token").decode("utf-8", "replace").strip()
            elif bearer_env:
                value = (os.environ.get(bearer_env) or "").strip()
                if not value:
                    raise AuthError(f"environment variable {bearer_env} is empty or not set")
            else:
                value = str(bearer_token).strip()
            if not value or any(c.isspace() for c in value):
                raise AuthError("the bearer token is empty or contains whitespace")
            return cls(kind="bearer", bearer_token=Secret(value))
        if key_sources or client_id:
            if not client_id:
                raise AuthError("--private-key needs --client-id (SMART Backend Services)")
            if not key_sources:
                raise AuthError("--client-id needs --private-key (a PEM file) for SMART Backend Services")
            if private_key_path:
                pem = _read_secret_file(private_key_path, "private key")
            elif private_key_env:
                pem = (os.environ.get(private_key_env) or "").encode()
                if not pem.strip():
                    raise AuthError(f"environment variable {private_key_env} is empty or not set")
            else:
                pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
            _load_key(pem)  # fail early on a bad key, without echoing it
            return cls(
                kind="smart",
                client_id=client_id,
                key_id=key_id,
                scope=scope or DEFAULT_SCOPE,
                token_endpoint=token_endpoint,
                private_key=Secret(pem),
            )
        return cls()

    def describe(self) -> str:
        if self.kind == "smart":
            alg, _ = _load_key(self.private_key.get())
            return f"SMART Backend Services ({alg})"
        return {"bearer": "static bearer token", "none": "no authorisation"}[self.kind]

    def token_source(self, session: FhirSession) -> TokenSource | None:
        if self.kind == "bearer":
            return StaticBearer(self.bearer_token)
        if self.kind == "smart":
            return SmartBackendAuth(self, session)
        return None


def _load_key(pem: bytes):
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        reason = (
            "encrypted keys are not supported"
            if "password" in str(exc).lower()
            else "not a PEM private key"
        )
        raise AuthError(f"private key unusable: {reason}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS384", key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return "ES384", key
    raise AuthError("private key must be RSA (RS384) or EC P-384 (ES384)")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(public_key) -> str:
    """RFC 7638 thumbprint, used as `kid` when none was configured."""
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        members = {
            "e": _b64(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")),
            "kty": "RSA",
            "n": _b64(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
        }
    else:
        n = public_key.public_numbers()
        members = {
            "crv": "P-384",
            "kty": "EC",
            "x": _b64(n.x.to_bytes(48, "big")),
            "y": _b64(n.y.to_bytes(48, "big")),
        }
    canon = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64(hashlib.sha256(canon).digest())


class StaticBearer(TokenSource):
    can_refresh = False

    def __init__(self, token: Secret):
        self._token = token

    def token(self) -> str:
        return str(self._token.get())

    def invalidate(self, token: str) -> None:
        pass


class SmartBackendAuth(TokenSource):
    can_refresh = True

    def __init__(self, config: AuthConfig, session: FhirSession):
        self.config = config
        self.session = session
        self.alg, self._key = _load_key(config.private_key.get())
        self.kid = config.key_id or jwk_thumbprint(self._key.public_key())
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_at = 0.0
        self.token_endpoint = config.token_endpoint
        self.requests = 0  # how many tokens were issued to us (counts only)

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._refresh_at:
                self._request_token()
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _discover(self) -> str:
        try:
            doc, _ = self.session.get_json(
                ".well-known/smart-configuration",
                "SMART discovery",
                accept="application/json",
                token_policy="none",
            )
            endpoint = doc.get("token_endpoint")
            if isinstance(endpoint, str) and endpoint:
                return endpoint
        except FhirServerError:
            pass
        doc, _ = self.session.get_json("metadata", "CapabilityStatement", token_policy="none")
        for rest in doc.get("rest") or []:
            for ext in (rest.get("security") or {}).get("extension") or []:
                if ext.get("url") == OAUTH_URIS:
                    for sub in ext.get("extension") or []:
                        if sub.get("url") == "token" and sub.get("valueUri"):
                            return sub["valueUri"]
        raise AuthError(
            f"no token endpoint: {redact_url(self.session.url('.well-known/smart-configuration'))} "
            "and the CapabilityStatement do not name one"
        )

    def _request_token(self) -> None:
        if not self.token_endpoint:
            self.token_endpoint = self._discover()
        endpoint = self.session.resolve(self.token_endpoint)
        if not endpoint.startswith("https://") and self.session.verify_tls:
            host = endpoint.split("/")[2].rsplit(":", 1)[0] if "://" in endpoint else ""
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                raise AuthError(
                    f"token endpoint {redact_url(endpoint)} is not https (use --insecure to allow)"
                )
        now = int(time.time())
        claims = {
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": endpoint,
            "exp": now + 290,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        assertion = jwt.encode(
            claims, self._key, algorithm=self.alg, headers={"kid": self.kid, "typ": "JWT"}
        )
        form = {
            "grant_type": "client_credentials",
            "scope": self.config.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

        def handle(resp):
            body = resp.read()
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            if resp.status_code != 200 or not isinstance(doc, dict) or not doc.get("access_token"):
                error = doc.get("error", "") if isinstance(doc, dict) else ""
                desc = doc.get("error_description", "") if isinstance(doc, dict) else ""
                detail = (
                    " ".join(x for x in (str(error), str(desc)) if x)[:200] or "no access_token in reply"
                )
                raise AuthError(
                    f"token request refused: HTTP {resp.status_code} from {redact_url(endpoint)}: {detail}"
                )
            return doc

        doc = self.session.call(
            "POST", endpoint, handle, data=form, headers={"Accept": "application/json"}, token_policy="none"
        )
        try:
            lifetime = float(doc.get("expires_in") or 300)
        except (TypeError, ValueError):
            lifetime = 300.0
        issued = time.time()
        self._token = str(doc["access_token"])
        self._expires_at = issued + lifetime
        self._refresh_at = issued + lifetime - min(60.0, lifetime * 0.2)
        self.requests += 1
