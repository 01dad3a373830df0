"""Provider and model names as spans carry them -> the keys prices are looked up by: provider aliases to
genai-prices ids, the self-hosted servers never priced from bundled data, and the lookup names of a model
(route prefixes, Bedrock ids and ARNs, fine-tunes, Vertex versions, date suffixes); steps 1 and 2 of the
resolution described in the package docstring."""

from __future__ import annotations

import re
from datetime import date

# ---------------------------------------------------------------------------------------------
# Provider names
# ---------------------------------------------------------------------------------------------

# OTel gen_ai.provider.name (>=1.37) and gen_ai.system (<=1.36) values, OpenInference llm.provider /
# llm.system values, OpenLLMetry's legacy capitalised names (lower-cased before lookup) and LiteLLM
# route prefixes -> genai-prices provider ids.
_PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    # AWS Bedrock
    "aws.bedrock": "aws",
    "aws_bedrock": "aws",
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "amazon_bedrock": "aws",
    "aws": "aws",
    "amazon": "aws",
    # Google (Vertex AI, Gemini API)
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "vertexai": "google",
    "vertex": "google",
    "gemini": "google",
    "google": "google",
    "google_genai": "google",
    "google.genai": "google",
    "google_ai_studio": "google",
    # Azure (OpenAI and AI Inference); genai-prices' azure falls back to openai/anthropic/... prices
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure": "azure",
    "azure_ai": "azure",
    "azure_openai": "azure",
    # others
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "mistral": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "perplexity": "perplexity",
    "perplexityai": "perplexity",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "together": "together",
    "together_ai": "together",
    "together-ai": "together",
    "togetherai": "together",
    "fireworks": "fireworks",
    "fireworks_ai": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
    "databricks": "databricks",
    "novita": "novita",
    "zai": "zai",
    "zhipuai": "zhipuai",
    "voyage": "voyageai",
    "voyageai": "voyageai",
    "cloudflare": "cloudflare",
    "workers_ai": "cloudflare",
}

# Self-hosted servers: the model runs on your hardware, so cloud list prices would be wrong.
# Only overrides price these.
_SELF_HOSTED = frozenset(
    {
        "ollama",
        "ollama_chat",
        "vllm",
        "hosted_vllm",
        "llama.cpp",
        "llamacpp",
        "llama_cpp",
        "lmstudio",
        "lm_studio",
        "localai",
        "local",
        "tgi",
        "text-generation-inference",
        "sglang",
        "triton",
        "xinference",
    }
)


def provider_key(provider: str | None) -> str | None:
    """Canonical provider name: the genai-prices id for a known alias, else the lower-cased name."""
    if not provider:
        return None
    p = provider.strip().lower()
    if not p:
        return None
    return _PROVIDER_ALIASES.get(p, p)


# ---------------------------------------------------------------------------------------------
# Model names
# ---------------------------------------------------------------------------------------------

# Route prefixes that name a provider/gateway rather than a model family (LiteLLM, OpenRouter,
# Gemini's "models/"). Nested ones are stripped one at a time: openrouter/anthropic/claude-...
_ROUTE_PREFIXES = frozenset(
    set(_PROVIDER_ALIASES)
    | _SELF_HOSTED
    | {
        "litellm",
        "litellm_proxy",
        "models",
        "converse",
        "invoke",
        "text-completion-openai",
        "chat",
        "huggingface",
        "sagemaker",
        "watsonx",
        "replicate",
        "nvidia_nim",
        "github",
        "deepinfra",
        "anyscale",
        "ai21",
        "meta_llama",
    }
)

_BEDROCK_REGIONS = r"us|eu|apac|ap|au|jp|ca|us-gov|global|in|regional"
_BEDROCK_VENDORS = (
    r"anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|nvidia|"
    r"moonshotai|zai|minimax|stability|twelvelabs|luma"
)
_BEDROCK_RE = re.compile(rf"^(?:(?P<region>{_BEDROCK_REGIONS})\.)?(?P<vendor>{_BEDROCK_VENDORS})\.(?=[a-z0-9])")
_BEDROCK_VERSION_RE = re.compile(r"(?:-v?\d+)?(?::\d+)+$")

_DATE_SUFFIXES = (
    re.compile(r"-(?P<y>20\d\d)-(?P<m>\d\d)-(?P<d>\d\d)$"),  # -2024-08-06
    re.compile(r"-(?P<y>20\d\d)(?P<m>\d\d)(?P<d>\d\d)$"),  # -20250929
    re.compile(r"-(?P<m>\d\d)-(?P<y>20\d\d)$"),  # -09-2025 (gemini preview)
    re.compile(r"-(?P<m>\d\d)-(?P<d>\d\d)$"),  # -05-06 (gemini preview)
    re.compile(r"-(?P<m>\d\d)(?P<d>\d\d)$"),  # -0613 (older OpenAI snapshots)
)


def _strip_date(name: str) -> str:
    for rx in _DATE_SUFFIXES:
        m = rx.search(name)
        if m is None:
            continue
        g = m.groupdict()
        try:
            date(int(g.get("y") or 2000), int(g["m"]), int(g.get("d") or 1))
        except ValueError:
            continue  # -2507 (YYMM), -2402: versions, not dates
        if m.start() > 0:
            return name[: m.start()]
    return name


def _candidate_forms(model: str | None) -> tuple[list[str], list[str]]:
    """(exact forms, date-less forms) of a model name; see :func:`model_candidates`."""
    if not model:
        return [], []
    s = model.strip().lower()
    if not s:
        return [], []
    forms: list[str] = []

    def add(x: str) -> None:
        if x and x not in forms:
            forms.append(x)

    add(s)
    # Route prefixes, possibly nested (openrouter/anthropic/..., bedrock/converse/us.anthropic...).
    while "/" in s:
        head, rest = s.split("/", 1)
        if head not in _ROUTE_PREFIXES or not rest:
            break
        s = rest
        add(s)
    # Bedrock ARN: arn:aws:bedrock:<region>:<acct>:foundation-model/<id> | inference-profile/<id>
    if s.startswith("arn:") and "/" in s:
        s = s.rsplit("/", 1)[1]
        add(s)
    # Bedrock model id: [region.]vendor.model[-vN:M]
    m = _BEDROCK_RE.match(s)
    if m is not None:
        if m.group("region"):
            s = s[len(m.group("region")) + 1 :]
            add(s)
        s = s[len(m.group("vendor")) + 1 :]
        add(s)
        v = _BEDROCK_VERSION_RE.search(s)
        if v is not None and v.start() > 0:
            s = s[: v.start()]
            add(s)
    # Fine-tunes: ft:<base>:<org>:<suffix>:<id> (OpenAI), <base>.ft-<id> (Azure OpenAI).
    if s.startswith("ft:"):
        base = s[3:].split(":", 1)[0]
        if base:
            s = base
            add(s)
    elif ".ft-" in s:
        base = s.split(".ft-", 1)[0]
        if base:
            s = base
            add(s)
    # Vertex AI publisher models: claude-3-5-sonnet-v2@20241022, claude-sonnet-4@20250514.
    if "@" in s:
        name, _, version = s.partition("@")
        if name:
            if version.isdigit():
                add(f"{name}-{version}")
            s = name
            add(s)
    d = _strip_date(s)
    return forms, ([d] if d != s and d not in forms else [])


def model_candidates(model: str) -> list[str]:
    """Lookup names for a span's model name, most specific first; ``[]`` for an empty name.

    >>> model_candidates("us.anthropic.claude-3-5-sonnet-20241022-v2:0")[-2:]
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet']
    """
    forms, dateless = _candidate_forms(model)
    return forms + dateless


def _provider_from_name(model: str) -> str | None:
    """The provider a model name itself implies: a route prefix, a Bedrock ARN or id, an OpenAI
    ``ft:`` fine-tune, a Vertex ``@date`` version."""
    s = model.strip().lower()
    if s.startswith("arn:aws:bedrock"):
        return "aws"
    if s.startswith("ft:"):
        return "openai"
    if "/" in s:
        head = s.split("/", 1)[0]
        if head in _PROVIDER_ALIASES:
            return _PROVIDER_ALIASES[head]
        if head in _SELF_HOSTED:
            return head
        return None
    m = _BEDROCK_RE.match(s)
    if m is not None and (m.group("region") or ":" in s or re.search(r"-v\d", s)):
        return "aws"
    if re.search(r"@\d{8}$", s):
        return "google"
    return None
