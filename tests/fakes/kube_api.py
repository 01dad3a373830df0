"""A fake Kubernetes API server built from the documented API (kubernetes.io/docs/reference/using-api/api-concepts),
for tests: no cluster can run on these machines. It is a fake, not a cluster: objects are what a test puts in.

What it does the way the API server does:
- collections: `GET /api/v1/pods`, `/api/v1/namespaces/{ns}/pods`, `/apis/apps/v1/replicasets` (and namespaced),
  `/api/v1/namespaces`, `/api/v1/nodes`, `/apis/discovery.k8s.io/v1/endpointslices` (and namespaced); single objects: `/api/v1/namespaces/{name}`, `/api/v1/nodes/{name}`,
  `/api/v1/namespaces/{ns}/pods/{name}`, `/apis/apps/v1/namespaces/{ns}/replicasets/{name}` (404 `NotFound` Status
  otherwise);
- a list is `{"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "<rv>"}, "items": [...]}`;
  every change bumps one cluster-wide resourceVersion and is stamped on the object's metadata;
- `labelSelector` (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated) and `fieldSelector` (`a.b=v`, `a.b!=v`);
- `?watch=true&resourceVersion=<rv>`: a chunked `application/json` stream of newline-delimited events
  `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}` for the changes after `rv`, then live ones, plus
  `BOOKMARK` events when `allowWatchBookmarks=true` and `bookmark()` is called; a `rv` older than the compaction
  point (`compact()`) gets `{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", ...}}`
  and the stream ends, as the API server answers an expired watch;
- `Authorization: Bearer <token>` checked when `token` is set (401 `Unauthorized` Status otherwise);
- TLS when given a certificate and key.
`end_watches(hold=True)` closes every open watch stream (the server's watch timeout) and, with `hold`, keeps new
watches waiting until `release_watches()`: changes and a `compact()` made meanwhile make the clients' next watch
expire, as after a long disconnection.
"""

from __future__ import annotations

import copy
import json
import re
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# collection name -> (API prefix, list kind, object kind, apiVersion, namespaced)
KINDS = {
    "pods": ("/api/v1", "PodList", "Pod", "v1", True),
    "replicasets": ("/apis/apps/v1", "ReplicaSetList", "ReplicaSet", "apps/v1", True),
    "namespaces": ("/api/v1", "NamespaceList", "Namespace", "v1", False),
    "nodes": ("/api/v1", "NodeList", "Node", "v1", False),
    "endpointslices": ("/apis/discovery.k8s.io/v1", "EndpointSliceList", "EndpointSlice", "discovery.k8s.io/v1", True),
}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def matches_labels(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = re.split("==?", term, maxsplit=1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def matches_fields(obj: dict[str, Any], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if _field(obj, k) == v:
                return False
        else:
            k, v = re.split("==?", term, maxsplit=1)
            if _field(obj, k) != v:
                return False
    return True


class KubeAPIFake:
    def __init__(self, *, token: str | None = None, tls: tuple[str, str] | None = None):
        self.token = token
        self.tls = tls
        self.lock = threading.Condition()
        self.version = 100
        self.compacted = 0  # watches from a resourceVersion below this get 410 Expired
        self.holding = False
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {name: {} for name in KINDS}
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, collection, type, object)
        self.requests: list[str] = []  # path?query of every request, in arrival order
        self.generation = 0  # bumped by end_watches()
        self.server: ThreadingHTTPServer | None = None

    # --- what tests do to the cluster -------------------------------------------------------------

    def put(self, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Creates or replaces an object (ADDED or MODIFIED), stamping uid and resourceVersion."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        with self.lock:
            old = self.objects[collection].get(key)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", old["metadata"].get("creationTimestamp") if old else "2026-01-02T03:04:05Z")
            self.version += 1
            meta["resourceVersion"] = str(self.version)
            self.objects[collection][key] = obj
            self.events.append((self.version, collection, "MODIFIED" if old else "ADDED", obj))
            self.lock.notify_all()
        return obj

    def delete(self, collection: str, name: str, namespace: str = "") -> None:
        with self.lock:
            obj = self.objects[collection].pop((namespace, name))
            self.version += 1
            gone = copy.deepcopy(obj)
            gone["metadata"]["resourceVersion"] = str(self.version)
            self.events.append((self.version, collection, "DELETED", gone))
            self.lock.notify_all()

    def compact(self) -> None:
        """Forgets the history so far: a watch from an older resourceVersion than the current one is answered
        410 Expired."""
        with self.lock:
            self.compacted = self.version
            self.lock.notify_all()

    def end_watches(self, hold: bool = False) -> None:
        with self.lock:
            self.generation += 1
            self.holding = hold
            self.lock.notify_all()

    def release_watches(self) -> None:
        with self.lock:
            self.holding = False
            self.lock.notify_all()

    def watch_count(self, collection: str) -> int:
        return sum(1 for r in self.requests if "watch=true" in r and f"/{collection}?" in r)

    # --- serving ------------------------------------------------------------------------------------

    def start(self) -> KubeAPIFake:
        fake = self

        class Handler(_Handler):
            api = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.end_watches()
            self.server.shutdown()
            self.server.server_close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def __enter__(self) -> KubeAPIFake:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def route(self, path: str) -> tuple[str, str, str] | None:
        """(collection, namespace, name) for a request path; name "" for a collection."""
        for collection, (prefix, *_rest) in KINDS.items():
            if not path.startswith(prefix + "/"):
                continue
            parts = path[len(prefix) + 1:].split("/")
            if parts == [collection]:
                return collection, "", ""
            if collection == "namespaces" and len(parts) == 2 and parts[0] == "namespaces":
                return collection, "", parts[1]
            if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == collection:
                return collection, parts[1], ""
            if len(parts) == 4 and parts[0] == "namespaces" and parts[2] == collection:
                return collection, parts[1], parts[3]
            if collection == "nodes" and len(parts) == 2 and parts[0] == "nodes":
                return collection, "", parts[1]
        return None

    def selected(self, collection: str, namespace: str, query: dict[str, str], obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        return ((not namespace or meta.get("namespace") == namespace)
                and matches_labels(obj, query.get("labelSelector", "")) and matches_fields(obj, query.get("fieldSelector", "")))

    def typed(self, collection: str, obj: dict[str, Any]) -> dict[str, Any]:
        _, _, kind, api_version, _ = KINDS[collection]
        return {"kind": kind, "apiVersion": api_version, **obj}


class _Handler(BaseHTTPRequestHandler):
    api: KubeAPIFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        api = self.api
        url = urlsplit(self.path)
        api.requests.append(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if api.token is not None and self.headers.get("Authorization") != f"Bearer {api.token}":
            self._json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        route = api.route(url.path)
        if route is None:
            self._json(404, status(404, "NotFound", "the server could not find the requested resource"))
            return
        collection, namespace, name = route
        if name:
            with api.lock:
                obj = api.objects[collection].get((namespace, name))
            if obj is None:
                self._json(404, status(404, "NotFound", f'{collection} "{name}" not found'))
            else:
                self._json(200, api.typed(collection, obj))
            return
        if query.get("watch") in ("true", "1"):
            self._watch(collection, namespace, query)
            return
        with api.lock:
            items = [o for o in api.objects[collection].values() if api.selected(collection, namespace, query, o)]
            version = api.version
        _, list_kind, _, api_version, _ = KINDS[collection]
        self._json(200, {"kind": list_kind, "apiVersion": api_version, "metadata": {"resourceVersion": str(version)}, "items": items})

    def _send_event(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, collection: str, namespace: str, query: dict[str, str]) -> None:
        api = self.api
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        since = int(query.get("resourceVersion") or api.version)
        try:
            with api.lock:
                while api.holding and api.server is not None:
                    api.lock.wait(0.1)
                generation = api.generation
                if since < api.compacted:
                    event = {"type": "ERROR", "object": status(410, "Expired", f"too old resource version: {since} ({api.compacted})")}
                    self._send_event(event)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                sent = since
                while api.generation == generation and api.server is not None:
                    for rv, coll, kind, obj in api.events:
                        if rv <= sent or coll != collection:
                            continue
                        sent = rv
                        if api.selected(collection, namespace, query, obj):
                            self._send_event({"type": kind, "object": api.typed(collection, obj)})
                    sent = max(sent, api.version)
                    api.lock.wait(0.5)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True
