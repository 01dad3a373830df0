"""Anthropic cache-token names: beyond contrib. The Anthropic SDK's own tracing and older instrumentations
report cache reads and writes under names OTel does not define, and (for the underscore forms) with an input
count that excludes the cache. The GenAI view (collector/genai/view.py) knows their semantics; this module
only says which spans carry them and that those keys may be removed once written under OTel names."""

MARKERS = (
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)
ORIGINAL_PREFIXES: tuple[str, ...] = ()
ORIGINAL_KEYS = frozenset(MARKERS)
