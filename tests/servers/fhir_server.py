"""A small FHIR R4 server on 127.0.0.1 for extraction tests: real HTTP, paging, $export and tokens.

    with FhirTestServer(fixture_resources()) as srv:
        extract(srv.base_url, landing)

Features: CapabilityStatement (with or without MedicationStatement / $export), search with `_count` + `next`
paging (patient, subject, code, category, _id, _lastUpdated), reads, Group, a Bulk Data $export state machine
(system / Patient / Group; _type, _since, _typeFilter; 202 + Content-Location, status 202 with X-Progress and
Retry-After then the manifest, deleted and error outputs, DELETE cancel, optional gzip), a SMART
`.well-known/smart-configuration` and a token endpoint that verifies RS384 / ES384 client assertions against
registered public keys and issues expiring tokens. Faults are switched on with `add_fault(...)`; a "slow"
fault stalls an answer for `delay` seconds after the first half of its body (`stalled` lists the requests
stalled right now), so a test can act while a file download is in flight.

Everything the server saw is kept in `requests` (method, path, query, Authorization present) for assertions.
"""

from __future__ import annotations

import contextlib
import gzip
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import jwt
import orjson

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
COMPARTMENT_FIELDS = ("subject", "patient")
SEARCH_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Procedure",
    "DiagnosticReport",
    "Medication",
    "Group",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _parse_instant(s: str) -> datetime:
    s = s.strip().replace("Z", "+00:00")
    if len(s) == 10:
        s += "T00:00:00+00:00"
    return datetime.fromisoformat(s)


def outcome(code: str, text: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


@dataclass
class Fault:
    kind: str  # "429", "503", "500", "drop", "malformed", "outcome", "expire_tokens", "slow"
    path: str  # substring of "<METHOD> <path>?<query>" that selects requests
    times: int = 1  # how many matching requests get the fault
    after: int = 0  # let this many matching requests through first
    retry_after: str | None = "0"
    delay: float = 2.0  # "slow": the normal answer, but stalled this long after the first half of the body
    status: int = 400
    text: str = "simulated failure"
    seen: int = 0
    fired: int = 0


@dataclass
class Job:
    id: str
    level: str
    request_url: str
    transaction_time: str
    files: dict[str, bytes]  # name -> NDJSON bytes
    outputs: list[dict]
    deleted: list[dict]
    errors: list[dict]
    polls: int = 0
    cancelled: bool = False
    ready_after: int = 2
    failed: bool = False


@dataclass
class Seen:
    method: str
    path: str
    query: str
    authorized: bool
    accept_encoding: str = ""
    at: float = field(default_factory=time.monotonic)


class FhirTestServer:
    def __init__(
        self,
        resources: list[dict] | None = None,
        *,
        medication_statement: bool = True,
        bulk: bool = True,
        require_auth: bool = False,
        token_lifetime: int = 300,
        requires_access_token: bool | None = None,
        polls_before_ready: int = 2,
        poll_retry_after: str | None = "0",
        lines_per_file: int = 1000,
        gzip_encoding: bool = True,
        gzip_files: bool = False,
        obs_requires_category: bool = False,
        hide_observations=(),
        max_count: int = 50,
        export_errors: list[dict] | None = None,
        evil_names: bool = False,
        tls: tuple[str, str] | None = None,
        extra_types: tuple[str, ...] = (),
        strict_types: bool = False,
        paging_stops_after: int | None = None,
    ):
        # extra_types: more types offered (CapabilityStatement, search, read), e.g. Encounter or Binary.
        # strict_types: a kick-off whose _type names a type not offered answers HTTP 400 (as SMART's
        # reference bulk server does). paging_stops_after: searches drop the `next` link after this many
        # pages although Bundle.total says more exist (a server capping its paging).
        self.extra_types = tuple(extra_types)
        self.strict_types = strict_types
        self.paging_stops_after = paging_stops_after
        self.lock = threading.RLock()
        self.store: dict[tuple[str, str], dict] = {}
        self.deleted: dict[tuple[str, str], tuple[datetime, dict]] = {}
        self.medication_statement = medication_statement
        self.bulk = bulk
        self.require_auth = require_auth
        self.token_lifetime = token_lifetime
        self.requires_access_token = (
            require_auth if requires_access_token is None else requires_access_token
        )
        self.polls_before_ready = polls_before_ready
        self.poll_retry_after = poll_retry_after
        self.lines_per_file = lines_per_file
        self.gzip_encoding = gzip_encoding
        self.gzip_files = gzip_files
        self.obs_requires_category = obs_requires_category
        self.hidden = set(hide_observations)
        self.max_count = max_count
        self.export_errors = export_errors or []
        self.evil_names = evil_names
        self.tls = tls
        self.fail_jobs = False
        self.clients: dict[str, tuple[object, str]] = {}
        self.tokens: dict[str, float] = {}
        self.used_jti: set[str] = set()
        self.token_requests = 0
        self.token_rejections: list[str] = []
        self.jobs: dict[str, Job] = {}
        self.faults: list[Fault] = []
        self.stalled: list[str] = []  # paths whose answer is stalled right now (a "slow" fault)
        self._stopping = threading.Event()  # ends stalls when the server stops
        self.requests: list[Seen] = []
        self.on_request: Callable[[str, str], None] | None = None
        self.file_host: FhirTestServer | None = None  # serve export files from another origin
        self._primary: FhirTestServer | None = None  # set on a file host: whose jobs it serves
        for r in resources or []:
            self.upsert(r)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----

    def start(self) -> FhirTestServer:
        handler = type("Handler", (_Handler,), {"srv": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self.tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FhirTestServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.root + "/fhir"

    @property
    def token_url(self) -> str:
        return self.root + "/auth/token"

    def serve_files_for(self, primary: FhirTestServer) -> None:
        """Make this server a plain file host for `primary`'s export jobs (a different origin)."""
        self._primary = primary
        primary.file_host = self

    # -- data -----

    def upsert(self, resource: dict) -> dict:
        with self.lock:
            key = (resource["resourceType"], resource["id"])
            old = self.store.get(key)
            version = int((old or {}).get("meta", {}).get("versionId", "0")) + 1
            res = orjson.loads(orjson.dumps(resource))
            res["meta"] = {"versionId": str(version), "lastUpdated": _iso(_now())}
            self.store[key] = res
            self.deleted.pop(key, None)
            time.sleep(0.002)  # distinct lastUpdated instants
            return res

    def delete(self, rtype: str, rid: str) -> None:
        with self.lock:
            res = self.store.pop((rtype, rid))
            self.deleted[(rtype, rid)] = (_now(), res)
            time.sleep(0.002)

    def all_resources(self) -> list[dict]:
        with self.lock:
            return [orjson.loads(orjson.dumps(r)) for r in self.store.values()]

    def register_client(self, client_id: str, public_key, alg: str) -> None:
        self.clients[client_id] = (public_key, alg)

    def add_static_token(self, token: str, lifetime: float = 3600.0) -> None:
        """Accept `token` as a bearer token (a token issued out of band, as with --token-file)."""
        with self.lock:
            self.tokens[token] = time.time() + lifetime

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_fault(self, kind: str, path: str, **kw) -> Fault:
        f = Fault(kind, path, **kw)
        with self.lock:
            self.faults.append(f)
        return f

    def seen(self, method: str | None = None, contains: str = "") -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.requests
                if (method is None or s.method == method) and contains in f"{s.path}?{s.query}"
            ]

    # -- search -----

    @staticmethod
    def _patient_of(res: dict) -> str | None:
        if res["resourceType"] == "Patient":
            return res["id"]
        for f in COMPARTMENT_FIELDS:
            ref = (res.get(f) or {}).get("reference", "") if isinstance(res.get(f), dict) else ""
            if ref.startswith("Patient/"):
                return ref.split("/", 1)[1]
        return None

    @staticmethod
    def _codings(node) -> list[dict]:
        nodes = node if isinstance(node, list) else [node]
        return [c for n in nodes if isinstance(n, dict) for c in n.get("coding") or []]

    def matches(self, res: dict, params: list[tuple[str, str]], searching: bool = True) -> bool:
        for k, v in params:
            if k in ("patient", "subject"):
                if self._patient_of(res) != v.split("/")[-1]:
                    return False
            elif k in ("code", "category"):
                wanted = v.split(",")
                ok = False
                for c in self._codings(res.get(k)):
                    for w in wanted:
                        system, sep, code = w.rpartition("|")
                        if c.get("code") == code and (not sep or c.get("system") == system):
                            ok = True
                if not ok:
                    return False
            elif k == "_id":
                if res["id"] not in v.split(","):
                    return False
            elif k == "identifier":  # system|value, value alone, or system| (worklist write-back tests)
                system, sep, value = v.rpartition("|")
                if not any((not sep or i.get("system") == system) and (not value or i.get("value") == value)
                           for i in res.get("identifier") or [] if isinstance(i, dict)):
                    return False
            elif k == "_lastUpdated":
                prefix, value = (v[:2], v[2:]) if v[:2] in ("gt", "ge", "lt", "le") else ("eq", v)
                lu, when = _parse_instant(res["meta"]["lastUpdated"]), _parse_instant(value)
                if not {
                    "gt": lu > when,
                    "ge": lu >= when,
                    "lt": lu < when,
                    "le": lu <= when,
                    "eq": lu == when,
                }[prefix]:
                    return False
        if (
            searching
            and res["resourceType"] == "Observation"
            and res["id"] in self.hidden
            and not any(k == "_id" for k, _ in params)
        ):
            return False
        return True

    def search(self, rtype: str, params: list[tuple[str, str]]) -> list[dict]:
        with self.lock:
            found = [
                r for (t, _), r in sorted(self.store.items()) if t == rtype and self.matches(r, params)
            ]
        return found

    @property
    def search_types(self) -> tuple[str, ...]:
        return (*SEARCH_TYPES, *self.extra_types)

    def capability(self) -> dict:
        types = [t for t in self.search_types if t != "MedicationStatement" or self.medication_statement]
        resources = []
        for t in types:
            entry = {
                "type": t,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": "patient", "type": "reference"}, {"name": "_id", "type": "token"}],
            }
            if self.bulk and t in ("Patient", "Group"):
                entry["operation"] = [
                    {
                        "name": "patient-export" if t == "Patient" else "group-export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
                        f"{'patient' if t == 'Patient' else 'group'}-export",
                    }
                ]
            resources.append(entry)
        rest = {"mode": "server", "resource": resources}
        if self.bulk:
            rest["operation"] = [
                {
                    "name": "export",
                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                }
            ]
        if self.require_auth:
            rest["security"] = {
                "extension": [
                    {
                        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                        "extension": [{"url": "token", "valueUri": self.token_url}],
                    }
                ]
            }
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [rest],
        }

    # -- export -----

    def create_job(self, level: str, group_id: str | None, query: str, request_url: str) -> Job | dict:
        params = parse_qs(query)
        types = [t for v in params.get("_type", []) for t in v.split(",") if t]
        since = params.get("_since", [None])[0]
        filters: dict[str, list[list[tuple[str, str]]]] = {}
        for f in params.get("_typeFilter", []):
            rtype, _, q = f.partition("?")
            filters.setdefault(rtype, []).append(parse_qsl(q))
        try:
            since_dt = _parse_instant(since) if since else None
        except ValueError:
            return outcome("invalid", f"_since is not an instant: {since}")
        with self.lock:
            tt = _now()
            if level == "group":
                group = self.store.get(("Group", group_id))
                if group is None:
                    return outcome("not-found", f"Group {group_id} not found")
                members = {m["entity"]["reference"].split("/", 1)[1] for m in group.get("member", [])}
            in_scope: Callable[[dict], bool]
            if level == "system":

                def in_scope(r):
                    return True
            elif level == "patient":

                def in_scope(r):
                    return self._patient_of(r) is not None
            else:

                def in_scope(r):
                    return self._patient_of(r) in members

            by_type: dict[str, list[dict]] = {}
            for (t, _), r in sorted(self.store.items()):
                if types and t not in types or t == "Group" or not in_scope(r):
                    continue
                if since_dt and _parse_instant(r["meta"]["lastUpdated"]) <= since_dt:
                    continue
                if t in filters and not any(self.matches(r, q, searching=False) for q in filters[t]):
                    continue
                by_type.setdefault(t, []).append(r)
            deletions = []
            if since_dt:
                for (t, rid), (when, old) in sorted(self.deleted.items()):
                    if when > since_dt and (not types or t in types) and in_scope(old):
                        deletions.append(
                            {
                                "resourceType": "Bundle",
                                "type": "transaction",
                                "entry": [{"request": {"method": "DELETE", "url": f"{t}/{rid}"}}],
                            }
                        )
            job = Job(
                id=secrets.token_hex(8),
                level=level,
                request_url=request_url,
                transaction_time=_iso(tt),
                files={},
                outputs=[],
                deleted=[],
                errors=[],
                ready_after=self.polls_before_ready,
            )
            host = self.file_host or self
            for t, rows in by_type.items():
                for n in range(0, len(rows), self.lines_per_file):
                    chunk = rows[n : n + self.lines_per_file]
                    name = f"{t}-{n // self.lines_per_file}.ndjson"
                    job.files[name] = b"".join(orjson.dumps(r) + b"\n" for r in chunk)
                    url_name = name if not self.evil_names else f"..%2F..%2F{name}"
                    job.outputs.append(
                        {
                            "type": t if not self.evil_names else f"../../{t}",
                            "url": f"{host.root}/files/{job.id}/{url_name}",
                            "count": len(chunk),
                        }
                    )
            if deletions:
                job.files["deleted-0.ndjson"] = b"".join(orjson.dumps(b) + b"\n" for b in deletions)
                job.deleted.append(
                    {"type": "Bundle", "url": f"{host.root}/files/{job.id}/deleted-0.ndjson"}
                )
            if self.export_errors:
                job.files["errors-0.ndjson"] = b"".join(orjson.dumps(o) + b"\n" for o in self.export_errors)
                job.errors.append(
                    {"type": "OperationOutcome", "url": f"{host.root}/files/{job.id}/errors-0.ndjson"}
                )
            job.failed = self.fail_jobs
            self.jobs[job.id] = job
            return job

    def manifest(self, job: Job) -> dict:
        return {
            "transactionTime": job.transaction_time,
            "request": job.request_url,
            "requiresAccessToken": self.requires_access_token,
            "output": job.outputs,
            "deleted": job.deleted,
            "error": job.errors,
        }

    # -- tokens -----

    def issue_token(self, form: dict[str, str]) -> tuple[int, dict]:
        def reject(error: str, why: str) -> tuple[int, dict]:
            self.token_rejections.append(why)
            return 400 if error != "invalid_client" else 401, {"error": error, "error_description": why}

        if form.get("grant_type") != "client_credentials":
            return reject("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return reject("invalid_request", "bad client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return reject("invalid_request", "client_assertion is not a JWT")
        client = self.clients.get(str(unverified.get("iss")))
        if client is None:
            return reject("invalid_client", "unknown client")
        key, alg = client
        if header.get("alg") != alg or not header.get("kid"):
            return reject("invalid_client", "unexpected alg or missing kid")
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=self.token_url,
                issuer=unverified["iss"],
                options={"require": ["exp", "iss", "sub", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return reject("invalid_client", f"assertion rejected: {type(exc).__name__}")
        if claims["sub"] != claims["iss"] or claims["exp"] > time.time() + 305:
            return reject("invalid_client", "sub/iss mismatch or exp too far ahead")
        with self.lock:
            if claims["jti"] in self.used_jti:
                return reject("invalid_client", "jti replayed")
            self.used_jti.add(claims["jti"])
            token = secrets.token_urlsafe(24)
            self.tokens[token] = time.time() + self.token_lifetime
            self.token_requests += 1
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "scope": form.get("scope", "system/*.read"),
        }

    def token_valid(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            exp = self.tokens.get(header[7:])
        return exp is not None and exp > time.time()


class _Handler(BaseHTTPRequestHandler):
    srv: FhirTestServer
    protocol_version = "HTTP/1.1"
    _stall = 0.0  # seconds to stall mid-body (set per request by a "slow" fault)

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- responses -----

    def _send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "application/fhir+json",
        headers: dict | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if self._stall > 0 and len(body) > 1:  # a "slow" fault: half the body, a stall, then the rest
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            with self.srv.lock:
                self.srv.stalled.append(self.path)
            try:
                self.srv._stopping.wait(self._stall)
            finally:
                with self.srv.lock:
                    self.srv.stalled.remove(self.path)
            body = body[half:]
        self.wfile.write(body)

    def _json(
        self, status: int, doc: dict, headers: dict | None = None, ctype="application/fhir+json"
    ) -> None:
        self._send(status, orjson.dumps(doc), ctype, headers)

    def _drop(self, partial: bytes = b"", total: int | None = None) -> None:
        if total is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+ndjson")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            self.wfile.write(partial)
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    # -- dispatch -----

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        srv = self.srv
        self._stall = 0.0
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        auth = self.headers.get("Authorization")
        body = b""
        if self.command in ("POST", "PUT"):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with srv.lock:
            srv.requests.append(
                Seen(self.command, path, query, bool(auth), self.headers.get("Accept-Encoding") or "")
            )
        if srv.on_request is not None:
            srv.on_request(self.command, path)
        if self._fault(f"{self.command} {path}?{query}", path):
            return
        try:
            self._route(path, query, auth, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fault(self, key: str, path: str) -> bool:
        srv = self.srv
        with srv.lock:
            hit = None
            for f in srv.faults:
                if f.path in key and f.fired < f.times:
                    f.seen += 1
                    if f.seen > f.after:
                        f.fired += 1
                        hit = f
                        break
        if hit is None:
            return False
        if hit.kind == "expire_tokens":
            srv.expire_tokens()
            return False
        if hit.kind == "slow":  # answer normally, but stall after the first half of the body
            self._stall = hit.delay
            return False
        if hit.kind in ("429", "503", "500"):
            headers = {"Retry-After": hit.retry_after} if hit.retry_after is not None else {}
            self._json(
                int(hit.kind), outcome("transient" if hit.kind != "500" else "exception", hit.text), headers
            )
            return True
        if hit.kind == "outcome":
            self._json(hit.status, outcome("processing", hit.text))
            return True
        if hit.kind == "malformed":
            self._send(
                200, b'{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resou'
            )
            return True
        if hit.kind == "drop":
            if path.startswith("/files/"):
                name = path.rsplit("/", 1)[-1]
                data = self._file_bytes(path.split("/")[2], name) or b"x" * 100
                self._drop(data[: max(1, len(data) // 2)], total=len(data))
            else:
                self._drop()
            return True
        raise AssertionError(f"unknown fault {hit.kind}")

    def _route(self, path: str, query: str, auth: str | None, body: bytes) -> None:
        srv = self.srv
        if path == "/auth/token" and self.command == "POST":
            status, doc = srv.issue_token(dict(parse_qsl(body.decode())))
            self._json(status, doc, ctype="application/json", headers={"Cache-Control": "no-store"})
            return
        if path.startswith("/files/"):
            self._file(path, auth)
            return
        if not path.startswith("/fhir"):
            self._json(404, outcome("not-found", "unknown path"))
            return
        rel = path[len("/fhir") :].strip("/")
        if rel == "metadata":
            self._json(200, srv.capability())
            return
        if rel == ".well-known/smart-configuration":
            self._json(
                200,
                {
                    "token_endpoint": srv.token_url,
                    "grant_types_supported": ["client_credentials"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
                    "scopes_supported": ["system/*.read"],
                    "capabilities": ["client-confidential-asymmetric"],
                },
                ctype="application/json",
            )
            return
        if srv.require_auth and not srv.token_valid(auth):
            self._json(
                401,
                outcome("login", "missing, invalid or expired access token"),
                headers={"WWW-Authenticate": "Bearer"},
            )
            return
        segs = rel.split("/")
        if segs[0] == "bulkstatus" and len(segs) == 2:
            self._status(segs[1])
            return
        if segs[-1] == "$export":
            self._kickoff(segs, query)
            return
        if self.command in ("POST", "PUT") and self._write(segs, body):
            return
        if self.command != "GET":
            self._json(405, outcome("not-supported", "method not allowed"))
            return
        if len(segs) == 1 and segs[0]:
            self._search(segs[0], query)
            return
        if len(segs) == 2:
            key = (segs[0], segs[1])
            with srv.lock:
                res = srv.store.get(key)
                gone = key in srv.deleted
            if res is None:
                self._json(410 if gone else 404, outcome("not-found", f"{segs[0]} not found"))
            else:
                self._json(200, res)
            return
        self._json(404, outcome("not-found", "unknown path"))

    def _write(self, segs: list[str], body: bytes) -> bool:
        """Create (POST Type, with conditional create via If-None-Exist) and update (PUT Type/id)."""
        srv = self.srv
        try:
            res = orjson.loads(body)
        except orjson.JSONDecodeError:
            self._json(400, outcome("invalid", "body is not JSON"))
            return True
        if not isinstance(res, dict) or res.get("resourceType") != segs[0]:
            self._json(400, outcome("invalid", "resourceType does not match the URL"))
            return True
        if self.command == "PUT" and len(segs) == 2:
            if res.get("id") != segs[1]:
                self._json(400, outcome("invalid", "id does not match the URL"))
                return True
            with srv.lock:
                existed = (segs[0], segs[1]) in srv.store
            saved = srv.upsert(res)
            where = f"{srv.base_url}/{segs[0]}/{segs[1]}/_history/{saved['meta']['versionId']}"
            self._json(200 if existed else 201, saved, headers={"Location": where})
            return True
        if self.command == "POST" and len(segs) == 1:
            cond = self.headers.get("If-None-Exist")
            with srv.lock:  # the check and the create are one step, as on a real server
                if cond:
                    found = srv.search(segs[0], parse_qsl(cond.split("?", 1)[-1]))
                    if len(found) > 1:
                        self._json(412, outcome("duplicate", "conditional create matched more than one resource"))
                        return True
                    if len(found) == 1:
                        self._json(200, found[0], headers={"Location": f"{srv.base_url}/{segs[0]}/{found[0]['id']}"})
                        return True
                import uuid

                res["id"] = uuid.uuid4().hex  # a create ignores the client's id
                saved = srv.upsert(res)
            self._json(201, saved, headers={"Location": f"{srv.base_url}/{segs[0]}/{saved['id']}"})
            return True
        return False

    def _search(self, rtype: str, query: str) -> None:
        srv = self.srv
        params = [(k, v) for k, v in parse_qsl(query) if k not in ("_count", "_offset")]
        if rtype not in srv.search_types or (rtype == "MedicationStatement" and not srv.medication_statement):
            self._json(404, outcome("not-supported", f"resource type {rtype} not supported"))
            return
        if (
            rtype == "Observation"
            and srv.obs_requires_category
            and not any(k == "category" for k, _ in params)
        ):
            self._json(
                400, outcome("required", "a category parameter is required for Observation searches")
            )
            return
        q = dict(parse_qsl(query))
        count = min(int(q.get("_count", "10")), srv.max_count)
        offset = int(q.get("_offset", "0"))
        found = srv.search(rtype, params)
        page = found[offset : offset + count]
        links = [{"relation": "self", "url": f"{srv.base_url}/{rtype}?{query}"}]
        capped = srv.paging_stops_after is not None and offset // max(count, 1) + 1 >= srv.paging_stops_after
        if offset + count < len(found) and not capped:
            nxt = urlencode(params + [("_count", str(count)), ("_offset", str(offset + count))])
            links.append({"relation": "next", "url": f"{srv.base_url}/{rtype}?{nxt}"})
        self._json(
            200,
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "link": links,
                "entry": [
                    {
                        "fullUrl": f"{srv.base_url}/{r['resourceType']}/{r['id']}",
                        "resource": r,
                        "search": {"mode": "match"},
                    }
                    for r in page
                ],
            },
        )

    def _kickoff(self, segs: list[str], query: str) -> None:
        srv = self.srv
        if not srv.bulk:
            self._json(404, outcome("not-supported", "$export is not supported"))
            return
        if "respond-async" not in (self.headers.get("Prefer") or ""):
            self._json(400, outcome("invalid", "Prefer: respond-async is required"))
            return
        if segs == ["$export"]:
            level, gid = "system", None
        elif segs == ["Patient", "$export"]:
            level, gid = "patient", None
        elif len(segs) == 3 and segs[0] == "Group":
            level, gid = "group", segs[1]
        else:
            self._json(404, outcome("not-found", "no such $export"))
            return
        if srv.strict_types:
            offered = {r["type"] for r in srv.capability()["rest"][0]["resource"]}
            asked = [t for v in parse_qs(query).get("_type", []) for t in v.split(",") if t]
            unknown = [t for t in asked if t not in offered]
            if unknown:
                self._json(400, outcome("not-supported", f"unsupported _type: {','.join(unknown)}"))
                return
        job = srv.create_job(level, gid, query, f"{srv.base_url}/{'/'.join(segs)}?{query}")
        if isinstance(job, dict):
            self._json(400 if job["issue"][0]["code"] != "not-found" else 404, job)
            return
        self._send(202, b"", headers={"Content-Location": f"{srv.base_url}/bulkstatus/{job.id}"})

    def _status(self, job_id: str) -> None:
        srv = self.srv
        with srv.lock:
            job = srv.jobs.get(job_id)
            if job is None or job.cancelled:
                pass
            elif self.command == "DELETE":
                job.cancelled = True
            else:
                job.polls += 1
        if job is None or (job.cancelled and self.command != "DELETE"):
            self._json(404, outcome("not-found", "no such export job"))
            return
        if self.command == "DELETE":
            self._json(202, outcome("informational", "export deleted", "information"))
            return
        if job.polls <= job.ready_after:
            headers = {"X-Progress": f"{int(100 * job.polls / (job.ready_after + 1))}% complete"}
            if srv.poll_retry_after is not None:
                headers["Retry-After"] = srv.poll_retry_after
            self._send(202, b"", headers=headers)
            return
        if job.failed:
            self._json(500, outcome("exception", "the export job failed: database unavailable"))
            return
        self._json(
            200,
            srv.manifest(job),
            ctype="application/json",
            headers={"Expires": "Fri, 01 Jan 2100 00:00:00 GMT"},
        )

    def _file_bytes(self, job_id: str, name: str) -> bytes | None:
        owner = self.srv._primary or self.srv
        with owner.lock:
            job = owner.jobs.get(job_id)
        if job is None or job.cancelled:
            return None
        name = name.replace("..%2F", "")
        return job.files.get(name)

    def _file(self, path: str, auth: str | None) -> None:
        owner = self.srv._primary or self.srv
        segs = path.split("/")
        if len(segs) != 4:
            self._json(404, outcome("not-found", "no such file"))
            return
        if owner.requires_access_token and self.srv._primary is None and not owner.token_valid(auth):
            self._json(401, outcome("login", "file requires an access token"))
            return
        data = self._file_bytes(segs[2], segs[3])
        if data is None:
            self._json(404, outcome("not-found", "no such file"))
            return
        headers = {}
        if owner.gzip_files:
            data = gzip.compress(data)
        elif owner.gzip_encoding and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        self._send(200, data, "application/fhir+ndjson", headers)
