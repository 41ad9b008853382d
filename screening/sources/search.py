"""REST search crawl for servers without Bulk export.

Two shapes, chosen by `level`:
- system: one search per type (or per `_typeFilter` query for that type), Bundle `next` paging with `_count`;
- patient / group: a per-patient crawl (`Type?patient=<id>`) for servers that only allow patient-scoped
  searches. Patients come from a Patient search (patient) or the Group's members (group); they are cut into
  chunks, and each (chunk, type) is one unit of work that lands in its own files.

A unit's files are written under temp names and renamed when the unit finishes; the state file then records
the unit, so a resumed crawl skips finished units and redoes only the unfinished ones.

Vendor knowledge: Epic answers an Observation search without `category` with HTTP 400, so a 400 on such a
search switches to one search per standard category; Epic has no R4 MedicationStatement, so a server whose
CapabilityStatement lacks it is crawled for MedicationRequest instead. Medications (not patient-linked) and
Observations referenced from DiagnosticReport.result are fetched afterwards by hydrate.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import orjson

from screening.sources.errors import ExportFailedError, ExtractError, FhirServerError
from screening.sources.http import FhirSession, MalformedResponse, fhir_error, redact_url
from screening.sources.landing import ExportLog, StateFile, read_json, safe_type, write_json

# The nine standard Observation categories (US Core / FHIR observation-category)
OBSERVATION_CATEGORIES = (
    "laboratory",
    "vital-signs",
    "imaging",
    "procedure",
    "exam",
    "survey",
    "social-history",
    "therapy",
    "activity",
)
NON_COMPARTMENT = frozenset({"Practitioner", "Organization", "PractitionerRole", "Binary"})
PATIENT_CHUNK = 50
log = logging.getLogger(__name__)
PATIENTS_FILE = ".patients.json"


class Cancelled(Exception):
    pass


def parse_type_filter(text: str) -> tuple[str, list[tuple[str, str]]]:
    """'Observation?category=laboratory&code=http://loinc.org|1' -> ('Observation', [(k, v), ...])."""
    rtype, sep, query = text.partition("?")
    if not sep or safe_type(rtype) != rtype or not query:
        raise ExtractError(f"--type-filter must look like Type?param=value, got {text!r}")
    return rtype, parse_qsl(query, keep_blank_values=False)


def supported_types(capability: dict | None) -> set[str] | None:
    if not capability:
        return None
    found = {
        r.get("type")
        for rest in capability.get("rest") or []
        for r in rest.get("resource") or []
        if isinstance(r, dict)
    }
    found.discard(None)
    return found or None


@dataclass
class Unit:
    key: str
    types: list[str]
    patients: list[str] | None = None  # None: type-wide search
    queries: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)
    read_patients: bool = False  # group crawl: read Patient/<id> for each member
    suffix: str = ""  # file name part: <Type>.<suffix>.ndjson (default: the key)


class UnitWriter:
    """Per-type temp files for one unit; commit() renames them to their final names."""

    def __init__(self, export_dir: Path, suffix: str, error_suffix: str | None = None):
        self.export_dir, self.suffix = export_dir, suffix
        self.error_suffix = error_suffix or suffix
        self.files: dict[str, tuple[int, str, object]] = {}
        self.counts: dict[str, int] = {}

    def _final(self, rtype: str) -> Path:
        if rtype == "OperationOutcome":
            (self.export_dir / "errors").mkdir(mode=0o700, exist_ok=True)
            return self.export_dir / "errors" / f"OperationOutcome.{self.error_suffix}.ndjson"
        return self.export_dir / f"{safe_type(rtype)}.{self.suffix}.ndjson"

    def write(self, resource: dict) -> None:
        rtype = safe_type(str(resource.get("resourceType") or "Unknown"))
        if rtype not in self.files:
            final = self._final(rtype)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
            os.fchmod(fd, 0o600)
            self.files[rtype] = (fd, tmp, os.fdopen(fd, "wb"))
            self.counts[rtype] = 0
        self.files[rtype][2].write(orjson.dumps(resource) + b"\n")
        self.counts[rtype] += 1

    def commit(self) -> dict[str, dict]:
        out = {}
        for rtype, (_fd, tmp, fh) in self.files.items():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            final = self._final(rtype)
            os.replace(tmp, final)
            out[rtype] = {"file": str(final.relative_to(self.export_dir)), "lines": self.counts[rtype]}
        self.files.clear()
        return out

    def discard(self) -> None:
        for _fd, tmp, fh in self.files.values():
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self.files.clear()


class Crawler:
    def __init__(
        self,
        session: FhirSession,
        export_dir: Path,
        state: StateFile,
        log: ExportLog,
        *,
        level: str,
        group_id: str | None,
        types: list[str],
        since: str | None,
        type_filters: list[str] | None,
        capability: dict | None,
        page_size: int = 200,
        cancel_event: threading.Event | None = None,
        strict: bool = False,
    ):
        self.strict = strict
        self.incomplete = 0  # searches whose paging stopped before Bundle.total
        self.session, self.export_dir, self.state, self.log = session, export_dir, state, log
        self.level, self.group_id, self.since = level, group_id, since
        self.page_size = page_size
        self.cancel_event = cancel_event or threading.Event()
        self.filters: dict[str, list[list[tuple[str, str]]]] = {}
        for f in type_filters or []:
            rtype, q = parse_type_filter(f)
            self.filters.setdefault(rtype, []).append(q)
        self.types = self._effective_types(types, capability)
        self.obs_needs_category = bool(state.doc.get("obs_needs_category"))
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.requests = 0

    # -- planning -----

    def _effective_types(self, types: list[str], capability: dict | None) -> list[str]:
        wanted = [t for t in types if t != "Medication"]  # Medications are hydrated from references
        if self.level != "system":  # a per-patient crawl cannot ask for types outside the Patient compartment
            wanted = [t for t in wanted if t not in NON_COMPARTMENT]
        supported = supported_types(capability)
        if supported is None:
            return wanted
        out = []
        for t in wanted:
            if t in supported:
                out.append(t)
            elif t == "MedicationStatement":
                self.log.event(
                    "fallback",
                    reason="CapabilityStatement lacks MedicationStatement",
                    using="MedicationRequest",
                )
                if "MedicationRequest" in supported and "MedicationRequest" not in wanted:
                    out.append("MedicationRequest")
            else:
                self.log.event("type_skipped", type=t, reason="not in the CapabilityStatement")
        return list(dict.fromkeys(out))

    def _queries(self, rtype: str) -> list[list[tuple[str, str]]]:
        queries = self.filters.get(rtype) or [[]]
        if rtype == "Observation" and self.obs_needs_category:
            queries = self._with_categories(queries)
        return queries

    @staticmethod
    def _with_categories(queries):
        out = []
        for q in queries:
            if any(k == "category" for k, _ in q):
                out.append(q)
            else:
                out.extend(q + [("category", c)] for c in OBSERVATION_CATEGORIES)
        return out

    def plan(self) -> list[Unit]:
        if self.level == "system":
            units = []
            for t in self.types:
                for i, q in enumerate(self.filters.get(t) or [[]]):
                    units.append(Unit(key=f"{t}.{i:03d}", types=[t], queries={t: [q]}, suffix=f"{i:03d}"))
            return units
        patients = self._patient_ids()
        types = [t for t in self.types if t != "Patient"]
        units = []
        for c in range(0, len(patients), PATIENT_CHUNK):
            chunk = patients[c : c + PATIENT_CHUNK]
            units.append(
                Unit(
                    key=f"c{c // PATIENT_CHUNK:04d}",
                    types=types,
                    patients=chunk,
                    read_patients=self.level == "group" and "Patient" in self.types,
                )
            )
        return units

    def _patient_ids(self) -> list[str]:
        """The crawl's patient list, fixed on first run (kept in the export folder for resumes)."""
        path = self.export_dir / PATIENTS_FILE
        saved = read_json(path)
        if isinstance(saved, list):
            return saved
        ids: list[str] = []
        if self.level == "group":
            if not self.group_id:
                raise ExtractError("--level group needs --group ID")
            doc, _ = self.session.get_json(f"Group/{self.group_id}", "Group read")
            for m in doc.get("member") or []:
                ref = ((m or {}).get("entity") or {}).get("reference") or ""
                if ref.startswith("Patient/"):
                    ids.append(ref.split("/", 1)[1])
        else:
            writer = UnitWriter(self.export_dir, "000")
            try:
                for q in self.filters.get("Patient") or [[]]:
                    for res in self._search("Patient", q, since=False):
                        if res.get("resourceType") != "Patient" or not res.get("id"):
                            continue
                        ids.append(str(res["id"]))
                        if "Patient" in self.types and self._changed(res):
                            writer.write(res)
                files = writer.commit()
            except BaseException:
                writer.discard()
                raise
            self.state.record("units", "patients", {"files": files})
        ids = list(dict.fromkeys(ids))
        write_json(path, ids)
        self.log.event("patients_listed", count=len(ids))
        return ids

    def _changed(self, res: dict) -> bool:
        if not self.since:
            return True
        updated = (res.get("meta") or {}).get("lastUpdated")
        return updated is None or _instant_after(updated, self.since)

    # -- running -----

    def run_unit(self, unit: Unit) -> dict[str, dict]:
        writer = UnitWriter(self.export_dir, unit.suffix or unit.key, error_suffix=unit.key)
        try:
            if unit.patients is None:
                rtype = unit.types[0]
                for q in unit.queries[rtype]:
                    self._collect(writer, rtype, q)
            else:
                for pid in unit.patients:
                    self._check_cancel()
                    if unit.read_patients:
                        self._read_patient(writer, pid)
                    for rtype in unit.types:
                        for q in self._queries(rtype):
                            self._collect(writer, rtype, q + [("patient", pid)])
            files = writer.commit()
        except BaseException:
            writer.discard()
            raise
        self.state.record("units", unit.key, {"files": files})
        return files

    def _read_patient(self, writer: UnitWriter, pid: str) -> None:
        try:
            doc, _ = self.session.get_json(f"Patient/{pid}", "Patient read")
        except FhirServerError as exc:
            if exc.status in (404, 410):
                self.log.event("patient_missing", count=1)
                return
            raise
        if self._changed(doc):
            self._write_once(writer, doc)

    def _collect(self, writer: UnitWriter, rtype: str, query: list[tuple[str, str]]) -> None:
        try:
            for res in self._search(rtype, query):
                self._write_once(writer, res)
        except FhirServerError as exc:
            if (
                rtype == "Observation"
                and exc.status in (400, 403)
                and not self.obs_needs_category
                and not any(k == "category" for k, _ in query)
            ):
                with self._lock:
                    if not self.obs_needs_category:
                        self.obs_needs_category = True
                        self.state.update(obs_needs_category=True)
                        self.log.event(
                            "observation_category_required",
                            status=exc.status,
                            categories=len(OBSERVATION_CATEGORIES),
                        )
                for q in self._with_categories([query]):
                    self._collect(writer, rtype, q)
                return
            raise

    def _write_once(self, writer: UnitWriter, res: dict) -> None:
        key = (str(res.get("resourceType")), str(res.get("id")))
        with self._lock:
            if res.get("id") and key in self._seen:
                return
            self._seen.add(key)
        writer.write(res)

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def _search(self, rtype: str, query: list[tuple[str, str]], since: bool = True) -> Iterator[dict]:
        params = list(query) + [("_count", str(self.page_size))]
        if since and self.since:
            params.append(("_lastUpdated", f"gt{self.since}"))
        url: str | None = rtype
        total: int | None = None
        matched = 0
        while url:
            self._check_cancel()
            bundle = self._get_bundle(url, params)
            if params is not None and isinstance(bundle.get("total"), int):
                total = bundle["total"]  # the first page's count of matches
            params = None
            for entry in bundle.get("entry") or []:
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict) and res.get("resourceType"):
                    mode = (entry.get("search") or {}).get("mode") if isinstance(entry.get("search"), dict) \
                        else None
                    matched += mode in (None, "match")
                    yield res
            url = None
            for link in bundle.get("link") or []:
                if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
                    url = self.session.resolve(link["url"])
            if url and not self.session.same_origin(url):
                raise ExportFailedError(
                    f"search paging: the next link leaves the FHIR server "
                    f"({redact_url(url)}); refusing to follow"
                )
        if total is not None and matched < total:
            self._incomplete(rtype, matched, total)

    def _incomplete(self, rtype: str, matched: int, total: int) -> None:
        """Paging ended (no `next` link) before Bundle.total matches arrived: some servers cap paging.
        A warning (and a count in the summary); under --strict the extraction fails (exit 10)."""
        with self._lock:
            self.incomplete += 1
        self.log.event("search_incomplete", type=rtype, received=matched, total=total)
        message = (f"search for {rtype}: the server stopped paging after {matched} of the {total} matches "
                   "it reported (no next link)")
        if self.strict:
            raise ExportFailedError(f"{message}; --strict refuses a partial extraction")
        log.warning("warning: %s; the rest is missing from this extraction", message)

    def _get_bundle(self, url: str, params) -> dict:
        def handle(resp: httpx.Response) -> dict:
            body = resp.read()
            if resp.status_code != 200:
                raise fhir_error(resp, "search", body)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise MalformedResponse(
                    f"search: malformed Bundle (invalid JSON) from {redact_url(resp.request.url)}"
                ) from None
            if (
                not isinstance(doc, dict)
                or doc.get("resourceType") != "Bundle"
                or not isinstance(doc.get("entry", []), list)
                or not isinstance(doc.get("link", []), list)
            ):
                raise MalformedResponse(
                    f"search: malformed Bundle (not a searchset Bundle) from {redact_url(resp.request.url)}"
                )
            return doc

        with self._lock:
            self.requests += 1
        return self.session.call(
            "GET", url, handle, params=params, headers={"Accept": "application/fhir+json"}
        )


def _instant_after(value: str, since: str) -> bool:
    from datetime import datetime

    def parse(s: str):
        s = s.strip().replace("Z", "+00:00")
        if len(s) == 10:
            s += "T00:00:00+00:00"
        return datetime.fromisoformat(s)

    try:
        return parse(value) > parse(since)
    except ValueError:
        return True


def run_units(
    crawler: Crawler, units: list[Unit], max_concurrency: int, on_done: Callable[[Unit, dict], None]
) -> None:
    """Run units with bounded concurrency; the first failure cancels the rest and is re-raised."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    if not units:
        return
    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="crawl") as pool:
        futures = {pool.submit(crawler.run_unit, u): u for u in units}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        crawler.cancel_event.set()
                        for p in pending:
                            p.cancel()
                        raise f.exception()
                    on_done(futures[f], f.result())
        except BaseException:
            crawler.cancel_event.set()
            for f in futures:
                f.cancel()
            raise
