"""span_metrics connector: otelcol-contrib's connector/spanmetricsconnector, R.E.D. metrics from spans.
config.py decodes and checks the configuration; connector.py aggregates (over collector/connectors/metricsagg.py)."""

from .config import SpanMetricsConfig
from .connector import SpanMetricsConnector

__all__ = ["SpanMetricsConfig", "SpanMetricsConnector"]
