"""Whole otelcol configs written by the OpenTelemetry projects (tests/fixtures/otelcol/, each with its
source in a header comment: the Helm chart's default values and rendered examples, the OTel demo's
collector config, contrib's examples), pasted as a user would: each whose types are all implemented loads
(`llm-collector validate`) and starts (a real daemon whose health check answers); each other one is refused
naming exactly the types this daemon lacks, and nothing else but the problems otelcol reports too."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import collector.cli
from tests.conftest import Daemon, run_in_process

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "otelcol"

# What the configs read from the environment (the chart's pod fields, the demo's .env).
ENV = {
    "MY_POD_IP": "127.0.0.1", "K8S_NODE_NAME": "node-1", "OTEL_K8S_NODE_NAME": "node-1", "OTEL_K8S_NAMESPACE": "default",
    "OTEL_K8S_NODE_IP": "127.0.0.1", "OTEL_K8S_POD_NAME": "collector-0", "OTEL_K8S_POD_IP": "127.0.0.1",
    "OTEL_COLLECTOR_HOST": "127.0.0.1", "OTEL_COLLECTOR_PORT_GRPC": "4317", "OTEL_COLLECTOR_PORT_HTTP": "4318",
    "AD_PROMETHEUS_PORT": "9464", "FRONTEND_PROXY_ADDR": "frontend-proxy:8080", "IMAGE_PROVIDER_HOST": "image-provider",
    "IMAGE_PROVIDER_PORT": "8081", "POSTGRES_MONITORING_PASSWORD": "x", "REDACTION_HMAC_KEY": "k",
}

_HELM_USUAL: set[tuple[str, str]] = set()
# config file -> the types it names that this daemon lacks, as (kind, type).
MISSING: dict[str, set[tuple[str, str]]] = {
    "helm-deployment-otlp-traces.yaml": set(),
    "helm-values-default.yaml": _HELM_USUAL,
    "helm-custom-metrics-hpa.yaml": _HELM_USUAL,
    "helm-daemonset-and-deployment.yaml": _HELM_USUAL,
    "helm-daemonset-and-deployment-agent.yaml": _HELM_USUAL,
    "helm-daemonset-lifecycle-hooks-agent.yaml": _HELM_USUAL,
    "helm-daemonset-only-agent.yaml": _HELM_USUAL,
    "helm-deployment-only.yaml": _HELM_USUAL,
    "helm-statefulset-only-statefulset.yaml": _HELM_USUAL,
    "helm-statefulset-with-pvc-statefulset.yaml": _HELM_USUAL,
    "helm-using-GOMEMLIMIT.yaml": _HELM_USUAL,
    "helm-using-shared-processes.yaml": _HELM_USUAL,
    "helm-internalTelemetryViaOTLP.yaml": set(),
    "helm-alternate-config.yaml": {("receiver", "k8s_cluster"), ("receiver", "k8sobjects")},
    "helm-kubernetesAttributes.yaml": _HELM_USUAL,
    "helm-daemonset-annotation-discovery-agent.yaml": _HELM_USUAL | {("extension", "k8s_observer"), ("receiver", "receiver_creator")},
    "helm-daemonset-cluster-metrics-agent.yaml": _HELM_USUAL | {("extension", "k8s_leader_elector"), ("receiver", "k8s_cluster")},
    "helm-daemonset-collector-logs-agent.yaml": _HELM_USUAL,
    "helm-daemonset-hostmetrics-agent.yaml": _HELM_USUAL | {("receiver", "hostmetrics")},
    "helm-daemonset-kubernetes-objects-agent.yaml": _HELM_USUAL | {("extension", "k8s_leader_elector"), ("receiver", "k8sobjects")},
    "helm-daemonset-resource-detection-agent.yaml": _HELM_USUAL,
    "helm-deployment-cluster-metrics.yaml": _HELM_USUAL | {("receiver", "k8s_cluster")},
    "demo-otelcol-config.yaml": {
        ("receiver", "docker_stats"), ("receiver", "host_metrics"), ("receiver", "http_check"), ("receiver", "nginx"),
        ("receiver", "postgresql"), ("receiver", "redis"),
    },
    "contrib-secure-tracing.yaml": {("exporter", "logging")},
    "contrib-fault-tolerant-logs-collection.yaml": set(),
}

# Problems besides missing types, each one otelcol reports as well.
OTHER: dict[str, list[str]] = {
    # The chart's example lists a `resource` processor it never configures.
    "helm-kubernetesAttributes.yaml": ['service.pipelines.traces.processors[0]: references processor "resource" which is not configured'],
    # Profiles pipelines need otelcol's service.profilesSupport feature gate.
    "demo-otelcol-config.yaml": ['service.pipelines.profiles: pipeline "profiles": profiling signal support is at alpha level'],
    # The chart's resource-detection preset lists the EKS detector, an AWS metadata reader this daemon does not have.
    "helm-daemonset-resource-detection-agent.yaml": [
        'processors.resourcedetection/env.detectors[2]: detector "eks" (otelcol detects AWS EKS cluster metadata) is not available in this daemon',
    ],
    # file_storage's directories must exist (contrib's filestorage Validate), and these are /var/lib/otelcol/...
    "contrib-fault-tolerant-logs-collection.yaml": [
        "extensions.file_storage/filelogreceiver.directory: directory /var/lib/otelcol/file_storage/receiver does not exist",
        "extensions.file_storage/otlpoutput.directory: directory /var/lib/otelcol/file_storage/output does not exist",
    ],
}

_REFUSED = re.compile(r'^\S+: (?:unknown (\w+) type "([^"]+)" \(valid values|(connector) type "([^"]+)" is not supported)')


def corpus() -> list[str]:
    """The whole configs of the folder (it also holds component blocks, which have no service section)."""
    return sorted(p.name for p in CORPUS.glob("*.yaml") if p.read_text().startswith("# Source: ") and "service" in (yaml.safe_load(p.read_text()) or {}))


def test_every_config_of_the_corpus_names_its_source_and_has_its_expectation() -> None:
    names = corpus()
    assert len(names) >= 25
    assert names == sorted(MISSING)
    for name in names:
        header = (CORPUS / name).read_text().splitlines()[:2]
        assert re.match(r"^# Source: open-telemetry/[\w.-]+@[0-9a-f]{40}$", header[0]), name
        assert header[1].startswith("#   "), name


def _validate(path: Path) -> tuple[int, list[str]]:
    result = run_in_process(collector.cli.main, "validate", "--config", str(path), env={**os.environ, **ENV})
    problems = [line.strip().split(": ", 1)[1] for line in result.stderr.splitlines()[1:]]
    return result.returncode, problems


@pytest.mark.parametrize("name", sorted(n for n, missing in MISSING.items() if missing or n in OTHER))
def test_config_is_refused_naming_only_the_missing_types(name: str) -> None:
    code, problems = _validate(CORPUS / name)
    assert code == 1
    refused: set[tuple[str, str]] = set()
    others = []
    for problem in problems:
        m = _REFUSED.match(problem)
        if m is None:
            others.append(problem)
        else:
            refused.add((m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4)))
    assert refused == MISSING[name]
    expected_others = OTHER.get(name, [])
    assert len(others) == len(expected_others), others
    for problem, expected in zip(others, expected_others, strict=True):
        assert problem.startswith(expected), (problem, expected)


def _listeners(doc: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with every address it listens on moved to a placeholder for a free port: receivers'
    and extensions' endpoints ({health} for health_check's), self-metrics ({metrics})."""
    names: list[str] = []
    moved: dict[str, str] = {}  # a listener's port in the config -> its placeholder

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "endpoint" and isinstance(value, str) and (port := re.search(r":(\d+)$", value)):
                    names.append(f"p{len(names)}")
                    out[key] = f"127.0.0.1:@@{names[-1]}@@"
                    moved[port.group(1)] = names[-1]
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    doc = dict(doc)
    doc["receivers"] = walk(doc.get("receivers") or {})
    extensions = walk(doc.get("extensions") or {})
    for id, settings in extensions.items():
        if id.split("/")[0] == "health_check":
            settings["endpoint"] = "127.0.0.1:@@health@@"
    doc["extensions"] = extensions
    telemetry = doc.setdefault("service", {}).setdefault("telemetry", {})
    metrics = telemetry.setdefault("metrics", {})
    if "readers" in metrics:
        for reader in metrics["readers"]:
            if "pull" in reader:
                reader["pull"]["exporter"]["prometheus"].update(host="127.0.0.1", port="@@metrics@@")
    else:
        metrics["address"] = "127.0.0.1:@@metrics@@"

    def follow(node: Any) -> Any:
        """Self-telemetry pushed to one of the config's own listeners follows it to its new port."""
        if isinstance(node, dict):
            for key, value in node.items():
                hit = re.fullmatch(r"(https?://)(localhost|127\.0\.0\.1):(\d+)", value) if isinstance(value, str) else None
                if key == "endpoint" and hit and hit.group(3) in moved:
                    node[key] = f"{hit.group(1)}127.0.0.1:@@{moved[hit.group(3)]}@@"
                else:
                    follow(value)
        elif isinstance(node, list):
            for value in node:
                follow(value)
        return node

    follow(telemetry)
    return doc, names


@pytest.mark.parametrize("name", sorted(n for n, missing in MISSING.items() if not missing and n not in OTHER))
def test_config_whose_types_are_all_implemented_loads_and_starts(tmp_path: Path, name: str) -> None:
    code, problems = _validate(CORPUS / name)
    assert code == 0, problems
    doc, ports = _listeners(yaml.safe_load((CORPUS / name).read_text()))
    text = yaml.safe_dump(doc, sort_keys=False).replace("{", "{{").replace("}", "}}")
    text = re.sub(r"'?@@(\w+)@@'?", r"{\1}", text)
    daemon = Daemon(tmp_path, text, env=ENV, extra_ports=tuple(ports)).start()
    readers = doc["service"]["telemetry"]["metrics"].get("readers")
    try:
        # A config whose self-metrics are only pushed (periodic OTLP readers) serves no scrape endpoint;
        # start() has waited for health_check's readiness either way.
        if not readers or any("pull" in reader for reader in readers):
            assert "otelcol_process_uptime" in daemon.metrics()
    finally:
        assert daemon.stop() == 0
    errors = [r for r in daemon.log_records() if r.get("level") in ("error", "critical")]
    if readers and not any("pull" in reader for reader in readers):
        # The chart pushes the collector's own metrics to its own otlp receiver. Receivers stop first at
        # shutdown (otelcol's service.go Shutdown: pipelines, then extensions, then telemetry), so the
        # reader's last push finds nobody listening, in otelcol as here.
        errors = [r for r in errors if not r.get("component", "").startswith("service.telemetry.metrics.readers")]
    assert not errors, errors
