"""Fetch the Binary resources that report attachments point to (DXA report text lives there).

DiagnosticReport.presentedForm[].url and DocumentReference.content[].attachment.url often reference
`Binary/<id>` on the same server instead of carrying the data inline; exports and searches do not include
those Binaries. They are read one by one (as FHIR JSON; a server that answers with the raw content gets it
wrapped into a Binary resource) into `Binary.attachments.ndjson`, only when the server's CapabilityStatement
offers Binary. Other-server and contained attachments are skipped and counted. An attachment larger than
MAX_ATTACHMENT_BYTES is skipped (the loader's record-size limit would quarantine it anyway).
"""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import httpx
import orjson

from screening.sources.errors import FhirServerError
from screening.sources.http import FhirSession, fhir_error
from screening.sources.landing import ExportLog, StateFile, iter_resources
from screening.sources.search import UnitWriter, supported_types

MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024  # the loader's default record-size limit (64 MiB)


class TooLarge(Exception):
    pass


def attachment_urls(res: dict):
    """Attachment URLs of a DiagnosticReport or DocumentReference."""
    rtype = res.get("resourceType")
    if rtype == "DiagnosticReport":
        forms = res.get("presentedForm")
        attachments = forms if isinstance(forms, list) else []
    elif rtype == "DocumentReference":
        content = res.get("content")
        attachments = [c.get("attachment") for c in content if isinstance(c, dict)] \
            if isinstance(content, list) else []
    else:
        return
    for a in attachments:
        if isinstance(a, dict) and isinstance(a.get("url"), str) and "data" not in a:
            yield a["url"]


def binary_id(url: str, base_url: str) -> str | None:
    """The id of a `Binary/<id>` reference on this server (relative, or absolute under the base URL)."""
    if url.startswith(("http://", "https://")):
        if not url.startswith(base_url + "/"):
            return None
        url = url[len(base_url) + 1:]
    parts = url.split("/")
    if len(parts) == 2 and parts[0] == "Binary" and parts[1] and "?" not in parts[1]:
        return parts[1]
    return None


def fetch_binaries(
    session: FhirSession,
    export_dir: Path,
    state: StateFile,
    log: ExportLog,
    capability: dict | None,
    *,
    cancel_event: threading.Event | None = None,
) -> int:
    """Fetch missing attachment Binaries; returns how many were fetched (kept in the state for resumes)."""
    from screening.sources.hydrate import data_files

    if state.doc.get("binaries") is not None:
        return int(state.doc["binaries"])
    files = data_files(export_dir)
    wanted: set[str] = set()
    present: set[str] = set()
    foreign = 0
    for f in files:
        ftype = f.name.split(".", 1)[0]
        if ftype in ("DiagnosticReport", "DocumentReference"):
            for res in iter_resources(f):
                for url in attachment_urls(res):
                    bid = binary_id(url, session.base_url)
                    if bid is None:
                        foreign += 1
                    else:
                        wanted.add(bid)
        elif ftype == "Binary":
            present.update(str(r.get("id")) for r in iter_resources(f))
    missing = sorted(wanted - present)
    offered = supported_types(capability)
    if missing and (offered is None or "Binary" not in offered):
        log.event("binaries_skipped", count=len(missing), reason="the server does not offer Binary")
        state.update(binaries=0)
        return 0
    writer = UnitWriter(export_dir, "attachments")
    got = not_found = too_large = refused = 0
    try:
        for bid in missing:
            if cancel_event is not None and cancel_event.is_set():
                raise KeyboardInterrupt
            try:
                res = _read_binary(session, bid)
            except TooLarge:
                too_large += 1
                continue
            except FhirServerError as exc:
                if exc.status in (404, 410):
                    not_found += 1
                    continue
                refused += 1
                log.event("binary_refused", status=exc.status)
                continue
            writer.write(res)
            got += 1
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    log.event("binaries", fetched=got, not_found=not_found, too_large=too_large, refused=refused,
              other_server=foreign)
    state.update(binaries=got)
    return got


def _read_binary(session: FhirSession, bid: str) -> dict:
    def handle(resp: httpx.Response) -> dict:
        if resp.status_code != 200:
            raise fhir_error(resp, "Binary read", resp.read()[:65536])
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                raise TooLarge()
            chunks.append(chunk)
        body = b"".join(chunks)
        ctype = resp.headers.get("content-type", "").split(";")[0].strip()
        if ctype in ("application/fhir+json", "application/json"):
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                doc = None
            if isinstance(doc, dict) and doc.get("resourceType") == "Binary":
                doc["id"] = str(doc.get("id") or bid)
                return doc
        return {"resourceType": "Binary", "id": bid, "contentType": ctype or "application/octet-stream",
                "data": base64.b64encode(body).decode("ascii")}

    return session.call("GET", f"Binary/{bid}", handle,
                        headers={"Accept": "application/fhir+json, application/json;q=0.9, */*;q=0.1"})
