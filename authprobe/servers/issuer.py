"""An OIDC/JWT issuer for one cluster: discovery, its JWKS, and the tokens scenarios present.

kube-apiserver, given this issuer's URL in an ``AuthenticationConfiguration`` jwt entry (or in
``--oidc-issuer-url``), fetches ``/.well-known/openid-configuration`` and the JWKS it names,
and verifies every bearer token against those keys itself. This module only serves those two
documents and mints tokens, signed by ``joserfc`` with keys that never leave the process.

Besides good tokens it mints the bad ones the refusal scenarios need, each bad in one named
way (:data:`FLAWS`): ``expired`` (``exp`` in the past), ``wrong-audience`` (an ``aud`` the
cluster does not accept), ``unknown-key`` (signed by a key the JWKS never holds). A claim that
breaks a validation rule is made by passing the claims. For the bad input "the JWKS does not
match", :meth:`Issuer.serve_mismatched_jwks` makes it serve a key that signs nothing.

Its request log (time, client, path, status) and its record of minted tokens (kid, flaw,
subject, audience, times: never the token) are evidence for the report.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from ..errors import AuthprobeError
from .https import HttpsService, Reply, Request, timestamp
from .pki import ServingCert

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
ALGORITHMS = ("ES256", "RS256")
# What an issuer signs with unless told otherwise.
DEFAULT_ALGORITHM = "ES256"
FLAWS = ("expired", "wrong-audience", "unknown-key")
# The audience a wrong-audience token carries; no profile accepts it.
WRONG_AUDIENCE = "authprobe-not-this-cluster"
DEFAULT_LIFETIME = 600


def _new_key(algorithm: str):
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", private=True, auto_kid=True)
    return RSAKey.generate_key(2048, private=True, auto_kid=True)


@dataclass(frozen=True)
class Minted:
    """What the log keeps of a minted token: enough to tell it in the report, not the token."""

    time: str
    kid: str
    flaw: str | None
    sub: str | None
    aud: str | list | None
    iat: int
    exp: int
    claim_names: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"time": self.time, "kid": self.kid, "flaw": self.flaw, "sub": self.sub,
                "aud": self.aud, "iat": self.iat, "exp": self.exp,
                "claim_names": list(self.claim_names)}


class Issuer(HttpsService):
    """The issuer of one cluster, served over HTTPS at :attr:`url` once started.

    ``path`` is appended to the URL (``https://host:port/path``); the discovery document is
    served under it, as OpenID discovery says. ``algorithm`` is ES256 or RS256.
    """

    name = "issuer"

    def __init__(self, serving: ServingCert, host: str, port: int = 0, *, path: str = "",
                 algorithm: str = DEFAULT_ALGORITHM) -> None:
        if algorithm not in ALGORITHMS:
            raise AuthprobeError(f"issuer algorithm {algorithm!r} is not one of "
                                 f"{', '.join(ALGORITHMS)}; pick one of them")
        super().__init__(serving, host, port)
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.algorithm = algorithm
        self._keys_lock = threading.Lock()
        self._signing = _new_key(algorithm)
        self._published = [self._signing]
        # Held here only: never published, so what it signs fails verification.
        self._unknown = _new_key(algorithm)
        self._decoy: object | None = None
        self._minted: list[Minted] = []

    # -- what it serves ------------------------------------------------------------------

    @property
    def issuer_url(self) -> str:
        """The ``iss`` of its tokens and the ``issuer`` of its discovery document."""
        return self.url + self.path

    @property
    def jwks_url(self) -> str:
        return self.issuer_url + JWKS_PATH

    def discovery(self) -> dict:
        """The OpenID discovery document (the fields kube-apiserver reads, and those the
        OpenID Connect Discovery spec makes required)."""
        return {
            "issuer": self.issuer_url,
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": [self.algorithm],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "aud", "exp", "iat", "nbf", "iss", "groups"],
        }

    def jwks(self) -> dict:
        """The public keys it serves: the keys it signs with, or the decoy when mismatched."""
        with self._keys_lock:
            keys = [self._decoy] if self._decoy is not None else list(self._published)
        return KeySet(keys).as_dict(private=False)

    def respond(self, request: Request) -> Reply:
        if request.method != "GET":
            return Reply(405, {"error": "only GET is served"})
        if request.path == self.path + DISCOVERY_PATH:
            return Reply(200, self.discovery(), {"served": "discovery"})
        if request.path == self.path + JWKS_PATH:
            document = self.jwks()
            return Reply(200, document,
                         {"served": "jwks", "kids": [key["kid"] for key in document["keys"]]})
        return Reply(404, {"error": "not found"})

    # -- keys ------------------------------------------------------------------------------

    @property
    def signing_kid(self) -> str:
        return self._signing.kid

    @property
    def unknown_kid(self) -> str:
        return self._unknown.kid

    def published_kids(self) -> list[str]:
        return [key["kid"] for key in self.jwks()["keys"]]

    def add_key(self) -> str:
        """Publish one more key (it signs nothing until rotated to); its kid."""
        key = _new_key(self.algorithm)
        with self._keys_lock:
            self._published.append(key)
        return key.kid

    def rotate_key(self, keep_old: bool = True) -> str:
        """Sign with a new published key from now on; the old key stays published unless
        ``keep_old`` is false (then tokens it signed stop verifying). The new kid."""
        key = _new_key(self.algorithm)
        with self._keys_lock:
            self._published = [*self._published, key] if keep_old else [key]
            self._signing = key
        return key.kid

    def serve_mismatched_jwks(self, mismatched: bool = True) -> None:
        """Serve a JWKS holding only a key that signs nothing (``True``), or the real keys
        again (``False``)."""
        with self._keys_lock:
            self._decoy = _new_key(self.algorithm) if mismatched else None

    # -- tokens ----------------------------------------------------------------------------

    def mint(self, sub: str, audience: str | list[str], *, groups: list[str] | None = None,
             claims: dict | None = None, lifetime: int = DEFAULT_LIFETIME,
             flaw: str | None = None) -> str:
        """A signed JWT for ``sub`` and ``audience``, with ``iss``, ``iat``, ``nbf`` and
        ``exp`` (``lifetime`` seconds from now), ``groups`` when given, and ``claims`` (which
        may override any of them). ``flaw`` makes it bad in the one way it names."""
        if flaw is not None and flaw not in FLAWS:
            raise AuthprobeError(f"token flaw {flaw!r} is not one of {', '.join(FLAWS)}; "
                                 "name one of them, or pass the breaking claim in claims")
        now = int(time.time())
        payload: dict = {"iss": self.issuer_url, "sub": sub, "aud": audience,
                         "iat": now, "nbf": now, "exp": now + lifetime}
        if groups is not None:
            payload["groups"] = list(groups)
        payload.update(claims or {})
        if flaw == "expired":
            payload.update(iat=now - 2 * lifetime, nbf=now - 2 * lifetime, exp=now - lifetime)
        elif flaw == "wrong-audience":
            payload["aud"] = WRONG_AUDIENCE
        with self._keys_lock:
            key = self._unknown if flaw == "unknown-key" else self._signing
        token = jwt.encode({"alg": self.algorithm, "kid": key.kid, "typ": "JWT"}, payload, key)
        record = Minted(timestamp(), key.kid, flaw, payload.get("sub"), payload.get("aud"),
                        payload["iat"], payload["exp"], tuple(sorted(payload)))
        with self._keys_lock:
            self._minted.append(record)
        return token

    def minted(self) -> list[dict]:
        """Every token minted so far, as records without the token."""
        with self._keys_lock:
            return [record.to_dict() for record in self._minted]
