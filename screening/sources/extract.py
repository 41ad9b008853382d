"""extract(): pull FHIR data from a server into `<landing>/<export-id>/` (Bulk $export or REST search).

The `Extraction` class holds the steps (prepare, bulk start/poll, downloads, crawl, hydrate, finish) so that
`extract()` runs them in one process and `flows/extract_flow.py` runs the same steps as Prefect tasks.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import orjson

from screening.sources import bulk, search
from screening.sources.auth import AuthConfig
from screening.sources.errors import BulkNotSupportedError, ExtractError, FhirServerError
from screening.sources.http import FhirSession, RetryPolicy, outcome_codes, redact_url, server_time
from screening.sources.hydrate import data_files, hydrate
from screening.sources.landing import (
    EXPORT_STATE,
    ROOT_STATE,
    ExportLog,
    StateFile,
    count_lines,
    new_export_dir,
    now_iso,
    private_dir,
    read_json,
    safe_type,
    write_json,
)
from screening.sources.progress import Reporter

# Every type a rule reads (clinical-rules.md; docs/extraction.md "What is extracted"). Binary is not
# exported by type: the Binary resources that DiagnosticReport / DocumentReference attachments point to are
# fetched by reference afterwards (binaries.py).
DEFAULT_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Procedure",
    "Encounter",
    "ServiceRequest",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "MedicationDispense",
    "Medication",
    "DiagnosticReport",
    "DocumentReference",
    "Practitioner",
    "Organization",
    "PractitionerRole",
)
# Not in the Patient compartment: a patient- or group-level export or crawl cannot ask for them by patient.
NON_COMPARTMENT_TYPES = frozenset({"Medication", "Practitioner", "Organization", "PractitionerRole", "Binary"})
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$")
Mode = Literal["bulk", "search", "auto"]
Level = Literal["system", "patient", "group"]


@dataclass
class ExtractResult:
    export_dir: Path
    transaction_time: str
    files: int
    resources: int
    errors: int
    deleted: int
    mode: str = ""
    resumed: bool = False
    hydrated: int = 0
    error_codes: dict = field(default_factory=dict)
    skipped_types: list = field(default_factory=list)  # default types the server's CapabilityStatement lacks
    binaries: int = 0  # Binary resources fetched for report attachments
    incomplete_searches: int = 0  # searches whose paging ended before Bundle.total

    def as_dict(self) -> dict:
        d = asdict(self)
        d["export_dir"] = str(self.export_dir)
        return d


def _has_export(capability: dict | None, level: str) -> bool:
    if not capability:
        return False
    names = set()
    for rest in capability.get("rest") or []:
        for op in rest.get("operation") or []:
            names.add((None, op.get("name"), op.get("definition") or ""))
        for res in rest.get("resource") or []:
            for op in res.get("operation") or []:
                names.add((res.get("type"), op.get("name"), op.get("definition") or ""))
    want = {"system": (None,), "patient": ("Patient", None), "group": ("Group", None)}[level]
    return any(
        t in want and (n in ("export", "patient-export", "group-export") or d.endswith("export"))
        for t, n, d in names
    )


class Extraction:
    def __init__(
        self,
        fhir_url: str,
        landing: Path,
        *,
        mode: Mode = "auto",
        level: Level = "system",
        group_id: str | None = None,
        types: list[str] | None = None,
        since: str | None = None,
        type_filters: list[str] | None = None,
        auth: AuthConfig | None = None,
        verify_tls: bool = True,
        max_concurrency: int = 4,
        progress: bool = False,
        retry: RetryPolicy | None = None,
        page_size: int = 200,
        strict: bool = False,
    ):
        if mode not in ("bulk", "search", "auto"):
            raise ExtractError(f"mode must be bulk, search or auto, not {mode!r}")
        if level not in ("system", "patient", "group"):
            raise ExtractError(f"level must be system, patient or group, not {level!r}")
        if level == "group" and not group_id:
            raise ExtractError("--level group needs --group ID")
        if group_id and not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", group_id):
            raise ExtractError("--group must be a FHIR id (letters, digits, '-', '.')")
        for t in types or []:
            if safe_type(t) != t:
                raise ExtractError(f"--type {t!r} is not a FHIR resource type")
        for f in type_filters or []:
            search.parse_type_filter(f)
        if since not in (None, "auto") and not _INSTANT.match(since):
            raise ExtractError(
                f"--since must be 'auto' or a FHIR instant like 2024-01-31T00:00:00Z, got {since!r}"
            )
        if not 1 <= max_concurrency <= 32:
            raise ExtractError("--max-concurrency must be between 1 and 32")
        self.fhir_url = fhir_url.strip().rstrip("/")
        self.landing = Path(landing)
        self.mode_requested = mode
        self.level = level
        self.group_id = group_id
        self.types = list(dict.fromkeys(types or DEFAULT_TYPES))
        self.requested_types = list(self.types)  # the scope's identity, before the server's offer cuts it
        self.default_types = not types  # the default list is cut to what the server offers; --type is not
        self.skipped_types: list[str] = []
        self.strict = strict
        self.since_option = since
        self.type_filters = list(type_filters or [])
        self.auth = auth or AuthConfig.none()
        self.max_concurrency = max_concurrency
        self.page_size = page_size
        self.reporter = Reporter(progress)
        self.cancel_event = threading.Event()
        self.inflight = bulk.Inflight()  # streaming file downloads, broken off by a cancel
        self.session = FhirSession(
            self.fhir_url, verify_tls=verify_tls, policy=retry, max_connections=max_concurrency + 2
        )
        self.session.tokens = self.auth.token_source(self.session)
        self.capability: dict | None = None
        self.capability_headers = None
        self.mode: str | None = None
        self.since: str | None = None
        self.export_dir: Path | None = None
        self.state: StateFile | None = None
        self.log: ExportLog | None = None
        self.resumed = False
        self.outputs: list[bulk.Output] = []
        self.manifest: dict | None = None

    # -- identity -----

    def scope_key(self) -> str:
        doc = {
            "url": self.fhir_url,
            "level": self.level,
            "group": self.group_id,
            "types": sorted(self.requested_types),
            "filters": sorted(self.type_filters),
        }
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]

    def _root_state(self) -> dict:
        return read_json(self.landing / ROOT_STATE) or {"version": 1, "scopes": {}}

    # -- steps -----

    def prepare(self) -> None:
        """Resolve --since, pick bulk or search, and open a new export folder or resume an unfinished one."""
        private_dir(self.landing)
        if self.since_option == "auto":
            last = self._root_state().get("scopes", {}).get(self.scope_key())
            self.since = last["transactionTime"] if last else None
        else:
            self.since = self.since_option
        try:
            self.capability, self.capability_headers = self.session.get_json(
                "metadata", "CapabilityStatement"
            )
        except FhirServerError:
            if self.mode_requested == "auto":
                raise
            self.capability = None
        if self.mode_requested == "auto":
            self.mode = "bulk" if _has_export(self.capability, self.level) else "search"
        else:
            self.mode = self.mode_requested
        self._offered_types()
        self._open_folder()
        self.log.event(
            "kickoff_planned" if not self.resumed else "resumed",
            mode=self.mode,
            level=self.level,
            fhirUrl=redact_url(self.fhir_url),
            since=self.since,
            types=self.types,
            skippedTypes=self.skipped_types,  # default types the server does not offer (or not patient-linked)
            typeFilters=len(self.type_filters),
            auth=self.auth.kind,
        )

    def _offered_types(self) -> None:
        """Cut the default type list to what the server's CapabilityStatement offers (a server answers a
        `_type` it does not support with HTTP 400) and, below system level, to the Patient compartment.
        The dropped types are logged, kept in the result and printed by the CLI."""
        if not self.default_types:
            return
        offered = search.supported_types(self.capability)
        keep, dropped = [], []
        for t in self.types:
            if offered is not None and t not in offered:
                dropped.append(t)
            elif self.level != "system" and t in NON_COMPARTMENT_TYPES and t != "Medication":
                dropped.append(t)  # Medication stays: hydrated from references at every level
            else:
                keep.append(t)
        self.types, self.skipped_types = keep, dropped

    def _open_folder(self) -> None:
        key = self.scope_key()
        candidates = sorted((p.parent for p in self.landing.glob(f"*/{EXPORT_STATE}")), reverse=True)
        for d in candidates:
            doc = read_json(d / EXPORT_STATE) or {}
            if (
                doc.get("scope_key") == key
                and doc.get("since") == self.since
                and doc.get("mode") == self.mode
                and doc.get("status") not in ("complete", "cancelled")
            ):
                self.export_dir, self.resumed = d, True
                self.state = StateFile(d, doc)
                self.log = ExportLog(d, d.name)
                stale = [p for p in d.rglob("*.part") if p.is_file()]
                for p in stale:  # temp files of the run that crashed: their data is fetched again
                    p.unlink(missing_ok=True)
                if stale:
                    self.log.event("stale_parts_removed", count=len(stale))
                return
        export_id, d = new_export_dir(self.landing, self.mode)
        self.export_dir = d
        self.state = StateFile(
            d,
            {
                "version": 1,
                "export_id": export_id,
                "scope_key": key,
                "since": self.since,
                "mode": self.mode,
                "status": "started",
                "started_at": now_iso(),
                "request": {
                    "fhir_url": redact_url(self.fhir_url),
                    "level": self.level,
                    "group_id": self.group_id,
                    "types": self.types,
                    "type_filters": self.type_filters,
                },
            },
        )
        self.state.save()
        self.log = ExportLog(d, export_id)

    # -- bulk -----

    def _bulk_types(self) -> list[str]:
        if self.level == "system":
            return self.types
        return [
            t for t in self.types if t != "Medication"
        ]  # not in the Patient compartment: hydrated later

    def bulk_start(self) -> list[bulk.Output]:
        """Kick off (or re-attach to) the export and poll until the manifest arrives."""
        status_url = self.state.doc.get("status_url")
        manifest = None
        if status_url:
            try:
                manifest = bulk.poll_until_done(self.session, status_url, self._on_poll)
            except bulk.StatusGone:
                self.log.event("status_gone", action="new kick-off")
                self._reset_bulk()
                status_url = None
        if not status_url:
            status_url = bulk.kickoff(
                self.session,
                level=self.level,
                group_id=self.group_id,
                types=self._bulk_types(),
                since=self.since,
                type_filters=self.type_filters,
            )
            self.state.update(status_url=status_url, status="polling", kickoff_at=now_iso())
            self.log.event("kickoff", statusUrl=redact_url(status_url))
        if manifest is None:
            try:
                manifest = bulk.poll_until_done(self.session, status_url, self._on_poll)
            except bulk.StatusGone:
                raise FhirServerError(
                    f"export status URL {redact_url(status_url)} vanished (404/410) while polling",
                    status=404,
                ) from None
        self.reporter.done_polling()
        self.manifest = manifest
        self.outputs = bulk.plan_outputs(manifest)
        write_json(self.export_dir / "manifest.json", bulk.redacted_manifest(manifest, self.outputs))
        self.state.update(
            status="downloading",
            transactionTime=manifest["transactionTime"],
            requiresAccessToken=bool(manifest.get("requiresAccessToken")),
        )
        self.log.event(
            "status_complete",
            transactionTime=manifest["transactionTime"],
            outputFileCount=sum(o.kind == "output" for o in self.outputs),
            deletedFileCount=sum(o.kind == "deleted" for o in self.outputs),
            errorFileCount=sum(o.kind == "error" for o in self.outputs),
        )
        return self.outputs

    def _on_poll(self, progress: str | None, polls: int) -> None:
        self.reporter.polling(progress, polls)
        if polls == 1 or polls % 10 == 0:
            self.log.event("status_progress", polls=polls, xProgress=progress)

    def _reset_bulk(self) -> None:
        for info in self.state.get("outputs").values():
            (self.export_dir / info["file"]).unlink(missing_ok=True)
        self.state.update(outputs={}, status_url=None, status="started")

    def pending_outputs(self) -> list[bulk.Output]:
        done = self.state.get("outputs")
        return [
            o
            for o in self.outputs
            if not (o.key in done and (self.export_dir / done[o.key]["file"]).is_file())
        ]

    def download_one(self, out: bulk.Output) -> dict:
        info = self.state.get("outputs").get(out.key)
        if info and (self.export_dir / info["file"]).is_file():
            return info
        got = bulk.download(
            self.session,
            out,
            self.export_dir,
            requires_token=bool(self.state.doc.get("requiresAccessToken")),
            cancel_event=self.cancel_event,
            on_bytes=self.reporter.bytes,
            inflight=self.inflight,
        )
        info = {"file": got.relpath, "lines": got.lines, "bytes": got.bytes, "kind": out.kind}
        self.state.record("outputs", out.key, info)
        self.log.event(
            "download_complete",
            file=got.relpath,
            kind=out.kind,
            resourceCount=got.lines,
            fileSize=got.bytes,
        )
        return info

    def bulk_download_all(self) -> None:
        pending = self.pending_outputs()
        self.reporter.start_files(len(self.outputs), len(self.outputs) - len(pending))
        if len(pending) < len(self.outputs):
            self.log.event(
                "download_resume", skipped=len(self.outputs) - len(pending), remaining=len(pending)
            )
        self._run_pool(self.download_one, pending)

    def _run_pool(self, fn, items) -> None:
        if not items:
            return
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="extract")
        futures = [pool.submit(fn, x) for x in items]
        try:
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, timeout=0.5, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        raise f.exception()
                    self.reporter.file_done()
        except BaseException:
            self.stop_workers()
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def stop_workers(self) -> None:
        """Tell every worker to stop, and break off file downloads blocked on a slow or stalled server."""
        self.cancel_event.set()
        self.inflight.abort()

    def cancel_export(self) -> int | None:
        """Ctrl-C: stop workers and DELETE the job at the server (the folder is then marked cancelled)."""
        self.stop_workers()
        if (
            self.state is None
            or self.mode != "bulk"
            or not self.state.doc.get("status_url")
            or self.state.doc.get("status") == "complete"
        ):
            return None
        code = bulk.cancel(self.session, self.state.doc["status_url"])
        self.state.update(status="cancelled")
        self.log.event("export_cancelled", deleteStatus=code)
        return code

    # -- search -----

    def crawl(self) -> None:
        if not self.state.doc.get("transactionTime"):
            headers = self.capability_headers
            if headers is None:
                try:
                    _, headers = self.session.get_json("metadata", "CapabilityStatement")
                except FhirServerError:
                    headers = httpx.Headers()
            self.state.update(transactionTime=server_time(headers))
        self.state.update(status="crawling")
        crawler = search.Crawler(
            self.session,
            self.export_dir,
            self.state,
            self.log,
            level=self.level,
            group_id=self.group_id,
            types=self.types,
            since=self.since,
            type_filters=self.type_filters,
            capability=self.capability,
            page_size=self.page_size,
            cancel_event=self.cancel_event,
            strict=self.strict,
        )
        units = crawler.plan()
        done = self.state.get("units")
        pending = [u for u in units if u.key not in done]
        if len(pending) < len(units):
            self.log.event("crawl_resume", skipped=len(units) - len(pending), remaining=len(pending))
        self.reporter.start_files(len(units), len(units) - len(pending), label="crawl units")

        def on_done(unit, files):
            self.reporter.file_done()
            self.log.event(
                "unit_complete",
                unit=unit.key if unit.patients is None else "patient-chunk",
                resourceCount=sum(f["lines"] for f in files.values()),
            )

        search.run_units(crawler, pending, self.max_concurrency, on_done)
        self.log.event("crawl_complete", units=len(units), requests=crawler.requests,
                       incompleteSearches=crawler.incomplete)
        self.state.update(incomplete_searches=int(self.state.doc.get("incomplete_searches") or 0)
                          + crawler.incomplete)

    # -- common tail -----

    def hydrate(self) -> int:
        """Referenced Medications / Observations, then the Binaries that report attachments point to."""
        from screening.sources.binaries import fetch_binaries

        self.state.update(status="hydrating")
        n = hydrate(
            self.session,
            self.export_dir,
            self.state,
            self.log,
            fatal=self.mode == "search",
            cancel_event=self.cancel_event,
        )
        fetch_binaries(self.session, self.export_dir, self.state, self.log, self.capability,
                       cancel_event=self.cancel_event)
        return n

    def finish(self) -> ExtractResult:
        d = self.export_dir
        data = data_files(d)
        err_files = sorted((d / "errors").glob("*.ndjson*")) if (d / "errors").is_dir() else []
        del_files = sorted((d / "deleted").glob("*.ndjson*")) if (d / "deleted").is_dir() else []
        counts = {p: count_lines(p) for p in data}
        codes: dict[str, int] = {}
        for p in err_files:
            for line in _lines(p):
                for c in outcome_codes(line):
                    codes[c] = codes.get(c, 0) + 1
        errors = sum(count_lines(p) for p in err_files)
        deleted = sum(count_lines(p) for p in del_files)
        tt = self.state.doc["transactionTime"]
        if self.mode == "search":
            write_json(d / "manifest.json", self._search_manifest(tt, counts, err_files))
        result = ExtractResult(
            export_dir=d,
            transaction_time=tt,
            files=len(data),
            resources=sum(counts.values()),
            errors=errors,
            deleted=deleted,
            mode=self.mode,
            resumed=self.resumed,
            hydrated=int(self.state.doc.get("hydrated") or 0),
            error_codes=codes,
            skipped_types=list(self.skipped_types),
            binaries=int(self.state.doc.get("binaries") or 0),
            incomplete_searches=int(self.state.doc.get("incomplete_searches") or 0),
        )
        self.state.update(status="complete", finished_at=now_iso())
        root = self._root_state()
        root.setdefault("scopes", {})[self.scope_key()] = {
            "transactionTime": tt,
            "export_id": d.name,
            "mode": self.mode,
            "finished_at": now_iso(),
            "fhir_url": redact_url(self.fhir_url),
            "level": self.level,
        }
        write_json(self.landing / ROOT_STATE, root)
        self.log.event(
            "export_complete",
            files=result.files,
            resources=result.resources,
            errors=errors,
            errorCodes=codes,
            deleted=deleted,
            hydrated=result.hydrated,
            binaries=result.binaries,
            incompleteSearches=result.incomplete_searches,
            resumed=self.resumed,
        )
        if self.mode == "bulk" and self.state.doc.get("status_url"):
            code = bulk.cancel(self.session, self.state.doc["status_url"])  # tell the server we are done
            self.log.event("status_deleted", status=code)
        return result

    def _search_manifest(self, tt: str, counts: dict[Path, int], err_files: list[Path]) -> dict:
        d = self.export_dir
        out = [
            {
                "type": p.name.split(".", 1)[0],
                "url": redact_url(f"{self.fhir_url}/{p.name.split('.', 1)[0]}"),
                "localFile": str(p.relative_to(d)),
                "count": n,
            }
            for p, n in counts.items()
        ]
        errs = [{"type": "OperationOutcome", "localFile": str(p.relative_to(d))} for p in err_files]
        return {
            "transactionTime": tt,
            "request": redact_url(self.fhir_url),
            "requiresAccessToken": False,
            "output": out,
            "error": errs,
            "deleted": [],
            "extension": {"osteoscreen": {"mode": "search", "level": self.level, "since": self.since}},
        }

    def run(self) -> ExtractResult:
        try:
            self.prepare()
            if self.mode == "bulk":
                try:
                    self.bulk_start()
                except BulkNotSupportedError:
                    if self.mode_requested != "auto":
                        raise
                    self._switch_to_search()
                    self.crawl()
                else:
                    self.bulk_download_all()
            else:
                self.crawl()
            self.hydrate()
            return self.finish()
        except KeyboardInterrupt:
            self.cancel_export()
            if self.state is not None and self.state.doc.get("status") != "cancelled":
                self.state.update(status="interrupted")
                self.log.event("interrupted")
            raise
        except BaseException as exc:
            if self.log is not None:
                self.log.event("export_failed", error=type(exc).__name__)
            raise
        finally:
            self.reporter.stop()
            self.session.close()

    def _switch_to_search(self) -> None:
        self.log.event("fallback", reason="$export not supported", using="search")
        old = self.export_dir
        self.mode = "search"
        if not any(p.name not in (EXPORT_STATE, "log.ndjson") for p in old.iterdir()):
            shutil.rmtree(old)
        self._open_folder()


def _lines(path: Path):
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield line


def extract(
    fhir_url: str,
    landing: Path,
    *,
    mode: Mode = "auto",
    level: Level = "system",
    group_id: str | None = None,
    types: list[str] | None = None,
    since: str | None = None,
    type_filters: list[str] | None = None,
    auth: AuthConfig | None = None,
    verify_tls: bool = True,
    max_concurrency: int = 4,
    progress: bool = False,
    retry: RetryPolicy | None = None,
    page_size: int = 200,
    strict: bool = False,
) -> ExtractResult:
    """Extract from `fhir_url` into a new (or resumed) folder under `landing`; see docs/extraction.md.

    mode: "bulk" ($export), "search" (REST crawl), "auto" ($export when the CapabilityStatement offers it).
    level: system / patient / group (Bulk: which $export; search: type-wide vs per-patient crawl).
    since: a FHIR instant, or "auto" for the last successful export's transactionTime of the same scope.
    strict: a search whose paging ends before its Bundle.total fails the extraction (else: a warning).
    Ctrl-C cancels a running Bulk export with DELETE and re-raises KeyboardInterrupt.
    """
    return Extraction(
        fhir_url,
        landing,
        mode=mode,
        level=level,
        group_id=group_id,
        types=types,
        since=since,
        type_filters=type_filters,
        auth=auth,
        verify_tls=verify_tls,
        max_concurrency=max_concurrency,
        progress=progress,
        retry=retry,
        page_size=page_size,
        strict=strict,
    ).run()
