"""otelcol component types this daemon does not have, the common ones: what each does in otelcol and the
closest thing here, so that a pasted otelcol config is refused with a way forward instead of a bare
"unknown type". Both spellings of a renamed type (otelcol's snake_case names and the older ones) are keys."""

from __future__ import annotations

from ..component import Kind

# (what it does in otelcol, the closest thing this daemon offers)
_Entry = tuple[str, str]

_RECEIVERS: dict[tuple[str, ...], _Entry] = {
    ("hostmetrics", "host_metrics"): ("scrapes the host's CPU, memory, disk, filesystem and network metrics",
                       "none for the host; the daemon's own process metrics are served by service.telemetry (otelcol_process_*)"),
    ("kafka",): ("consumes spans, logs and metrics from Kafka topics", "the otlp receiver (gRPC or HTTP)"),
    ("k8s_cluster", "k8scluster"): ("reports cluster-level metrics and entity events from the Kubernetes API (pods, deployments, nodes...)",
                                    "none for the cluster; k8s_attributes puts pod and node metadata from the Kubernetes API on telemetry"),
    ("k8sobjects", "k8s_objects"): ("pulls or watches Kubernetes objects (events, pods...) and emits them as logs",
                                    "none; file_log reads the node's container logs, k8s_attributes adds pod metadata"),
    ("receiver_creator",): ("starts receivers at run time for endpoints an observer extension discovers (pods, ports, containers)",
                            "static receivers (prometheus static_configs, file_log globs) configured for known targets"),
    ("docker_stats",): ("reports the CPU, memory, network and block-IO metrics of running Docker containers",
                        "none for container metrics; resource_detection's docker detector names the host"),
    ("http_check", "httpcheck"): ("probes HTTP endpoints and reports their status and duration as metrics",
                                  "prometheus scraping a blackbox exporter, or the health_check extension for this daemon itself"),
    ("nginx",): ("scrapes nginx's stub_status page into metrics", "prometheus scraping an nginx Prometheus exporter"),
    ("postgresql",): ("queries PostgreSQL's statistics views into metrics", "prometheus scraping a PostgreSQL Prometheus exporter"),
    ("redis",): ("reads Redis's INFO command into metrics", "prometheus scraping a Redis Prometheus exporter"),
}

_PROCESSORS: dict[tuple[str, ...], _Entry] = {
    ("groupbytrace", "group_by_trace"): ("holds the spans of one trace together before passing them on",
                                         "tail_sampling, which buffers each trace for decision_wait"),
    ("span",): ("renames spans and extracts attributes from span names", "gen_ai_normalizer for attributes; no span renaming"),
}

_EXTENSIONS: dict[tuple[str, ...], _Entry] = {
    ("oidc",): ("checks OpenID Connect tokens on receivers", "the otlp receiver's auth.bearer_tokens"),
    ("k8s_observer", "k8sobserver"): ("watches the Kubernetes API for pods, ports and nodes, for receiver_creator to start receivers on",
                                      "none; configure receivers for known endpoints"),
    ("k8s_leader_elector",): ("elects one collector replica through a Kubernetes lease, so that only it runs the receivers that name it",
                              "none; run one replica for cluster-wide receivers"),
}

_CONNECTORS: dict[tuple[str, ...], _Entry] = {
    ("servicegraph", "service_graph"): ("builds metrics of the calls between services from client and server spans",
                                        "span_metrics (calls and durations by service, span name, kind and status) "
                                        "with dimensions such as peer.service or server.address"),
}

_EXPORTERS: dict[tuple[str, ...], _Entry] = {
    ("logging",): ("printed telemetry to the console (removed from otelcol in v0.111.0 for debug)", "the debug exporter, with the same verbosity key"),
    ("prometheus",): ("serves the metrics it receives for Prometheus to scrape",
                      "otlp_http to Prometheus's OTLP endpoint (/api/v1/otlp), or the file exporter"),
    ("prometheusremotewrite", "prometheus_remote_write"): ("writes metrics with Prometheus remote write",
                                                           "otlp_http to Prometheus's OTLP endpoint (/api/v1/otlp)"),
    ("kafka",): ("publishes spans, logs and metrics to Kafka topics", "otlp_grpc or otlp_http to a collector that publishes to Kafka"),
    ("zipkin",): ("sends spans to a Zipkin server", "otlp_http or the jaeger exporter to a backend that reads OTLP"),
}

MISSING: dict[str, dict[str, _Entry]] = {}
for _kind, _table in ((Kind.RECEIVER, _RECEIVERS), (Kind.PROCESSOR, _PROCESSORS), (Kind.EXTENSION, _EXTENSIONS),
                      (Kind.CONNECTOR, _CONNECTORS), (Kind.EXPORTER, _EXPORTERS)):
    MISSING[_kind] = {name: entry for names, entry in _table.items() for name in names}


def otelcol_explanation(kind: str, type_name: str) -> str:
    """What a known otelcol type this daemon lacks does there and the closest thing here, to follow an
    "unknown type" error; empty for a type not in the table."""
    entry = MISSING[kind].get(type_name)
    if entry is None:
        return ""
    does, closest = entry
    return f"; in otelcol it {does}; closest here: {closest}"


def connector_message(type_name: str, valid: str) -> str:
    """The refusal of an otelcol connector type this daemon lacks (one of the table's)."""
    return f'connector type "{type_name}" is not supported here (valid values: [{valid}]){otelcol_explanation(Kind.CONNECTOR, type_name)}'
