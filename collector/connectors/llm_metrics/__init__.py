"""llm_metrics connector (traces -> metrics): OTel GenAI client metrics, cost and call counts made from LLM
spans. config.py holds its options and the metric definitions; connector.py reads the spans and emits."""

from .config import LLMMetricsConfig
from .connector import LLMMetricsConnector

__all__ = ["LLMMetricsConfig", "LLMMetricsConnector"]
