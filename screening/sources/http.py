"""HTTP policy for extraction: retries, token placement, redirects, redaction, and FHIR error text.

Vendor knowledge that shaped this file:
- EHR servers answer 429, 502, 503 and 504 under load and sometimes drop connections mid-file; all of these
  are retried with exponential back-off (stamina), and a server's Retry-After wins over our own back-off.
- Access tokens live 5-60 minutes while exports run for hours; a 401 triggers one fresh token and one retry.
- File URLs may redirect to object storage (Cerner: 307 to S3); the Authorization header must not follow.
  Redirects are therefore followed here, hop by hop, and the token is attached per hop only when that hop's
  origin (scheme, host, port) is the FHIR server's.
- URLs in messages are redacted: query values except a few harmless search parameters, user info, and ids
  after a resource type (a patient id in `Patient/123` or `?patient=` is PHI).
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import orjson
import stamina
import stamina.instrumentation

from screening.sources.errors import AuthError, FhirServerError, ServerUnreachableError

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = "osteoscreen-extract/0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_QUERY_KEYS = frozenset(
    {
        "_type",
        "_count",
        "_since",
        "_lastUpdated",
        "category",
        "code",
        "_outputFormat",
        "_typeFilter",
        "_elements",
        "_sort",
        "_summary",
        "status",
        "_include",
        "_revinclude",
        "_format",
    }
)
NOT_ID_TYPES = frozenset({"Group", "metadata"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


# ------------------------------------------------------------------------------------------------------
# Redaction and parsing helpers
# ------------------------------------------------------------------------------------------------------


def redact_url(url: str | httpx.URL) -> str:
    """The URL for messages: no user info, query values masked unless harmless, ids after a type masked."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    segments = parts.path.split("/")
    for i in range(1, len(segments)):
        prev, seg = segments[i - 1], segments[i]
        if (
            prev[:1].isupper()
            and prev not in NOT_ID_TYPES
            and seg
            and not seg.startswith("$")
            and seg != "_history"
            and not prev.startswith("$")
        ):
            segments[i] = ":id"
    query = [
        (k, v if k in SAFE_QUERY_KEYS else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, host, "/".join(segments), urlencode(query, safe="|,:/?=*"), ""))


def origin(url: str | httpx.URL) -> tuple[str, str, int]:
    u = httpx.URL(str(url))
    port = u.port or (443 if u.scheme == "https" else 80)
    return (u.scheme.lower(), (u.host or "").lower(), port)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


_REFERENCE = re.compile(r"\b([A-Z][A-Za-z]{2,})/(?!\$|_history\b)([A-Za-z0-9\-.]{1,64})")


def operation_outcome_text(body: bytes, limit: int = 300) -> str:
    """'severity code: text; ...' from an OperationOutcome body, or a short note when the body is not one."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or doc.get("resourceType") != "OperationOutcome":
        return "no OperationOutcome in the response" if body else "empty response body"
    parts = []
    for issue in doc.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        parts.append(f"{issue.get('severity', '?')} {issue.get('code', '?')}: {text}".strip().rstrip(":"))
    out = "; ".join(parts) or "OperationOutcome without issues"
    out = _REFERENCE.sub(lambda m: f"{m.group(1)}/:id", " ".join(out.split()))  # servers echo Patient/123
    return out if len(out) <= limit else out[: limit - 3] + "..."


def outcome_codes(body: bytes) -> list[str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(doc, dict):
        return []
    return [str(i.get("code")) for i in doc.get("issue") or [] if isinstance(i, dict)]


def fhir_error(
    resp: httpx.Response, what: str, body: bytes | None = None, cls=FhirServerError
) -> Exception:
    if body is None:
        try:
            body = resp.read()[:65536]
        except httpx.HTTPError:
            body = b""
    if resp.status_code == 401:
        cls = AuthError
    msg = (
        f"{what}: HTTP {resp.status_code} {resp.reason_phrase} from {redact_url(resp.request.url)}: "
        f"{operation_outcome_text(body)}"
    )
    if cls is FhirServerError or issubclass(cls, FhirServerError):
        return cls(msg, status=resp.status_code)
    return cls(msg)


# ------------------------------------------------------------------------------------------------------
# Retry policy
# ------------------------------------------------------------------------------------------------------


class RetryableStatus(Exception):
    """A 429/5xx answer worth another try; carries the server's Retry-After (seconds) if it sent one."""

    def __init__(self, status: int, url: str, retry_after: float | None, detail: str = ""):
        super().__init__(f"HTTP {status} from {url}" + (f": {detail}" if detail else ""))
        self.status, self.url, self.retry_after, self.detail = status, url, retry_after, detail


class MalformedResponse(Exception):
    """A 200 whose body is not what FHIR promises (truncated JSON, not a Bundle): retried, then fatal."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    wait_initial: float = 1.0
    wait_max: float = 60.0
    wait_jitter: float = 1.0
    max_retry_after: float = 300.0  # a server asking for longer still gets polled after this many seconds
    timeout: float | None = None  # total time budget per request (None: attempts bound it)
    poll_initial: float = 1.0  # status polling without Retry-After: 1 s doubling to poll_max
    poll_max: float = 60.0
    poll_timeout: float = 48 * 3600.0


def _is_tls_failure(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}".lower()
    return "certificate_verify_failed" in text or "certificate verify failed" in text


def describe_retry_cause(exc: BaseException) -> str:
    """'HTTP 503 from <url>' / 'ConnectError on <url>' for a retry line: URL redacted (ids and query values
    that could identify a patient are masked), status kept."""
    if isinstance(exc, RetryableStatus):
        return f"HTTP {exc.status} from {exc.url}"
    if isinstance(exc, MalformedResponse):
        return str(exc)
    if isinstance(exc, httpx.TransportError):
        try:
            where = redact_url(exc.request.url)
        except RuntimeError:  # no request attached
            where = "the server"
        return f"{type(exc).__name__} on {where}"
    return type(exc).__name__


def _on_retry(details) -> None:
    """stamina's default hook logs a bare 'stamina.retry_scheduled'; say what is retried and why."""
    log.warning("retry %d in %.1f s: %s", details.retry_num, details.wait_for,
                describe_retry_cause(details.caused_by))


stamina.instrumentation.set_on_retry_hooks([_on_retry])


def make_retry_hook(policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, RetryableStatus):
            if exc.retry_after is not None:
                return min(exc.retry_after, policy.max_retry_after)
            return True
        if isinstance(exc, MalformedResponse):
            return True
        if isinstance(exc, httpx.TransportError):
            if isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError) or _is_tls_failure(exc):
                return False
            return True
        return False

    return hook


# ------------------------------------------------------------------------------------------------------
# Session
# ------------------------------------------------------------------------------------------------------


class TokenSource:
    """Interface of auth.py's token providers."""

    def token(self) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def invalidate(self, token: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    can_refresh: bool = False


class FhirSession:
    """One httpx client bound to a FHIR base URL, with the project's token, redirect and retry policy."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: TokenSource | None = None,
        verify_tls: bool = True,
        policy: RetryPolicy | None = None,
        max_connections: int = 8,
        timeout: float = 120.0,
    ):
        base_url = base_url.strip()
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FhirServerError(f"--fhir-url must be an http(s) URL, got {redact_url(base_url)!r}")
        if parts.query or parts.fragment:
            raise FhirServerError("--fhir-url must not carry a query string or fragment")
        self.base_url = base_url.rstrip("/")
        self.origin = origin(self.base_url)
        self.tokens = tokens
        self.verify_tls = verify_tls
        self.policy = policy or RetryPolicy()
        self._hook = make_retry_hook(self.policy)
        for noisy in ("httpx", "httpcore"):  # they log full URLs (patient ids) at INFO/DEBUG
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.client = httpx.Client(
            verify=verify_tls,
            follow_redirects=False,
            http2=False,
            timeout=httpx.Timeout(timeout, connect=20.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def resolve(self, ref: str) -> str:
        return urljoin(self.base_url + "/", ref)

    def same_origin(self, url: str | httpx.URL) -> bool:
        return origin(url) == self.origin

    # -- token placement -----

    def _token_for(self, url: httpx.URL, token_policy: str) -> str | None:
        """token_policy: 'api' (FHIR origin), 'file-required' (files when requiresAccessToken), 'none'."""
        if self.tokens is None or token_policy == "none" or not self.same_origin(url):
            return None
        if url.scheme != "https" and (url.host or "") not in _LOOPBACK and self.verify_tls:
            raise AuthError(
                f"refusing to send a bearer token over plain http to {redact_url(url)} "
                "(use https, or --insecure to allow it)"
            )
        return self.tokens.token()

    # -- one attempt -----

    @contextlib.contextmanager
    def open(
        self,
        method: str,
        url: str,
        *,
        params=None,
        headers: dict | None = None,
        data=None,
        token_policy: str = "api",
        max_redirects: int = 5,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
    ) -> Iterator[httpx.Response]:
        """One attempt (with one 401 re-authorisation and manual redirects); yields a streaming response.

        Raises RetryableStatus for 429/5xx and httpx.TransportError for dropped connections; the
        caller's retry loop decides. Other statuses are yielded for the caller to interpret.
        """
        target = httpx.URL(self.url(url), params=params) if params else httpx.URL(self.url(url))
        reauthorised = False
        hops = 0
        while True:
            token = self._token_for(target, token_policy)
            req_headers = dict(headers or {})
            if token:
                req_headers["Authorization"] = f"Bearer {token}"
            request = self.client.build_request(method, target, headers=req_headers, data=data)
            try:
                resp = self.client.send(request, stream=True)
            except httpx.TransportError:
                raise
            if resp.status_code == 401 and token and not reauthorised and self.tokens.can_refresh:
                resp.close()
                self.tokens.invalidate(token)
                reauthorised = True
                continue
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                resp.close()
                hops += 1
                if hops > max_redirects:
                    raise FhirServerError(f"too many redirects from {redact_url(url)}")
                target = target.join(resp.headers["location"])
                if target.scheme not in ("http", "https"):
                    raise FhirServerError(f"redirect to a non-http URL from {redact_url(url)}")
                if resp.status_code == 303:
                    method, data = "GET", None
                continue
            if resp.status_code in retry_statuses:
                try:
                    body = resp.read()[:65536]
                except httpx.HTTPError:
                    body = b""
                finally:
                    resp.close()
                raise RetryableStatus(
                    resp.status_code,
                    redact_url(target),
                    parse_retry_after(resp.headers.get("retry-after")),
                    operation_outcome_text(body),
                )
            try:
                yield resp
            finally:
                resp.close()
            return

    # -- with retries -----

    def call(self, method: str, url: str, handle: Callable[[httpx.Response], T], **kw) -> T:
        """Run one request with retries; `handle` consumes the streaming response inside the attempt."""
        p = self.policy
        try:
            for attempt in stamina.retry_context(
                on=self._hook,
                attempts=p.attempts,
                timeout=p.timeout,
                wait_initial=p.wait_initial,
                wait_max=p.wait_max,
                wait_jitter=p.wait_jitter,
            ):
                with attempt, self.open(method, url, **kw) as resp:
                    return handle(resp)
        except RetryableStatus as exc:
            raise FhirServerError(
                f"{method} gave up after {p.attempts} attempts: HTTP {exc.status} from "
                f"{exc.url}: {exc.detail}",
                status=exc.status,
            ) from None
        except MalformedResponse as exc:
            from screening.sources.errors import ExportFailedError

            raise ExportFailedError(f"{exc} (after {p.attempts} attempts)") from None
        except httpx.TransportError as exc:
            kind = "TLS certificate verification failed" if _is_tls_failure(exc) else type(exc).__name__
            raise ServerUnreachableError(
                f"{method} {redact_url(self.url(url))}: {kind}"
                f"{'' if _is_tls_failure(exc) else ' (after retries)'}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(
        self,
        url: str,
        what: str,
        *,
        params=None,
        accept: str = "application/fhir+json",
        ok: tuple[int, ...] = (200,),
        token_policy: str = "api",
    ) -> tuple[dict, httpx.Headers]:
        """GET a JSON document (retrying 429/5xx/drops/malformed JSON); other statuses raise."""

        def handle(resp: httpx.Response) -> tuple[dict, httpx.Headers]:
            body = resp.read()
            if resp.status_code not in ok:
                raise fhir_error(resp, what, body)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise MalformedResponse(
                    f"{what}: malformed JSON from {redact_url(resp.request.url)}"
                ) from None
            if not isinstance(doc, dict):
                raise MalformedResponse(
                    f"{what}: JSON from {redact_url(resp.request.url)} is not an object"
                )
            return doc, resp.headers

        return self.call(
            "GET", url, handle, params=params, headers={"Accept": accept}, token_policy=token_policy
        )


def server_time(headers: httpx.Headers) -> str:
    """The server's clock from a Date header (floored to the second, so never ahead), else our own clock."""
    value = headers.get("date")
    when = None
    if value:
        with contextlib.suppress(TypeError, ValueError):
            when = email.utils.parsedate_to_datetime(value)
    if when is None:
        when = datetime.now(UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
