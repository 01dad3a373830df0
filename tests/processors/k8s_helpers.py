"""Shared by the k8s_attributes and resource_detection tests: a TLS-serving fake Kubernetes API (tests/fakes/kube_api.py)
with the pod's service account mounted in a temp directory, the objects of a small cluster, and spans sent with the
OpenTelemetry SDK and read back from the file exporter."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector import otlpjson
from collector.component import Signal
from tests.fakes.kube_api import KubeAPIFake

TOKEN = "sa-token-k8s-test"


def service_account(directory: Path) -> tuple[Path, tuple[str, str]]:
    """A service account directory (token, ca.crt) and the API server's certificate and key, made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "server.key", directory / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kubernetes",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    (directory / "token").write_text(TOKEN + "\n")
    return directory, (str(cert), str(key))


def daemon_env(api: KubeAPIFake, sa_dir: Path, **extra: str) -> dict[str, str]:
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port),
            "LLM_COLLECTOR_SERVICE_ACCOUNT_DIR": str(sa_dir), **extra}


def pod(name: str, ip: str, *, namespace: str = "shop", node: str = "node-1", owner: tuple[str, str, str] | None = None,
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, image: str = "registry.example.com/shop/app:1.0.0",
        container: str = "app", container_id: str = "containerd://0123abcd", uid: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}, "annotations": annotations or {},
                            "creationTimestamp": "2026-12-01T10:00:00Z"}
    if uid:
        meta["uid"] = uid
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": owner[2], "controller": True}]
    return {"metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": container, "image": image}]},
            "status": {"podIP": ip, "startTime": "2026-12-01T10:00:01Z",
                       "containerStatuses": [{"name": container, "containerID": container_id, "restartCount": 0}]}}


def send_spans(daemon: Any, resource: dict[str, str], name: str = "op", transport: str = "http") -> None:
    """One span through the SDK's OTLP exporter, with `resource` as its resource."""
    exporter = (HTTPSpanExporter(endpoint=f"{daemon.http_url}/v1/traces") if transport == "http"
                else GRPCSpanExporter(endpoint=daemon.grpc_endpoint, insecure=True))
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("k8s-test").start_as_current_span(name):
        pass
    provider.shutdown()


def resources(path: Path) -> dict[str, dict[str, Any]]:
    """Span name -> its resource attributes (key -> value), from the file exporter's JSON lines."""
    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    for line in path.read_bytes().splitlines():
        request = otlpjson.decode(Signal.TRACES, line)
        for rs in request.resource_spans:
            attrs = {a.key: _value(a.value) for a in rs.resource.attributes if a.value.WhichOneof("value")}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    out[span.name] = attrs
    return out


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind)
