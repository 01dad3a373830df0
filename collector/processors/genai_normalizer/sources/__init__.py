"""The built-in sources of `gen_ai_normalizer`, one data module each.

A *table* source (contrib's: openinference, openllmetry, langchain, crewai, pydanticai) has `RENAMES`
(source key -> OTel GenAI key) and optionally `OPERATION_NAMES` (values folded onto `gen_ai.operation.name`,
matched case-insensitively) and `FLATTENED_MESSAGES` (prefix -> target, rebuilt as message JSON).
A *view* source (beyond contrib: mlflow, langtrace, langfuse, anthropic) has `MARKERS` (keys whose presence
makes a span that library's), `ORIGINAL_PREFIXES` and `ORIGINAL_KEYS` (what `remove_originals` may remove);
what it writes comes from the GenAI view (collector/genai/view.py). Adding a source is a module here and
its name below.
"""

from __future__ import annotations

from types import ModuleType

from . import anthropic, crewai, langchain, langfuse, langtrace, mlflow, openinference, openllmetry, pydanticai

# The ones contrib's processor ships, and ours beyond it.
CONTRIB: dict[str, ModuleType] = {
    "crewai": crewai,
    "langchain": langchain,
    "openinference": openinference,
    "openllmetry": openllmetry,
    "pydanticai": pydanticai,
}
BEYOND: dict[str, ModuleType] = {
    "anthropic": anthropic,
    "langfuse": langfuse,
    "langtrace": langtrace,
    "mlflow": mlflow,
}
BUILTIN: dict[str, ModuleType] = dict(sorted({**CONTRIB, **BEYOND}.items()))

# The union of the operation-name tables, which contrib's first (map-form) configuration applied to every
# source's `gen_ai.operation.name` target.
ALL_OPERATION_NAMES: dict[str, str] = {**openinference.OPERATION_NAMES, **openllmetry.OPERATION_NAMES}


def is_view_source(module: ModuleType) -> bool:
    return hasattr(module, "MARKERS")
