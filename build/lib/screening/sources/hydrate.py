"""Fetch resources that exports and searches leave out but screening needs.

- Medication referenced by MedicationRequest/Statement/Administration/Dispense.medicationReference: not
  patient-linked, so Epic and Cerner do not export them.
- Observation referenced by DiagnosticReport.result (and Observation.hasMember): vendors often omit these
  from Observation searches and exports (DXA panels are typically reported this way).

Missing ids are fetched with `Type?_id=a,b,c` in batches, falling back to reads `Type/<id>` when the server
refuses the batch search. Contained (`#id`) and foreign-server references are skipped and counted.
"""

from __future__ import annotations

import threading
from pathlib import Path

from screening.sources.errors import ExtractError, FhirServerError
from screening.sources.http import FhirSession
from screening.sources.landing import ExportLog, StateFile, iter_resources
from screening.sources.search import UnitWriter

REFERENCES = {
    "MedicationRequest": [("medicationReference",)],
    "MedicationStatement": [("medicationReference",)],
    "MedicationAdministration": [("medicationReference",)],
    "MedicationDispense": [("medicationReference",)],
    "DiagnosticReport": [("result", "*")],
    "Observation": [("hasMember", "*")],
}
TARGETS = {"Medication", "Observation"}
BATCH = 50
ROUNDS = 3


def data_files(export_dir: Path) -> list[Path]:
    out = []
    for p in sorted(export_dir.rglob("*")):
        rel = p.relative_to(export_dir).parts
        if not p.is_file() or rel[0] in ("errors", "deleted") or any(x.startswith(".") for x in rel):
            continue
        if p.name.endswith((".ndjson", ".ndjson.gz")) and p.name != "log.ndjson":
            out.append(p)
    return out


def _file_type(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _refs(res: dict):
    for spec in REFERENCES.get(res.get("resourceType"), []):
        node = res.get(spec[0])
        items = node if isinstance(node, list) else [node]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("reference"), str):
                yield item["reference"]


def _split_ref(ref: str, base_url: str) -> tuple[str, str] | None:
    if ref.startswith("#") or ref.startswith("urn:"):
        return None
    if ref.startswith(("http://", "https://")):
        if not ref.startswith(base_url + "/"):
            return None
        ref = ref[len(base_url) + 1 :]
    parts = ref.split("/")
    if len(parts) >= 2 and parts[0] in TARGETS and parts[1]:
        return parts[0], parts[1]
    return None


def hydrate(
    session: FhirSession,
    export_dir: Path,
    state: StateFile,
    log: ExportLog,
    *,
    fatal: bool,
    cancel_event: threading.Event | None = None,
) -> int:
    """Fetch missing referenced resources into `<Type>.hydrated-<round>.ndjson`; returns the count."""
    if state.doc.get("hydrated") is not None:
        return int(state.doc["hydrated"])
    total = 0
    skipped = 0
    refused: set[str] = set()
    for rnd in range(ROUNDS):
        files = data_files(export_dir)
        wanted: dict[str, set[str]] = {t: set() for t in TARGETS}
        for f in files:
            if _file_type(f) in REFERENCES:
                for res in iter_resources(f):
                    for ref in _refs(res):
                        split = _split_ref(ref, session.base_url)
                        if split is None:
                            skipped += rnd == 0
                        else:
                            wanted[split[0]].add(split[1])
        present: dict[str, set[str]] = {t: set() for t in TARGETS}
        for f in files:
            t = _file_type(f)
            if t in TARGETS and wanted[t]:
                present[t].update(str(r.get("id")) for r in iter_resources(f))
        missing = {
            t: sorted(wanted[t] - present[t])
            for t in TARGETS
            if wanted[t] - present[t] and t not in refused
        }
        if not missing:
            break
        writer = UnitWriter(export_dir, f"hydrated-{rnd}")
        fetched = 0
        not_found = 0
        try:
            for rtype, ids in missing.items():
                try:
                    got, nf = _fetch(session, rtype, ids, writer, cancel_event)
                except FhirServerError as exc:
                    if fatal:
                        raise
                    refused.add(rtype)
                    log.event("hydrate_unavailable", type=rtype, status=exc.status, missing=len(ids))
                    continue
                fetched += got
                not_found += nf
            writer.commit()
        except BaseException:
            writer.discard()
            raise
        log.event("hydrated", round=rnd, fetched=fetched, not_found=not_found)
        total += fetched
        if fetched == 0:
            break
    if skipped:
        log.event(
            "hydrate_skipped_references", count=skipped, reason="contained or other-server references"
        )
    state.update(hydrated=total)
    return total


def _fetch(
    session: FhirSession,
    rtype: str,
    ids: list[str],
    writer: UnitWriter,
    cancel_event: threading.Event | None,
) -> tuple[int, int]:
    got = 0
    remaining = set(ids)
    batch_ok = True
    for i in range(0, len(ids), BATCH):
        if cancel_event is not None and cancel_event.is_set():
            raise ExtractError("cancelled")
        chunk = ids[i : i + BATCH]
        if batch_ok:
            try:
                doc, _ = session.get_json(
                    rtype, "hydration search", params={"_id": ",".join(chunk), "_count": str(len(chunk))}
                )
                for e in doc.get("entry") or []:
                    res = (e or {}).get("resource") or {}
                    if res.get("resourceType") == rtype and res.get("id") in remaining:
                        remaining.discard(res["id"])
                        writer.write(res)
                        got += 1
                continue
            except FhirServerError as exc:
                if exc.status is None or exc.status >= 500 or exc.status == 401:
                    raise
                batch_ok = False
        for rid in chunk:
            try:
                res, _ = session.get_json(f"{rtype}/{rid}", "hydration read")
            except FhirServerError as exc:
                if exc.status in (404, 410):
                    continue
                raise
            if res.get("resourceType") == rtype:
                remaining.discard(rid)
                writer.write(res)
                got += 1
    return got, len(remaining)
