"""MLflow tracing (OTLP export): beyond contrib. Served by the GenAI view (collector/genai/view.py), which
knows MLflow's `mlflow.*` attributes; this module only says which spans are MLflow's and which of their
keys are MLflow's own (removed with `remove_originals` once their content is written under OTel names)."""

MARKERS = ("mlflow.spanType", "mlflow.traceRequestId", "mlflow.chat.tokenUsage", "mlflow.llm.model", "mlflow.llm.provider")
ORIGINAL_PREFIXES = ("mlflow.",)
ORIGINAL_KEYS: frozenset[str] = frozenset()
