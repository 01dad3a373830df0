"""The elasticsearch exporter's otelcol keys beyond the original set (elasticsearch_config.py): `cloudid`,
`pipeline`, and the accepted keys without effect here (`tls.insecure`, `metrics_index`, the deprecated
`*_dynamic_index`). Error cases follow contrib's exporter/elasticsearchexporter/config_test.go
(TestConfig_Validate) and config.go (Config.Validate, endpoints, parseCloudID)."""

from __future__ import annotations

import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from collector.component import ComponentID, Kind
from collector.config import ConfigErrors, load_config
from collector.exporters.elasticsearch_config import DYNAMIC_INDEX_REASON, METRICS_REASON, TLS_INSECURE_REASON
from collector.testing import spans_request
from tests.conftest import daemon_yaml
from tests.fakes.elasticsearch import ElasticsearchFake

# contrib's test cloud ID: base64("bar.cloud.es.io$abc123$def456").
CLOUD_ID = "foo:YmFyLmNsb3VkLmVzLmlvJGFiYzEyMyRkZWY0NTY="


@pytest.fixture(autouse=True)
def _no_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)


def _write(tmp_path: Path, exporter: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: '127.0.0.1:0'}\n"
        "exporters:\n  elasticsearch:\n" + textwrap.indent(textwrap.dedent(exporter), "    ")
        + "service:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [elasticsearch]}\n"
    )
    return path


def _config(tmp_path: Path, exporter: str) -> Any:
    cfg = load_config([str(_write(tmp_path, exporter))])
    return cfg.component(Kind.EXPORTER, ComponentID.parse("elasticsearch")).config


def _errors(tmp_path: Path, exporter: str) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load_config([str(_write(tmp_path, exporter))])
    return [str(e) for e in info.value.errors]


def test_cloudid_is_the_elastic_cloud_endpoint(tmp_path: Path) -> None:
    # go-elasticsearch's addrFromCloudID, which contrib's parseCloudID follows: https://<es-id>.<host>.
    config = _config(tmp_path, f"cloudid: {CLOUD_ID}\n")
    assert config.urls() == ["https://abc123.bar.cloud.es.io"]


@pytest.mark.parametrize(
    ("exporter", "message"),
    [
        pytest.param("cloudid: invalid\n", "cloudid: invalid cloud ID (expected name:base64)", id="invalid cloudid"),
        pytest.param("cloudid: 'foo:YWJj'\n", "cloudid: invalid decoded cloud ID (expected host$es-id$kibana-id)", id="invalid decoded cloudid"),
        pytest.param("cloudid: 'foo:%%%'\n", "cloudid: invalid cloud ID (not base64 after the colon)", id="cloudid not base64"),
        pytest.param(f"endpoints: ['http://test:9200']\ncloudid: '{CLOUD_ID}'\n", "cloudid: exactly one of [endpoint, endpoints, cloudid] must be specified", id="endpoints and cloudid both set"),
        # contrib config.go, Config.endpoints(): endpoint and endpoints together are two sources (numEndpointConfigs 2).
        pytest.param("endpoint: 'http://a:9200'\nendpoints: ['http://b:9200']\n", "endpoint: exactly one of [endpoint, endpoints, cloudid] must be specified", id="endpoint and endpoints both set"),
        pytest.param(
            "endpoint: 'http://test:9200'\ntraces_index: spans\ntraces_dynamic_index: {enabled: true}\n",
            "traces_dynamic_index: must not specify both traces_index and traces_dynamic_index; traces_index should be empty unless all documents should be sent to the same index",
            id="traces_index and traces_dynamic_index",
        ),
        pytest.param(
            "endpoint: 'http://test:9200'\nmetrics_index: m\nmetrics_dynamic_index: {enabled: true}\n",
            "metrics_dynamic_index: must not specify both metrics_index and metrics_dynamic_index; metrics_index should be empty unless all documents should be sent to the same index",
            id="metrics_index and metrics_dynamic_index",
        ),
    ],
)
def test_config_validate_errors(tmp_path: Path, exporter: str, message: str) -> None:
    errors = _errors(tmp_path, exporter)
    assert len(errors) == 1 and errors[0].endswith(f"exporters.elasticsearch.{message}"), errors
    assert "abc123" not in errors[0] and "YWJj" not in errors[0]  # the cloud ID is not repeated


@pytest.mark.slow
def test_pipeline_is_sent_and_keys_without_effect_warn_once_each(daemon_factory: Any) -> None:
    with ElasticsearchFake() as fake:
        config = daemon_yaml("""
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  elasticsearch:
    endpoint: "ES_URL"
    pipeline: enrich-spans
    metrics_index: metrics-x
    logs_dynamic_index: {{enabled: true}}
    tls: {{insecure: true}}
    flush: {{interval: 50ms}}
""", "traces: {{receivers: [otlp], exporters: [elasticsearch]}}").replace("ES_URL", fake.url)
        daemon = daemon_factory(config)
        request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=spans_request(2).SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
        urllib.request.urlopen(request, timeout=10).close()
        fake.wait_for(2)
        bulk = [call for call in fake.calls if call.actions]
        assert bulk and all(call.query["pipeline"] == ["enrich-spans"] for call in bulk)
        warnings = {r["key"]: r["reason"] for r in daemon.log_records() if r.get("event") == "config key has no effect"}
    assert warnings == {
        "exporters.elasticsearch.tls.insecure": TLS_INSECURE_REASON,
        "exporters.elasticsearch.metrics_index": METRICS_REASON,
        "exporters.elasticsearch.logs_dynamic_index.enabled": DYNAMIC_INDEX_REASON,
    }

