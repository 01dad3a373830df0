"""llm-collector: an LLM-aware OpenTelemetry processing daemon."""

__version__ = "0.1.0"
