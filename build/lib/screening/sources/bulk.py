"""FHIR Bulk Data Access ($export): kick-off, status polling, file download, cancel.

Follows the Bulk Data IG (STU2): kick-off with `Prefer: respond-async` answers 202 + Content-Location; the
status URL answers 202 (X-Progress, Retry-After) until 200 with the manifest, or 4xx/5xx with an
OperationOutcome when the job failed; DELETE on the status URL cancels the job (or tells the server the
client is done). `requiresAccessToken` decides whether file downloads carry the token, and even then only to
the FHIR server's own origin.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from screening.sources.errors import (
    BulkNotSupportedError,
    ExportFailedError,
    ExtractError,
    FhirServerError,
)
from screening.sources.http import (
    FhirSession,
    MalformedResponse,
    RetryableStatus,
    fhir_error,
    operation_outcome_text,
    outcome_codes,
    parse_retry_after,
    redact_url,
)
from screening.sources.landing import safe_type, within

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


class Cancelled(Exception):
    """Raised inside download workers when the user aborted."""


class Inflight:
    """The file downloads streaming right now, so that a cancel (Ctrl-C) can break them off at once.

    A worker blocked reading a slow or stalled file would otherwise only notice the cancel with its next chunk
    (or after the read timeout), and the interrupted run would wait for it before DELETEing the export.
    `abort()` shuts the sockets down (closing one from another thread does not wake a blocked read).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[httpx.Response] = set()
        self.aborted = False

    @contextlib.contextmanager
    def track(self, resp: httpx.Response):
        with self._lock:
            if self.aborted:
                raise Cancelled()
            self._open.add(resp)
        try:
            yield
        finally:
            with self._lock:
                self._open.discard(resp)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            responses = list(self._open)
        for resp in responses:
            stream = resp.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the raw socket, also under TLS


def kickoff_path(level: str, group_id: str | None) -> str:
    if level == "system":
        return "$export"
    if level == "patient":
        return "Patient/$export"
    if level == "group":
        if not group_id:
            raise ExtractError("--level group needs --group ID")
        return f"Group/{group_id}/$export"
    raise ExtractError(f"unknown level {level!r} (system, patient or group)")


def kickoff(
    session: FhirSession,
    *,
    level: str,
    group_id: str | None,
    types: list[str] | None,
    since: str | None,
    type_filters: list[str] | None,
) -> str:
    """Start an export; returns the absolute status URL."""
    params: list[tuple[str, str]] = [("_outputFormat", NDJSON)]
    if types:
        params.append(("_type", ",".join(types)))
    if since:
        params.append(("_since", since))
    for f in type_filters or []:
        params.append(("_typeFilter", f))
    path = kickoff_path(level, group_id)

    def handle(resp: httpx.Response) -> str:
        body = resp.read()
        if resp.status_code == 202:
            loc = resp.headers.get("content-location")
            if not loc:
                raise ExportFailedError(
                    f"$export kick-off: HTTP 202 without Content-Location from "
                    f"{redact_url(resp.request.url)}"
                )
            return session.resolve(loc)
        if resp.status_code in (404, 405, 501):
            raise fhir_error(resp, "$export kick-off", body, cls=BulkNotSupportedError)
        raise fhir_error(resp, "$export kick-off", body)

    return session.call(
        "GET", path, handle, params=params, headers={"Accept": FHIR_JSON, "Prefer": "respond-async"}
    )


class StatusGone(Exception):
    """The status URL answered 404/410: the job expired or was deleted (resume starts a new export)."""


@dataclass
class Poll:
    manifest: dict | None = None
    progress: str | None = None
    wait: float | None = None


def poll_once(session: FhirSession, status_url: str) -> Poll:
    def handle(resp: httpx.Response) -> Poll:
        body = resp.read()
        if resp.status_code == 202:
            return Poll(
                progress=(resp.headers.get("x-progress") or "")[:100] or None,
                wait=parse_retry_after(resp.headers.get("retry-after")),
            )
        if resp.status_code == 200:
            try:
                import orjson

                doc = orjson.loads(body)
            except ValueError:
                raise MalformedResponse(
                    f"export status: malformed manifest JSON from {redact_url(status_url)}"
                ) from None
            if (
                not isinstance(doc, dict)
                or not isinstance(doc.get("output"), list)
                or not doc.get("transactionTime")
            ):
                raise ExportFailedError(
                    f"export status: the manifest from {redact_url(status_url)} lacks "
                    "transactionTime or output"
                )
            return Poll(manifest=doc)
        if resp.status_code in (404, 410):
            raise StatusGone()
        if resp.status_code == 500 and "transient" in outcome_codes(body):
            raise RetryableStatus(
                500,
                redact_url(status_url),
                parse_retry_after(resp.headers.get("retry-after")),
                operation_outcome_text(body),
            )
        raise fhir_error(resp, "export failed", body, cls=ExportFailedError)

    return session.call(
        "GET",
        status_url,
        handle,
        headers={"Accept": "application/json"},
        retry_statuses=frozenset({429, 502, 503, 504}),
    )


def poll_until_done(
    session: FhirSession, status_url: str, on_progress: Callable[[str | None, int], None]
) -> dict:
    """Poll until the manifest arrives, honouring Retry-After (else 1 s doubling to poll_max)."""
    policy = session.policy
    backoff = policy.poll_initial
    deadline = time.monotonic() + policy.poll_timeout
    polls = 0
    while True:
        result = poll_once(session, status_url)
        polls += 1
        if result.manifest is not None:
            return result.manifest
        on_progress(result.progress, polls)
        if time.monotonic() > deadline:
            raise ExportFailedError(
                f"export still running after {policy.poll_timeout:.0f} s; resume later with "
                "the same command"
            )
        if result.wait is not None:
            wait = min(result.wait, policy.max_retry_after)
        else:
            wait, backoff = backoff, min(backoff * 2, policy.poll_max)
        time.sleep(wait)


def cancel(session: FhirSession, status_url: str) -> int | None:
    """DELETE the status URL (best effort, one try, short timeout); returns the HTTP status or None."""
    try:
        with session.open(
            "DELETE", status_url, headers={"Accept": FHIR_JSON}, retry_statuses=frozenset()
        ) as r:
            return r.status_code
    except (httpx.HTTPError, ExtractError):
        return None


# ------------------------------------------------------------------------------------------------------
# Manifest -> local file plan
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    kind: str  # "output", "error" or "deleted"
    type: str  # resource type as the manifest says (sanitized)
    url: str
    relpath: str  # where it lands, relative to the export folder
    key: str  # stable key for the resume state (a hash, so no URL secret lands in the state)


def plan_outputs(manifest: dict) -> list[Output]:
    import hashlib

    plans: list[Output] = []
    counters: dict[tuple[str, str], int] = {}
    for kind, folder in (("output", ""), ("deleted", "deleted/"), ("error", "errors/")):
        for entry in manifest.get(kind) or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                raise ExportFailedError(f"manifest {kind} entry without a url")
            url = entry["url"]
            if urlsplit(url).scheme not in ("http", "https"):
                raise ExportFailedError(f"manifest {kind} url is not http(s): {redact_url(url)}")
            rtype = safe_type(
                str(entry.get("type") or ("OperationOutcome" if kind == "error" else "Bundle"))
            )
            n = counters.get((kind, rtype), 0)
            counters[(kind, rtype)] = n + 1
            relpath = f"{folder}{rtype}.{n:03d}.ndjson"
            key = hashlib.sha256(f"{kind}\n{url}".encode()).hexdigest()[:24]
            plans.append(Output(kind, rtype, url, relpath, key))
    return plans


def redacted_manifest(manifest: dict, plans: list[Output]) -> dict:
    """The manifest as stored in the export folder: file URLs redacted, each entry naming its local file."""
    local = {(p.kind, p.url): p.relpath for p in plans}
    doc = {k: v for k, v in manifest.items() if k not in ("output", "error", "deleted", "request")}
    if "request" in manifest:
        doc["request"] = redact_url(str(manifest["request"]))
    for kind in ("output", "deleted", "error"):
        entries = []
        for e in manifest.get(kind) or []:
            if isinstance(e, dict):
                item = {k: v for k, v in e.items() if k != "url"}
                item["url"] = redact_url(str(e.get("url", "")))
                item["localFile"] = local.get((kind, e.get("url")))
                entries.append(item)
        doc[kind] = entries
    return doc


# ------------------------------------------------------------------------------------------------------
# Download
# ------------------------------------------------------------------------------------------------------


@dataclass
class Downloaded:
    relpath: str
    lines: int
    bytes: int


def download(
    session: FhirSession,
    out: Output,
    export_dir: Path,
    *,
    requires_token: bool,
    cancel_event: threading.Event | None = None,
    on_bytes: Callable[[int], None] | None = None,
    inflight: Inflight | None = None,
) -> Downloaded:
    """Stream one file to a temp name and rename it when complete; a dropped connection restarts the file.

    After `cancel_event` is set (and `inflight.abort()` broke the connection) the temp file is removed and
    Cancelled raised, never retried.
    """
    dest = within(export_dir, export_dir / out.relpath)
    dest.parent.mkdir(mode=0o700, exist_ok=True)
    policy = "file-required" if requires_token else "none"

    def cancelled() -> bool:
        return cancel_event is not None and cancel_event.is_set()

    def handle(resp: httpx.Response) -> Downloaded:
        if cancelled():
            raise Cancelled()
        with inflight.track(resp) if inflight is not None else contextlib.nullcontext():
            try:
                return receive(resp)
            except Cancelled:
                raise
            except Exception:
                if cancelled():  # the connection was shut down by the cancel: no retry
                    raise Cancelled() from None
                raise

    def receive(resp: httpx.Response) -> Downloaded:
        if resp.status_code != 200:
            raise fhir_error(resp, f"download of {out.relpath}")
        lines = nbytes = 0
        tail = b""
        gz = None
        target = dest
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                for chunk in resp.iter_bytes(1 << 20):
                    if cancelled():
                        raise Cancelled()
                    if (
                        nbytes == 0 and chunk[:2] == b"\x1f\x8b"
                    ):  # the file itself is gzip (no Content-Encoding)
                        gz = zlib.decompressobj(wbits=31)
                        target = dest.with_name(dest.name + ".gz")
                    fh.write(chunk)
                    nbytes += len(chunk)
                    lines, tail = _count(tail + (gz.decompress(chunk) if gz is not None else chunk), lines)
                    if on_bytes:
                        on_bytes(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
            if cancelled():  # never rename into place after a cancel
                raise Cancelled()
            if tail.strip():
                lines += 1
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return Downloaded(str(target.relative_to(export_dir)), lines, nbytes)

    try:
        return session.call("GET", out.url, handle, headers={"Accept": NDJSON}, token_policy=policy)
    except FhirServerError as exc:
        if exc.status == 401 and not requires_token:
            raise FhirServerError(
                f"{exc} (the manifest said requiresAccessToken=false)", status=401
            ) from None
        raise


def _count(data: bytes, lines: int) -> tuple[int, bytes]:
    parts = data.split(b"\n")
    tail = parts.pop()
    lines += sum(1 for p in parts if p.strip())
    return lines, tail
