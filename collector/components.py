"""The built-in component types: which module defines each, under its current name and otelcol's older
spellings. A new component is one module (with `@register` on its class) plus one row here.

The registry (collector/registry.py) imports a module only when a config names one of its types, so
`validate` and start-up load what the config uses and nothing else: no aiohttp for a gRPC-only pipeline,
no Elasticsearch client code when nothing exports there. tests/config/test_registry_manifest.py checks
that these rows and the registered classes agree."""

from __future__ import annotations

from .component import Kind

# (kind, module under collector/, current type name, older spellings...)
BUILTIN: tuple[tuple[Kind, str, str, *tuple[str, ...]], ...] = (
    (Kind.RECEIVER, "receivers.filelog.receiver", "file_log", "filelog"),
    (Kind.RECEIVER, "receivers.jaeger.receiver", "jaeger"),
    (Kind.RECEIVER, "receivers.otlp", "otlp"),
    (Kind.RECEIVER, "receivers.prometheus", "prometheus"),
    (Kind.RECEIVER, "receivers.zipkin.receiver", "zipkin"),
    (Kind.PROCESSOR, "processors.attributes", "attributes"),
    (Kind.PROCESSOR, "processors.batch", "batch"),
    (Kind.PROCESSOR, "processors.cost", "cost"),
    (Kind.PROCESSOR, "processors.filter", "filter"),
    (Kind.PROCESSOR, "processors.genai_normalizer", "gen_ai_normalizer"),
    (Kind.PROCESSOR, "processors.k8sattributes", "k8s_attributes", "k8sattributes"),
    (Kind.PROCESSOR, "processors.memory_limiter", "memory_limiter"),
    (Kind.PROCESSOR, "processors.probabilistic_sampler", "probabilistic_sampler"),
    (Kind.PROCESSOR, "processors.redaction", "redaction"),
    (Kind.PROCESSOR, "processors.resource", "resource"),
    (Kind.PROCESSOR, "processors.resourcedetection", "resource_detection", "resourcedetection"),
    (Kind.PROCESSOR, "processors.tailsampling", "tail_sampling"),
    (Kind.PROCESSOR, "processors.token_count", "token_count"),
    (Kind.PROCESSOR, "processors.transform", "transform"),
    (Kind.EXPORTER, "exporters.debug", "debug"),
    (Kind.EXPORTER, "exporters.elasticsearch", "elasticsearch"),
    (Kind.EXPORTER, "exporters.file", "file"),
    (Kind.EXPORTER, "exporters.jaeger", "jaeger"),
    (Kind.EXPORTER, "exporters.loadbalancing.exporter", "load_balancing", "loadbalancing"),
    (Kind.EXPORTER, "exporters.otlp", "otlp_grpc", "otlp"),
    (Kind.EXPORTER, "exporters.otlphttp", "otlp_http", "otlphttp"),
    (Kind.CONNECTOR, "connectors.count", "count"),
    (Kind.CONNECTOR, "connectors.forward", "forward"),
    (Kind.CONNECTOR, "connectors.llm_metrics", "llm_metrics"),
    (Kind.CONNECTOR, "connectors.routing", "routing"),
    (Kind.CONNECTOR, "connectors.spanmetrics", "span_metrics", "spanmetrics"),
    (Kind.EXTENSION, "extensions.basicauth", "basicauth"),
    (Kind.EXTENSION, "extensions.bearertokenauth", "bearertokenauth"),
    (Kind.EXTENSION, "extensions.file_storage", "file_storage"),
    (Kind.EXTENSION, "extensions.health_check", "health_check"),
    (Kind.EXTENSION, "extensions.pprof.extension", "pprof"),
    (Kind.EXTENSION, "extensions.zpages.extension", "zpages"),
)
