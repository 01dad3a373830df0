"""Langtrace: beyond contrib. Served by the GenAI view (collector/genai/view.py), which reads Langtrace's
`gen_ai.*` names (some of them the deprecated ones); this module only says which spans are Langtrace's
(its SDK stamps `langtrace.*` on every span) and which deprecated keys it may remove."""

MARKERS = ("langtrace.sdk.name", "langtrace.service.name", "langtrace.version")
ORIGINAL_PREFIXES: tuple[str, ...] = ()
ORIGINAL_KEYS = frozenset({"gen_ai.system", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens"})
