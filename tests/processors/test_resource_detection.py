"""resource_detection as a user runs it: the real daemon, spans sent with the OpenTelemetry SDK, the file exporter's
output read back. `env` and `system` run on this host and are checked against what Python's os/socket/platform
say; `docker` asks a fake Docker Engine API on a Unix socket (tests/fakes/docker_api.py), `k8s_api` a fake
Kubernetes API (tests/fakes/kube_api.py). Behaviour follows contrib's processor/resourcedetectionprocessor; each
table cites the contrib test it follows."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

import collector.cli
from collector.component import Signal
from collector.processors.resourcedetection.host import DetectionError, parse_resource_attributes
from collector.testing import Sink, build_chain, kv, wait_for
from tests.conftest import daemon_yaml, run_in_process
from tests.fakes.docker_api import API_VERSION, DockerAPIFake
from tests.fakes.kube_api import KubeAPIFake
from tests.processors.k8s_helpers import TOKEN, daemon_env, resources, send_spans, service_account


def config(processors: str, pipelines: str = "traces: {receivers: [otlp], processors: [resource_detection], exporters: [file]}") -> str:
    """`processors`: the processors section's entries, plain YAML."""
    body = processors.replace("{", "{{").replace("}", "}}")
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
processors:
{body}
exporters:
  file: {{{{path: "{{data}}/traces.jsonl"}}}}
  file/keep: {{{{path: "{{data}}/keep.jsonl"}}}}
""", pipelines.replace("{", "{{").replace("}", "}}"))


def test_env_and_system_detect_this_host(daemon_factory: Any) -> None:
    processors = """\
  resource_detection:
    detectors: [env, system]
    system:
      hostname_sources: [os]
      resource_attributes:
        host.arch: {enabled: true}
        host.id: {enabled: true}
        os.description: {enabled: true}
        host.cpu.vendor.id: {enabled: true}
        host.cpu.cache.l2.size: {enabled: true}
        host.ip: {enabled: true}
        os.type: {enabled: false}
"""
    env = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod, team=pay%20ments,host.name=from-env"}
    daemon = daemon_factory(config(processors), env=env)
    send_spans(daemon, {"service.name": "svc", "host.name": "the-sender"}, "s")
    got = wait_for(lambda: resources(daemon.data / "traces.jsonl").get("s"), what="span")
    assert got["deployment.environment.name"] == "prod" and got["team"] == "pay ments"
    # The first detector listed wins (MergeResource(res, detected, false) in detection order), and override
    # (default true) replaces the sender's own value.
    assert got["host.name"] == "from-env"
    assert "os.type" not in got
    assert got["host.arch"] == {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert got["host.id"] == Path("/etc/machine-id").read_text().strip()
    assert os.uname().release in got["os.description"] and os.uname().nodename in got["os.description"]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert f"vendor_id\t: {got['host.cpu.vendor.id']}" in cpuinfo
    assert isinstance(got["host.cpu.cache.l2.size"], int)
    assert isinstance(got["host.ip"], list)  # a slice attribute, as metadata.yaml types it
    assert all(not ip.startswith("127.") for ip in got["host.ip"])


def test_system_host_name_and_override_false_keeps_the_senders_values(daemon_factory: Any) -> None:
    processors = """\
  resource_detection:
    detectors: [system]
    system: {hostname_sources: [os]}
  resource_detection/keep:
    detectors: [system]
    override: false
    system: {hostname_sources: [os]}
"""
    pipelines = """\
traces: {receivers: [otlp], processors: [resource_detection], exporters: [file]}
traces/keep: {receivers: [otlp], processors: [resource_detection/keep], exporters: [file/keep]}
"""
    daemon = daemon_factory(config(processors, pipelines))
    send_spans(daemon, {"service.name": "svc", "host.name": "the-sender"}, "s")
    replaced = wait_for(lambda: resources(daemon.data / "traces.jsonl").get("s"), what="span")
    kept = wait_for(lambda: resources(daemon.data / "keep.jsonl").get("s"), what="span")
    assert replaced["host.name"] == socket.gethostname() and replaced["os.type"] == "linux"
    assert kept["host.name"] == "the-sender" and kept["os.type"] == "linux"


@pytest.fixture
def docker_socket() -> Any:
    directory = Path(tempfile.mkdtemp(prefix="dk", dir="/tmp"))
    fake = DockerAPIFake(directory / "docker.sock", {"ID": "7TRN:IPZB", "Name": "docker-desktop", "OSType": "linux",
                                                    "OperatingSystem": "Docker Desktop", "Architecture": "x86_64"}).start()
    yield fake
    fake.stop()
    (directory / "docker.sock").unlink(missing_ok=True)
    directory.rmdir()


def test_docker_detector_reads_the_engine_api(daemon_factory: Any, docker_socket: DockerAPIFake) -> None:
    processors = """\
  resourcedetection:
    detectors: [docker]
"""
    daemon = daemon_factory(config(processors, "traces: {receivers: [otlp], processors: [resourcedetection], exporters: [file]}"),
                            env={"DOCKER_HOST": f"unix://{docker_socket.socket_path}"})
    send_spans(daemon, {"service.name": "svc"}, "s")
    got = wait_for(lambda: resources(daemon.data / "traces.jsonl").get("s"), what="span")
    assert got["host.name"] == "docker-desktop" and got["os.type"] == "linux"
    assert docker_socket.requests == ["/_ping", f"/v{API_VERSION}/info"]  # the client's version negotiation
    assert any(r.get("event") == '"resourcedetection" alias is deprecated; use "resource_detection" instead' for r in daemon.log_records())


def test_a_detector_still_failing_at_the_timeout_stops_start_up(daemon_factory: Any, tmp_path: Path) -> None:
    processors = """\
  resource_detection:
    detectors: [env, docker]
    timeout: 1s
"""
    daemon = daemon_factory(config(processors), env={"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}, start=False)
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(30) != 0
    assert "processor resource_detection: detector docker: failed getting OS type: cannot reach the Docker daemon" in daemon.logs()


def test_k8s_api_detector_reads_the_node_and_the_cluster(daemon_factory: Any, tmp_path: Path) -> None:
    sa_dir, tls = service_account(tmp_path / "sa")
    with KubeAPIFake(token=TOKEN, tls=tls) as api:
        api.put("nodes", {"metadata": {"name": "node-7", "uid": "node-uid-7"}})
        api.put("namespaces", {"metadata": {"name": "kube-system", "uid": "cluster-uid-9"}})
        processors = """\
  resource_detection:
    detectors: [k8s_api]
  resource_detection/older:
    detectors: [k8snode]
    k8snode: {auth_type: serviceAccount, node_from_env_var: MY_NODE}
"""
        pipelines = """\
traces: {receivers: [otlp], processors: [resource_detection], exporters: [file]}
traces/keep: {receivers: [otlp], processors: [resource_detection/older], exporters: [file/keep]}
"""
        daemon = daemon_factory(config(processors, pipelines), env=daemon_env(api, sa_dir, K8S_NODE_NAME="node-7", MY_NODE="node-7"))
        send_spans(daemon, {"service.name": "svc"}, "s")
        for path in ("traces.jsonl", "keep.jsonl"):
            got = wait_for(lambda p=path: resources(daemon.data / p).get("s"), what="span")
            assert (got["k8s.node.name"], got["k8s.node.uid"], got["k8s.cluster.uid"]) == ("node-7", "node-uid-7", "cluster-uid-9")
        assert any(r.get("event") == "the k8snode detector name is deprecated, use k8s_api instead" for r in daemon.log_records())


@pytest.mark.parametrize(("body", "key", "message"), [
    ("detectors: [env, eks]", "detectors[1]", 'detector "eks" (otelcol detects AWS EKS cluster metadata) is not available in this daemon; set those attributes with OTEL_RESOURCE_ATTRIBUTES'),
    ("detectors: [envv]", "detectors[0]", "invalid detector key: envv"),
    ("system: {resource_attributes: {host.bogus: {enabled: true}}}", "system.resource_attributes.host.bogus", 'the system detector has no resource attribute "host.bogus"'),
    ("system: {hostname_sources: [os, dnss]}", "system.hostname_sources[1]", 'expected one of "os", "dns", "cname", "lookup"'),
    ("system: {resource_attributes: {os.name: {enabled: true}}}", "system.resource_attributes.os.name", "os.name: not detected by this daemon"),
    ("detectors: [k8s_api]", "detectors[0]", "node name can't be found: set the environment variable K8S_NODE_NAME"),
    ("timeout: 0s", "timeout", "must be greater than 0"),
])
def test_config_errors_name_file_line_and_key(tmp_path: Path, body: str, key: str, message: str) -> None:
    escaped = body.replace("{", "{{").replace("}", "}}")
    text = daemon_yaml("""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  resource_detection:
    BODY
exporters:
  debug: {{}}
""".replace("BODY", escaped), "traces: {{receivers: [otlp], processors: [resource_detection], exporters: [debug]}}")
    path = tmp_path / "config.yaml"
    path.write_text(text.format(grpc=1, http=2, health=3, metrics=4, data=tmp_path))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.strip() == body)
    env = {k: v for k, v in os.environ.items() if k != "K8S_NODE_NAME"}
    result = run_in_process(collector.cli.main, "validate", "--config", str(path), env=env)
    assert result.returncode != 0
    assert f"{path}:{line}: processors.resource_detection.{key}: {message}" in result.stderr, result.stderr


def test_cloud_detector_settings_alone_load_with_a_warning(daemon_factory: Any) -> None:
    processors = """\
  resource_detection:
    detectors: [env]
    eks: {resource_attributes: {k8s.cluster.name: {enabled: true}}}
    fail_on_missing_metadata: true
"""
    daemon = daemon_factory(config(processors))
    warnings = {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}
    assert warnings["processors.resource_detection.eks"].startswith("settings of an otelcol cloud detector this daemon does not have")
    assert "processors.resource_detection.fail_on_missing_metadata" in warnings


@pytest.mark.parametrize("signal", [Signal.LOGS, Signal.METRICS])
def test_logs_and_metrics_resources_get_the_detected_attributes(signal: Signal, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod")
    sink = Sink()
    request = {Signal.LOGS: ExportLogsServiceRequest, Signal.METRICS: ExportMetricsServiceRequest}[signal]()
    entry = (request.resource_logs if signal == Signal.LOGS else request.resource_metrics).add()
    entry.resource.attributes.append(kv("service.name", "svc"))

    async def run() -> None:
        chain = await build_chain([("resource_detection", {"detectors": ["env"]})], sink, signal=signal)
        await chain.consume(request)
        await chain.shutdown()

    asyncio.run(run())
    (out,) = sink.requests
    resource = (out.resource_logs if signal == Signal.LOGS else out.resource_metrics)[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes} == {"service.name": "svc", "deployment.environment.name": "prod"}


# contrib internal/env/env_test.go TestInitializeAttributeMap (error messages here never echo the value).
@pytest.mark.parametrize(("encoded", "expected"), [
    (' example.org/test-1 =  test $ %3A \\" ,  Abc=Def  ', {"example.org/test-1": 'test $ : \\"', "Abc": "Def"}),
    ("single=key", {"single": "key"}),
    ("invalid=url-%3-encoding", "invalid URL escape"),
    ("invalid-char-ü=test", "invalid resource format"),
    ("invalid-char=ü-test", "invalid resource format"),
    ("extra=chars, a", "invalid text after the last pair"),
    ("invalid=char,übetween=attributes", "invalid text"),
    ("key=value,key", "invalid text after the last pair"),  # TestDetectError
])
def test_otel_resource_attributes_parsing(encoded: str, expected: Any) -> None:
    if isinstance(expected, dict):
        assert parse_resource_attributes(encoded) == expected
    else:
        with pytest.raises(DetectionError, match=expected):
            parse_resource_attributes(encoded)
