"""Langfuse SDK (v3+, OpenTelemetry based): beyond contrib. Served by the GenAI view
(collector/genai/view.py): whatever `langfuse.observation.*` attributes the view reads are written under
OTel names; this module only says which spans are Langfuse's and which keys are its own."""

MARKERS = ("langfuse.observation.type", "langfuse.observation.model.name", "langfuse.observation.usage_details")
ORIGINAL_PREFIXES = ("langfuse.observation.",)
ORIGINAL_KEYS: frozenset[str] = frozenset()
