"""An Elasticsearch `_bulk` endpoint built from the documented wire format (docs/wire-formats.md,
"Elasticsearch"), for tests: no Elasticsearch can be installed on these machines.

What it does the way Elasticsearch does:
- `POST /_bulk` and `POST /{index}/_bulk`; NDJSON bodies whose last line must end with `\\n` (otherwise
  400 `illegal_argument_exception`, "The bulk request must be terminated by a newline [\\n]");
  `Content-Encoding: gzip` bodies; `index`, `create`, `update` and `delete` action lines, a source line
  after each but `delete`;
- data streams: an index named `traces-*-*`, `logs-*-*` or `metrics-*-*` is a data stream (the built-in
  templates' patterns); it accepts only `create` (`index` → item 400) and needs `@timestamp`;
- `create` of an existing `_id` → item 409 `version_conflict_engine_exception`;
- per-item statuses in request order, `errors: true` when any item failed, HTTP 200 either way;
- `filter_path` (comma-separated, `*` matches one key, arrays are walked through);
- TLS when given a certificate and key (`tls=`);
- auth: with `api_key` set only `Authorization: ApiKey <key>` passes, with `basic` set only that user and
  password; others get 401 `security_exception` with a `WWW-Authenticate` header.

Faults to inject: `fail_items(match, status, times)` answers matching documents with `status` the next
`times` times they are seen (429 `es_rejected_execution_exception`, 400 `document_parsing_exception`,
409 ...); `fail_requests(status, count, retry_after)` answers the next `count` bulk requests with a
request-level error. `stop()` / `start()` again on the same port simulates an outage.
"""

from __future__ import annotations

import base64
import gzip
import re
import socket
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

DATA_STREAM = re.compile(r"^(traces|logs|metrics)-[^-]+-[^-]+$")

_ITEM_ERRORS = {
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation [shard_detail=[traces][0]]"),
    400: ("document_parsing_exception", "[1:15] failed to parse field [duration] of type [long]"),
    409: ("version_conflict_engine_exception", "[{id}]: version conflict, document already exists"),
    500: ("internal_server_error", "injected"),
    503: ("unavailable_shards_exception", "primary shard is not active"),
}
_REQUEST_ERRORS = {
    429: "circuit_breaking_exception",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "cluster_block_exception",
    504: "gateway_timeout",
    400: "illegal_argument_exception",
    401: "security_exception",
    403: "security_exception",
    413: "content_too_long_exception",
}


@dataclass
class _ItemFault:
    match: Callable[[str, dict[str, Any]], bool]
    status: int
    remaining: int


@dataclass
class BulkCall:
    """One request as received, for assertions about what the client sent."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    wire_bytes: int
    body_bytes: int
    actions: list[tuple[str, str]]  # (action, index) per item, in order
    statuses: list[int]  # per item; empty for a request-level answer
    request_status: int
    doc_names: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


def filter_response(data: Any, patterns: list[list[str]]) -> Any:
    """Elasticsearch's filter_path: keep only the paths matching one of the patterns."""
    if isinstance(data, list):
        kept = [filter_response(x, patterns) for x in data]
        return [x for x in kept if x is not _DROP]
    if not isinstance(data, dict):
        return data if any(not p for p in patterns) else _DROP
    out = {}
    for key, child in data.items():
        rest = [p[1:] for p in patterns if p and (p[0] == "*" or p[0] == key)]
        if not rest:
            continue
        if any(not p for p in rest):
            out[key] = child
            continue
        filtered = filter_response(child, rest)
        if filtered is not _DROP and filtered != {}:
            out[key] = filtered
    return out if out else _DROP


_DROP: Any = object()


class ElasticsearchFake:
    def __init__(self, *, api_key: str | None = None, basic: tuple[str, str] | None = None, port: int = 0, tls: tuple[str, str] | None = None):
        self.tls = tls  # (certificate, key) PEM files: serve https
        self.api_key = api_key
        self.basic = basic
        self.port = port
        self.lock = threading.Lock()
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}  # index → _id → source
        self.calls: list[BulkCall] = []
        self._item_faults: list[_ItemFault] = []
        self._request_faults: list[tuple[int, float | None] | None] = []
        self.latency = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> ElasticsearchFake:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, as a process that went away would."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> ElasticsearchFake:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- faults --------------------------------------------------------------------------

    def fail_items(self, match: Callable[[str, dict[str, Any]], bool], status: int, times: int = 1) -> None:
        with self.lock:
            self._item_faults.append(_ItemFault(match, status, times))

    def fail_requests(self, status: int, count: int = 1, retry_after: float | None = None, after: int = 0) -> None:
        """Answer `count` bulk requests with `status`, once `after` more have been answered normally."""
        with self.lock:
            self._request_faults.extend([None] * after + [(status, retry_after)] * count)

    # --- inspection ----------------------------------------------------------------------

    def documents(self, index: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            if index is not None:
                return list(self.indices.get(index, {}).values())
            return [doc for docs in self.indices.values() for doc in docs.values()]

    def count(self, index: str | None = None) -> int:
        with self.lock:
            if index is not None:
                return len(self.indices.get(index, {}))
            return sum(len(d) for d in self.indices.values())

    def wait_for(self, count: int, index: str | None = None, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(index) >= count:
                return self.documents(index)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} documents in {index or 'all indices'}, have {self.count(index)}; indices: {sorted(self.indices)}")

    # --- bulk semantics ------------------------------------------------------------------

    def _check_auth(self, header: str | None) -> bool:
        if self.api_key is None and self.basic is None:
            return True
        if header is None:
            return False
        scheme, _, credentials = header.partition(" ")
        if self.api_key is not None and scheme == "ApiKey" and credentials == self.api_key:
            return True
        if self.basic is not None and scheme == "Basic":
            try:
                user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return (user, password) == self.basic
        return False

    def _request_fault(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self._request_faults.pop(0) if self._request_faults else None

    def _item_fault(self, index: str, source: dict[str, Any]) -> int | None:
        with self.lock:
            for fault in self._item_faults:
                if fault.remaining > 0 and fault.match(index, source):
                    fault.remaining -= 1
                    return fault.status
        return None

    def bulk(self, default_index: str | None, body: bytes) -> tuple[int, dict[str, Any], list[tuple[str, str]], list[int], list[str]]:
        """(HTTP status, response, actions, statuses, doc names) for an already-decoded body."""
        if not body.endswith(b"\n"):
            return 400, _error("illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"), [], [], []
        lines = body.split(b"\n")[:-1]
        items: list[dict[str, Any]] = []
        actions: list[tuple[str, str]] = []
        statuses: list[int] = []
        names: list[str] = []
        pos = 0
        while pos < len(lines):
            if not lines[pos].strip():
                pos += 1
                continue
            try:
                action_line = orjson.loads(lines[pos])
            except orjson.JSONDecodeError as exc:
                return 400, _error("x_content_parse_exception", f"[{pos + 1}:1] malformed action/metadata line: {exc}"), [], [], []
            if not isinstance(action_line, dict) or len(action_line) != 1:
                return 400, _error("illegal_argument_exception", f"Malformed action/metadata line [{pos + 1}], expected a single action"), [], [], []
            ((action, meta),) = action_line.items()
            if action not in ("index", "create", "update", "delete") or not isinstance(meta, dict):
                return 400, _error("illegal_argument_exception", f"Malformed action/metadata line [{pos + 1}], expected one of [create, delete, index, update] but found [{action}]"), [], [], []
            index = meta.get("_index", default_index)
            if index is None:
                return 400, _error("action_request_validation_exception", "Validation Failed: 1: index is missing;"), [], [], []
            source: dict[str, Any] | None = None
            if action != "delete":
                pos += 1
                if pos >= len(lines):
                    return 400, _error("illegal_argument_exception", f"Validation Failed: source is missing for the {action} action on line [{pos}]"), [], [], []
                try:
                    source = orjson.loads(lines[pos])
                except orjson.JSONDecodeError as exc:
                    source = None
                    item = self._item(action, index, meta.get("_id"), 400, ("document_parsing_exception", f"failed to parse: {exc}"))
                    items.append(item)
                    actions.append((action, index))
                    statuses.append(400)
                    names.append("")
                    pos += 1
                    continue
            pos += 1
            actions.append((action, index))
            names.append(str((source or {}).get("name", "")))
            status, item = self._apply(action, index, meta, source)
            items.append(item)
            statuses.append(status)
        errors = any(s >= 300 for s in statuses)
        return 200, {"took": 1, "errors": errors, "items": items}, actions, statuses, names

    def _apply(self, action: str, index: str, meta: dict[str, Any], source: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        doc_id = meta.get("_id") or uuid.uuid4().hex[:20]
        is_stream = DATA_STREAM.match(index) is not None
        if is_stream and action != "create":
            return 400, self._item(action, index, doc_id, 400, ("illegal_argument_exception", f"only write ops with an op_type of create are allowed in data streams (index [{index}])"))
        if source is not None and not isinstance(source, dict):
            return 400, self._item(action, index, doc_id, 400, ("document_parsing_exception", "[1:1] failed to parse: not an object"))
        if is_stream and "@timestamp" not in (source or {}):
            return 400, self._item(action, index, doc_id, 400, ("document_parsing_exception", "data stream timestamp field [@timestamp] is missing"))
        injected = self._item_fault(index, source or {})
        if injected is not None:
            err = _ITEM_ERRORS.get(injected, ("exception", "injected"))
            return injected, self._item(action, index, doc_id, injected, (err[0], err[1].format(id=doc_id)))
        backing = f".ds-{index}-000001" if is_stream else index
        with self.lock:
            docs = self.indices.setdefault(index, {})
            if action == "create" and doc_id in docs:
                conflict = _ITEM_ERRORS[409]
                return 409, self._item(action, backing, doc_id, 409, (conflict[0], conflict[1].format(id=doc_id)))
            if action == "delete":
                found = docs.pop(doc_id, None)
                return (200 if found else 404), {action: {"_index": backing, "_id": doc_id, "result": "deleted" if found else "not_found", "status": 200 if found else 404}}
            created = doc_id not in docs
            if action == "update":
                docs.setdefault(doc_id, {}).update((source or {}).get("doc", {}))
            else:
                docs[doc_id] = source or {}
        status = 201 if created else 200
        return status, {action: {"_index": backing, "_id": doc_id, "_version": 1, "result": "created" if created else "updated", "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1, "status": status}}

    @staticmethod
    def _item(action: str, index: str, doc_id: str | None, status: int, error: tuple[str, str]) -> dict[str, Any]:
        entry: dict[str, Any] = {"_index": index, "status": status, "error": {"type": error[0], "reason": error[1]}}
        if doc_id:
            entry["_id"] = doc_id
        return {action: entry}


def _error(kind: str, reason: str, status: int = 400) -> dict[str, Any]:
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}, "status": status}


class _Handler(BaseHTTPRequestHandler):
    fake: ElasticsearchFake
    protocol_version = "HTTP/1.1"  # keep-alive, as Elasticsearch serves

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake.lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake.lock:
            self.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    _call: BulkCall | None = None

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        call, self._call = self._call, None
        if call is not None:  # recorded before the answer, so a client that has it also sees the call
            with self.fake.lock:
                self.fake.calls.append(call)
        body = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-elastic-product", "Elasticsearch")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not self.fake._check_auth(self.headers.get("Authorization")):
            self._reply(401, _error("security_exception", "missing authentication credentials", 401), {"WWW-Authenticate": 'Basic realm="security", ApiKey'})
            return
        self._reply(200, {"name": "fake", "cluster_name": "fake", "version": {"number": "8.17.0", "build_flavor": "default"}, "tagline": "You Know, for Search"})

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path.rstrip("/")
        segments = [s for s in path.split("/") if s]
        call = self._call = BulkCall(self.path, query, {k.lower(): v for k, v in self.headers.items()}, len(raw), 0, [], [], 0)
        if not segments or segments[-1] != "_bulk" or len(segments) > 2:
            call.request_status = 400
            self._reply(400, {"error": f"no handler found for uri [{self.path}] and method [POST]", "status": 400})
            return
        if fake.latency:
            time.sleep(fake.latency)
        if not fake._check_auth(self.headers.get("Authorization")):
            call.request_status = 401
            self._reply(401, _error("security_exception", "unable to authenticate user for REST request [/_bulk]", 401), {"WWW-Authenticate": 'Basic realm="security", ApiKey'})
            return
        fault = fake._request_fault()
        if fault is not None:
            status, retry_after = fault
            call.request_status = status
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            self._reply(status, _error(_REQUEST_ERRORS.get(status, "exception"), "injected request failure", status), headers)
            return
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        body = raw
        if encoding == "gzip":
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                call.request_status = 400
                self._reply(400, _error("illegal_argument_exception", f"failed to decompress the request body: {exc}"))
                return
        elif encoding not in ("", "identity"):
            call.request_status = 415
            self._reply(415, _error("illegal_argument_exception", f"unsupported Content-Encoding [{encoding}]", 415))
            return
        call.body_bytes = len(body)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/x-ndjson", "application/json", "application/vnd.elasticsearch+x-ndjson"):
            call.request_status = 406
            self._reply(406, _error("media_type_header_exception", f"Content-Type header [{ctype}] is not supported", 406))
            return
        default_index = segments[0] if len(segments) == 2 else None
        status, response, call.actions, call.statuses, call.doc_names = fake.bulk(default_index, body)
        call.request_status = status
        filter_path = ",".join(query.get("filter_path", []))
        if filter_path and status == 200:
            filtered = filter_response(response, [p.split(".") for p in filter_path.split(",") if p])
            response = {} if filtered is _DROP else filtered
        self._reply(status, response)
