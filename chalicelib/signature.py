"""Verifies JDCLOUD3-HMAC-SHA256 request signatures the way the JD Cloud SDK computes them."""
from __future__ import annotations

import calendar
import hashlib
import heapq
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote_plus

from chalicelib.errors import Unauthenticated

ALGORITHM = "JDCLOUD3-HMAC-SHA256"
SCOPE_TERMINATOR = "jdcloud3_request"
SERVICE = "mps"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"

DATE_HEADER = "x-jdcloud-date"
NONCE_HEADER = "x-jdcloud-nonce"
CONTENT_SHA256_HEADER = "x-jdcloud-content-sha256"

_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_DATE = re.compile(r"\d{8}T\d{6}Z")
# Methods whose replay changes state; see SignatureVerifier._remember.
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class SignedRequest:
    """One HTTP request as the server received it.

    path is the request path (raw or decoded, without the query); query holds the
    decoded values, a list where a name repeats; header names are lower-case.
    """

    method: str
    path: str
    query: Mapping[str, str | Sequence[str]]
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def from_chalice(cls, request: Any) -> SignedRequest:
        """Maps a chalice.app.Request (duck-typed, so this module stays Chalice-free)."""
        params = request.query_params
        query = {name: params.getlist(name) for name in params} if params else {}
        body = request.raw_body
        return cls(
            method=request.method,
            # The real path the client addressed (with the stage prefix behind API
            # Gateway), not request.path, which is the route template.
            path=request.context["path"],
            query=query,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body.encode("utf-8") if isinstance(body, str) else (body or b""),
        )


@dataclass(frozen=True)
class Authorization:
    """The parsed Authorization header."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"


class NonceStore(Protocol):
    """Remembers the nonces seen while their requests could still be accepted."""

    def remember(self, nonce: str, expires_at: float) -> bool:
        """Records nonce until expires_at; False if it is already recorded."""
        ...


class MemoryNonceStore:
    """A per-process NonceStore; expired entries are dropped as new ones arrive."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []  # a heap of (expires_at, nonce)
        self._lock = threading.Lock()

    def remember(self, nonce: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            self._prune(now)
            if nonce in self._expiry:
                return False
            self._expiry[nonce] = expires_at
            heapq.heappush(self._queue, (expires_at, nonce))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def _prune(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            _, nonce = heapq.heappop(self._queue)
            self._expiry.pop(nonce, None)


class SignatureVerifier:
    """Checks a request's JDCLOUD3-HMAC-SHA256 signature against known access keys."""

    def __init__(
        self,
        secrets: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        max_skew_seconds: int = 900,
        nonce_store: NonceStore | None = None,
        service: str = SERVICE,
    ) -> None:
        self._secrets = dict(secrets)
        self._service = service
        self._clock = clock
        self._max_skew = max_skew_seconds
        self._nonces = nonce_store if nonce_store is not None else MemoryNonceStore(clock)

    def verify(self, request: SignedRequest) -> str:
        """Returns the request's access key, or raises Unauthenticated."""
        auth = parse_authorization(request.headers.get("authorization"))
        secret = self._secrets.get(auth.access_key)
        if secret is None:
            raise Unauthenticated("the access key in the Authorization header is not known")
        if auth.service != self._service:
            raise Unauthenticated(f"the credential scope names service {auth.service!r}, expected {self._service!r}")

        date = _header(request, DATE_HEADER)
        signed_at = _parse_date(date)
        if abs(self._clock() - signed_at) > self._max_skew:
            raise Unauthenticated(
                f"{DATE_HEADER} {date} is more than {self._max_skew} seconds away from the server's clock"
            )
        if auth.date != date[:8]:
            raise Unauthenticated(f"the credential scope date {auth.date} does not match {DATE_HEADER}")
        nonce = _header(request, NONCE_HEADER)

        body_hash = hashlib.sha256(request.body).hexdigest()
        claimed = _header(request, CONTENT_SHA256_HEADER).lower().encode("utf-8")
        if not hmac.compare_digest(claimed, body_hash.encode("ascii")):
            raise Unauthenticated(f"the body does not match {CONTENT_SHA256_HEADER}")

        canonical = canonical_request(request, auth.signed_headers)
        to_sign = string_to_sign(date, auth.scope, canonical)
        expected = hmac.new(
            signing_key(secret, auth.date, auth.region, auth.service), to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, auth.signature):
            raise Unauthenticated("the request signature does not match; check the secret key and signing method")

        self._remember(request, auth, nonce, signed_at + self._max_skew)
        return auth.access_key

    def _remember(self, request: SignedRequest, auth: Authorization, nonce: str, expires_at: float) -> None:
        if not self._nonces.remember(f"{auth.access_key}:nonce:{nonce}", expires_at):
            raise Unauthenticated(f"{NONCE_HEADER} has already been used; each request needs a fresh nonce")
        # The SDK does not sign the nonce, so a captured request could be replayed with
        # a new one. For state-changing calls the signature is remembered as well;
        # GETs are left alone so that identical polls within one second still work.
        if NONCE_HEADER not in auth.signed_headers and request.method.upper() in _UNSAFE_METHODS:
            if not self._nonces.remember(f"{auth.access_key}:signature:{auth.signature}", expires_at):
                raise Unauthenticated("this signed request has already been received; it cannot be replayed")


def parse_authorization(value: str | None) -> Authorization:
    """Parses `JDCLOUD3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    if not value or not value.strip():
        raise Unauthenticated("the Authorization header is missing")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Unauthenticated(f"the Authorization header must use {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name in parts:
            raise Unauthenticated("the Authorization header is malformed")
        parts[name] = part
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise Unauthenticated("the Authorization header needs exactly Credential, SignedHeaders and Signature")

    credential = parts["Credential"].rsplit("/", 4)
    if len(credential) != 5 or not all(credential) or credential[4] != SCOPE_TERMINATOR:
        raise Unauthenticated(
            f"the Authorization Credential must be accessKey/yyyymmdd/region/service/{SCOPE_TERMINATOR}"
        )
    access_key, date, region, service, _ = credential
    if not re.fullmatch(r"\d{8}", date):
        raise Unauthenticated("the Authorization Credential date must be yyyymmdd")

    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in signed_headers):
        raise Unauthenticated("the Authorization SignedHeaders must be lower-case names separated by ';'")
    if "host" not in signed_headers:
        raise Unauthenticated("the Authorization SignedHeaders must include host")
    signature = parts["Signature"]
    if not _SIGNATURE.fullmatch(signature):
        raise Unauthenticated("the Authorization Signature must be 64 lower-case hex digits")
    return Authorization(access_key, date, region, service, signed_headers, signature)


def canonical_request(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    """The SDK's canonical request, rebuilt from what the server received."""
    lines = [request.method.upper(), canonical_uri(request.path), canonical_query(request.query)]
    for name in signed_headers:
        value = _canonical_host(request) if name == "host" else request.headers.get(name)
        if value is None:
            raise Unauthenticated(f"the signed header {name} is missing from the request")
        lines.append(f"{name}:{value.strip()}")
    lines += ["", ";".join(signed_headers), hashlib.sha256(request.body).hexdigest()]
    return "\n".join(lines)


def string_to_sign(date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("JDCLOUD3" + secret).encode("utf-8")
    for part in (date, region, service, SCOPE_TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def canonical_uri(path: str) -> str:
    """Decodes once, merges repeated slashes, and re-encodes all but `/` and `~`.

    Decoding is idempotent on the paths this API uses, so a raw or an already
    decoded path gives the same result.
    """
    decoded = re.sub("/+", "/", unquote_plus(path))
    encoded = quote(decoded, safe="/~")
    return encoded if encoded.startswith("/") else "/" + encoded


def canonical_query(query: Mapping[str, str | Sequence[str]]) -> str:
    """Encodes decoded names and values (all but unreserved characters) and sorts the pairs.

    The SDK decodes the raw query once before encoding; API Gateway and Chalice have
    already done that decoding, so the values are not decoded again here.
    """
    pairs = []
    for name, values in query.items():
        if not name:
            continue  # the SDK drops a parameter with an empty name
        for value in [values] if isinstance(values, str) else values:
            pairs.append((quote(name, safe="~"), quote(value, safe="~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def load_access_keys(raw: str | None) -> dict[str, str]:
    """Parses MPS_ACCESS_KEYS, a JSON object of access key to secret; unset means no checking."""
    if raw is None or not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        # The decoder's message gives the position only, never the text.
        raise ValueError(f"MPS_ACCESS_KEYS is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise ValueError("MPS_ACCESS_KEYS must be a JSON object of access key to secret key")
    if not parsed:
        raise ValueError("MPS_ACCESS_KEYS is an empty object; unset it to turn signature checking off")
    for access_key, secret in parsed.items():
        if not access_key.strip():
            raise ValueError("MPS_ACCESS_KEYS has an empty access key")
        if not isinstance(secret, str) or not secret:
            raise ValueError(f"MPS_ACCESS_KEYS: the secret of access key {access_key!r} must be a non-empty string")
    return parsed


def _header(request: SignedRequest, name: str) -> str:
    value = request.headers.get(name)
    if value is None or not value.strip():
        raise Unauthenticated(f"the {name} header is missing")
    return value.strip()


def _parse_date(value: str) -> float:
    if not _DATE.fullmatch(value):
        raise Unauthenticated(f"{DATE_HEADER} must be yyyymmddTHHMMSSZ in UTC")
    try:
        return float(calendar.timegm(time.strptime(value, DATE_FORMAT)))
    except ValueError:
        raise Unauthenticated(f"{DATE_HEADER} is not a valid date") from None


def _canonical_host(request: SignedRequest) -> str | None:
    # The SDK signs host:port but leaves out the ports 80 and 443.
    host = request.headers.get("host")
    if host is None:
        return None
    host = host.strip()
    for default in (":80", ":443"):
        if host.endswith(default):
            return host[: -len(default)]
    return host
