"""USD cost of a GenAI call: resolve (provider, model) to a price once, then price spans in plain ints.

Price data
----------
Bundled prices come from the ``genai-prices`` package (its offline data snapshot, or the snapshot an
``UpdatePrices`` job installed). It is imported lazily, on the first :meth:`PriceBook.cost` call (or
:meth:`PriceBook.preload`): importing it pulls in pydantic and the 1.6 MB data module (~0.25 s and
~30 MB RSS), which a daemon without a cost processor must not pay for.

User overrides (``config/prices.yaml`` documents the format) add models, replace bundled prices or
scale them, and set per-provider multipliers. An override always wins over bundled data.

Resolution (slow, once per distinct ``(provider, model)`` pair)
----------------------------------------------------------------
1. :func:`model_candidates` turns the span's model name into lookup names, most specific first:
   lower-cased; LiteLLM/OpenRouter route prefixes (``openai/``, ``openrouter/anthropic/``) removed;
   Bedrock ARN, cross-region (``us.``) and vendor (``anthropic.``) parts and version suffixes
   (``-v2:0``) removed; ``ft:`` fine-tunes reduced to their base model; Vertex ``@date`` handled; and
   finally the same name without a date suffix (``-2024-08-06``, ``-20250929``, ``-0613``).
2. The span's provider (an OTel ``gen_ai.provider.name`` / ``gen_ai.system`` value, an OpenInference
   ``llm.provider`` value, or a LiteLLM route prefix of the model name) is mapped to a genai-prices
   provider id. With a provider, each candidate is looked up in that provider (and the providers it
   resells, e.g. Azure -> OpenAI, Vertex -> Anthropic); then, whatever the provider, without one
   (genai-prices picks the provider from the model name, e.g. ``claude`` -> Anthropic). A provider
   known to be self-hosted (``ollama``, ``vllm``, ...) is never priced from bundled data.
3. Overrides are consulted first, for every candidate name in the same order (so an override for
   ``claude-sonnet-4-5`` covers ``us.anthropic.claude-sonnet-4-5-20250929-v1:0``, and one for
   ``gpt-4o`` covers every dated gpt-4o snapshot unless a dated name has its own entry), then by the
   id of the bundled entry the name resolved to (an override for ``claude-3-5-sonnet`` covers
   ``claude-3-5-sonnet-latest``).
4. An unknown model resolves to ``None``: the span is *unpriced*, never priced at 0. (A model that
   genai-prices lists with no prices at all, e.g. an OpenRouter ``:free`` model, costs 0; a model
   priced only per character/second/page, e.g. ``whisper-1``, cannot be priced from token usage and
   is unpriced.)

The result is cached per raw ``(provider, model)`` pair as integer rates (below), so the hot path
never calls the genai-prices matcher again.

Arithmetic (fast, exact)
------------------------
Every price is a decimal number of USD per million tokens. For one resolved price all rates are
scaled by the same power of ten to integers, so a span's cost is one integer dot product divided by
one integer denominator. Python's int/int true division is correctly rounded, so the float returned
is exactly ``float()`` of genai-prices' own Decimal result (tests check equality with ``calc_price``).

Usage convention (OTel GenAI and OpenInference): ``input_tokens`` includes cache-read and cache-write
tokens; ``output_tokens`` includes reasoning tokens. The cached parts are priced at the cache rates
and the rest at the input rate; reasoning tokens at the reasoning rate where the model has one (the
output rate otherwise). A rate the model does not have falls back as in genai-prices: cache read and
cache write to the input rate, reasoning to the output rate. Tiers follow genai-prices: a tier whose
``start`` is below the request's *total* prompt tokens (cached included) applies to all tokens of
that request (``> 200_000`` prompt tokens -> every token at the higher rate). A per-request fee
(Perplexity's ``requests_kcount``) is counted in ``total_usd`` only, as genai-prices does.

If the cached parts exceed ``input_tokens`` (or reasoning exceeds ``output_tokens``), the counts
cannot be inclusive: they are read as the provider-native exclusive convention (Anthropic's raw
``input_tokens``, Gemini's ``candidatesTokenCount``), i.e. the parts are added to the total. Exclusive
counts that happen to be larger than the parts cannot be detected here; normalise them upstream.

Prices that change with time (genai-prices' start-date and time-of-day conditional prices, e.g.
DeepSeek off-peak) are evaluated at the time :meth:`PriceBook.cost` runs; the cached rates carry the
next instant at which the price changes and are recomputed then (without re-running the matcher).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Cost", "PriceBook", "PriceConfigError", "Usage", "model_candidates", "provider_key"]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int  # total prompt tokens, cached included
    output_tokens: int  # total completion tokens, reasoning included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Cost:
    input_usd: float  # everything charged for the prompt side (incl. cache read/write)
    output_usd: float  # completion side (incl. reasoning)
    total_usd: float  # input + output (+ a per-request fee, for the few models that have one)
    source: str  # "bundled" | "override"
    model: str  # the price entry that matched, e.g. "gpt-4o-mini"


class PriceConfigError(Exception):
    """A problem in a price overrides file, rendered as ``file:line: key.path: problem``."""


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


# ---------------------------------------------------------------------------------------------
# Rates
# ---------------------------------------------------------------------------------------------

# The token price keys we price (genai-prices names). Everything else in a genai-prices price
# (audio/image tokens, web searches, ...) has no count in our Usage and so costs 0 here, exactly
# as in genai-prices for the same usage.
_TOKEN_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok", "output_reasoning_mtok")
_FALLBACK = {"cache_read_mtok": "input_mtok", "cache_write_mtok": "input_mtok", "output_reasoning_mtok": "output_mtok"}
_REQUEST_KEY = "requests_kcount"  # USD per 1000 requests

# A price value: a Decimal, or (base, ((start, price), ...)) for tiered prices.
PriceValue = Any


def _price_at(value: PriceValue, prompt_tokens: int) -> Decimal:
    if isinstance(value, Decimal):
        return value
    base, tiers = value
    for start, price in reversed(tiers):
        if prompt_tokens > start:
            return price
    return base


def _scale(values: list[Decimal]) -> int:
    """Smallest power of ten that makes every value an integer."""
    s = 0
    for v in values:
        exp = v.normalize().as_tuple().exponent
        if isinstance(exp, int) and -exp > s:
            s = -exp
    return s


class _Rates:
    """Integer rates for one resolved price, valid until ``expires`` (epoch seconds) or forever."""

    __slots__ = ("base", "den", "expires", "fixed", "model", "per_mtok", "refresh", "source", "tiers")

    def __init__(
        self,
        prices: dict[str, PriceValue],
        multiplier: Decimal,
        source: str,
        model: str,
        expires: float | None = None,
        refresh: Any = None,
    ) -> None:
        starts = sorted({start for v in prices.values() if not isinstance(v, Decimal) for start, _ in v[1]})
        # One rate tuple per band: base (prompt <= first start), then above each start.
        bands: list[tuple[int | None, list[Decimal]]] = []
        for start in [None, *starts]:
            n = 0 if start is None else start + 1
            row: list[Decimal] = []
            for key in _TOKEN_KEYS:
                v = prices.get(key)
                if v is None and key in _FALLBACK:
                    v = prices.get(_FALLBACK[key])
                row.append(Decimal(0) if v is None else _price_at(v, n) * multiplier)
            bands.append((start, row))
        fixed = prices.get(_REQUEST_KEY)
        fixed_usd = Decimal(0) if fixed is None else _price_at(fixed, 0) * multiplier / 1000
        scale = _scale([d for _, row in bands for d in row] + [fixed_usd])
        f = Decimal(10) ** scale
        self.den = 10 ** (scale + 6)  # rates are per million tokens
        self.per_mtok = tuple(bands[0][1])  # Decimal USD/MTok of the base band (for inspection)
        self.base = tuple(int(d * f) for d in bands[0][1])
        # Highest start first: the first band whose start is below the prompt tokens applies.
        self.tiers = tuple((start, tuple(int(d * f) for d in row)) for start, row in reversed(bands[1:]))
        self.fixed = int(fixed_usd * f * 10**6)
        self.source = source
        self.model = model
        self.expires = expires
        self.refresh = refresh


# ---------------------------------------------------------------------------------------------
# Overrides file
# ---------------------------------------------------------------------------------------------

_PRICE_KEYS = _TOKEN_KEYS
_MODEL_KEYS = ("name", "aliases", "provider", *_PRICE_KEYS, "multiplier")
_TOP_KEYS = ("models", "markups")


@dataclass(frozen=True)
class _Override:
    name: str
    provider: str | None  # provider_key() of the entry's provider, or None for any provider
    prices: dict[str, PriceValue]  # empty -> scale the bundled price by `multiplier`
    multiplier: Decimal


class _Overrides:
    def __init__(self) -> None:
        self.by_name: dict[str, list[_Override]] = {}
        self.markups: dict[str, Decimal] = {}  # provider_key -> multiplier; "*" for all
        self.path: str | None = None

    def find(self, names: list[str], pkey: str | None) -> _Override | None:
        for name in names:
            entries = self.by_name.get(name)
            if not entries:
                continue
            generic = None
            for e in entries:
                if e.provider is not None and e.provider == pkey:
                    return e
                if e.provider is None and generic is None:
                    generic = e
            if generic is not None:
                return generic
            if pkey is None:
                return entries[0]
        return None

    def markup(self, pkey: str | None) -> Decimal:
        if pkey is not None and pkey in self.markups:
            return self.markups[pkey]
        return self.markups.get("*", Decimal(1))


def _load_overrides(path: str) -> _Overrides:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise PriceConfigError(f"{path}: cannot read price overrides file: {e.strerror or e}") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise PriceConfigError(f"{where}: invalid YAML: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise PriceConfigError(f"{path}: invalid YAML: {e}") from e
    out = _Overrides()
    out.path = path
    if root is None:
        return out
    p = _NodeParser(path)
    top = p.mapping(root, "", _TOP_KEYS)
    if "models" in top:
        _, vnode = top["models"]
        if not isinstance(vnode, yaml.SequenceNode):
            p.fail(vnode, "models", "expected a list of model entries (- name: ...)")
        for i, item in enumerate(vnode.value):
            entry = p.model_entry(item, f"models[{i}]")
            for name in entry[0]:
                out.by_name.setdefault(name, []).append(entry[1])
        for name, entries in out.by_name.items():
            seen: set[str | None] = set()
            for e in entries:
                if e.provider in seen:
                    where = "any provider" if e.provider is None else f"provider {e.provider!r}"
                    raise PriceConfigError(f"{path}: models: {name!r} is defined twice for {where}")
                seen.add(e.provider)
    if "markups" in top:
        _, vnode = top["markups"]
        if not isinstance(vnode, yaml.MappingNode):
            p.fail(vnode, "markups", "expected a mapping of provider name -> multiplier (e.g. openai: 0.9)")
        for kn, vn in p.pairs(vnode, "markups"):
            key = p.string(kn, "markups", "a provider name")
            pkey = "*" if key.strip() == "*" else provider_key(key)
            if pkey is None:
                p.fail(kn, "markups", "expected a provider name, got an empty string")
            out.markups[pkey] = p.number(vn, f"markups.{key}", positive=True)
    return out


class _NodeParser:
    """Validates a composed YAML node tree, naming file, line and key path in every error."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: Any, key: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None and node.start_mark is not None else 0
        where = f"{self.path}:{line}" if line else self.path
        raise PriceConfigError(f"{where}: {key}: {message}" if key else f"{where}: {message}")

    def pairs(self, node: Any, key: str) -> list[tuple[Any, Any]]:
        seen: dict[str, int] = {}
        out = []
        for kn, vn in node.value:
            k = self.string(kn, key, "a string key")
            if k in seen:
                self.fail(kn, f"{key}.{k}" if key else k, f"duplicate key (first defined on line {seen[k]})")
            seen[k] = kn.start_mark.line + 1
            out.append((kn, vn))
        return out

    def mapping(self, node: Any, key: str, allowed: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, f"expected a mapping with keys {', '.join(allowed)}, got {_node_kind(node)}")
        out = {}
        for kn, vn in self.pairs(node, key):
            k = kn.value
            if k not in allowed:
                self.fail(kn, f"{key}.{k}" if key else k, f"unknown key; expected one of: {', '.join(allowed)}")
            out[k] = (kn, vn)
        return out

    def string(self, node: Any, key: str, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.fail(node, key, f"expected {what}, got {_node_kind(node)}")
        return node.value

    def number(self, node: Any, key: str, *, positive: bool = False) -> Decimal:
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:str",
        ):
            text = node.value.replace("_", "") if node.tag != "tag:yaml.org,2002:str" else node.value
            # Plain scalars only: "0.15" in quotes is a string, 1e-3 (no dot) is a YAML 1.1 string.
            if node.tag != "tag:yaml.org,2002:str" or node.style is None:
                try:
                    d = Decimal(text.strip())
                except InvalidOperation:
                    d = None
                if d is not None and d.is_finite() and (d > 0 if positive else d >= 0):
                    return d
        want = "a positive number" if positive else "a non-negative number"
        got = repr(node.value) if isinstance(node, yaml.ScalarNode) else _node_kind(node)
        self.fail(node, key, f"expected {want}, got {got}")
        raise AssertionError  # unreachable

    def price(self, node: Any, key: str) -> PriceValue:
        import yaml

        if isinstance(node, yaml.MappingNode):
            m = self.mapping(node, key, ("base", "tiers"))
            if "base" not in m or "tiers" not in m:
                self.fail(node, key, "a tiered price needs both base: and tiers: [{start: N, price: P}, ...]")
            base = self.number(m["base"][1], f"{key}.base")
            tnode = m["tiers"][1]
            if not isinstance(tnode, yaml.SequenceNode) or not tnode.value:
                self.fail(tnode, f"{key}.tiers", "expected a non-empty list of {start: prompt_tokens, price: usd}")
            tiers = []
            for i, t in enumerate(tnode.value):
                tk = f"{key}.tiers[{i}]"
                tm = self.mapping(t, tk, ("start", "price"))
                if "start" not in tm or "price" not in tm:
                    self.fail(t, tk, "a tier needs start: (prompt tokens above which it applies) and price:")
                sn = tm["start"][1]
                if not (isinstance(sn, yaml.ScalarNode) and sn.tag == "tag:yaml.org,2002:int"):
                    self.fail(sn, f"{tk}.start", f"expected a whole number of prompt tokens, got {sn.value!r}")
                try:
                    start = int(sn.value.replace("_", ""), 0)
                except ValueError:
                    start = int(sn.value.replace("_", ""))
                if start < 0:
                    self.fail(sn, f"{tk}.start", f"expected a non-negative number of tokens, got {start}")
                if tiers and start <= tiers[-1][0]:
                    self.fail(sn, f"{tk}.start", "tiers must be listed in increasing order of start")
                tiers.append((start, self.number(tm["price"][1], f"{tk}.price")))
            return (base, tuple(tiers))
        return self.number(node, key)

    def model_entry(self, node: Any, key: str) -> tuple[list[str], _Override]:
        import yaml

        m = self.mapping(node, key, _MODEL_KEYS)
        if "name" not in m:
            self.fail(node, key, "missing name: (the model name as it appears in spans)")
        name = self.string(m["name"][1], f"{key}.name", "a model name").strip().lower()
        if not name:
            self.fail(m["name"][1], f"{key}.name", "expected a non-empty model name")
        names = [name]
        if "aliases" in m:
            an = m["aliases"][1]
            if not isinstance(an, yaml.SequenceNode):
                self.fail(an, f"{key}.aliases", "expected a list of model names")
            for i, a in enumerate(an.value):
                alias = self.string(a, f"{key}.aliases[{i}]", "a model name").strip().lower()
                if alias and alias not in names:
                    names.append(alias)
        provider = None
        if "provider" in m:
            provider = provider_key(self.string(m["provider"][1], f"{key}.provider", "a provider name"))
        prices = {k: self.price(m[k][1], f"{key}.{k}") for k in _PRICE_KEYS if k in m}
        multiplier = self.number(m["multiplier"][1], f"{key}.multiplier", positive=True) if "multiplier" in m else None
        if prices:
            missing = [k for k in ("input_mtok", "output_mtok") if k not in prices]
            if missing:
                self.fail(
                    node,
                    key,
                    f"missing {' and '.join(missing)} (USD per million tokens; write 0 for a free direction)",
                )
        elif multiplier is None:
            self.fail(
                node,
                key,
                "expected prices (input_mtok, output_mtok, ...) or a multiplier: for the bundled price",
            )
        return names, _Override(name, provider, prices, multiplier if multiplier is not None else Decimal(1))


def _node_kind(node: Any) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null":
            return "nothing (null)"
        return repr(node.value)
    return type(node).__name__


# ---------------------------------------------------------------------------------------------
# Bundled prices (genai-prices), imported lazily
# ---------------------------------------------------------------------------------------------


def _bundled_prices(model_price: Any) -> dict[str, PriceValue] | None:
    """genai-prices ModelPrice -> our price dict; None when it has prices but none usable per token."""
    from genai_prices.types import TieredPrices

    out: dict[str, PriceValue] = {}
    other = False
    for key, value in vars(model_price).items():
        if value is None or key.startswith("_"):
            continue
        if key in _TOKEN_KEYS or key == _REQUEST_KEY:
            if isinstance(value, TieredPrices):
                out[key] = (value.base, tuple((t.start, t.price) for t in sorted(value.tiers, key=lambda t: t.start)))
            else:
                out[key] = value
        else:
            other = True
    if other and not any(k in out for k in ("input_mtok", "output_mtok")):
        return None  # priced per character / second / page...: not computable from token usage
    return out


def _utc_seconds_of_day(t: dtime) -> float:
    if t.tzinfo is not None:
        t = datetime.combine(date(1970, 1, 1), t).astimezone(UTC).time()
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _next_price_change(model_info: Any, now: float) -> float | None:
    """Epoch seconds of the next instant a conditional price may switch, or None if never."""
    from genai_prices.types import StartDateConstraint, TimeOfDateConstraint

    if not isinstance(model_info.prices, list):
        return None
    best = math.inf
    day_start = math.floor(now / 86400) * 86400
    for cp in model_info.prices:
        c = cp.constraint
        if isinstance(c, StartDateConstraint):
            at = datetime.combine(c.start_date, dtime(0), tzinfo=UTC).timestamp()
            if at > now:
                best = min(best, at)
        elif isinstance(c, TimeOfDateConstraint):
            for t in (c.start_time, c.end_time):
                at = day_start + _utc_seconds_of_day(t)
                if at <= now:
                    at += 86400
                best = min(best, at)
    return None if best == math.inf else best


class _Bundled:
    """The genai-prices snapshot plus provider lookups; created on first use."""

    def __init__(self) -> None:
        from genai_prices import data_snapshot

        self._ds = data_snapshot
        self.snapshot = data_snapshot.get_snapshot()
        self.providers = self.snapshot.providers
        self._by_id: dict[str, Any] = {}

    def provider(self, pkey: str) -> Any | None:
        if pkey not in self._by_id:
            self._by_id[pkey] = self._ds.find_provider_by_id(self.providers, pkey)
        return self._by_id[pkey]

    def match(self, names: list[str], pkeys: list[str]) -> tuple[Any, Any, str | None] | None:
        """(provider, model info, the requested provider it was found under, or None when found by
        genai-prices' own provider-less matching) for the first name that matches."""
        for pkey in pkeys:
            prov = self.provider(pkey)
            if prov is not None:
                for name in names:
                    info = prov.find_model(name, all_providers=self.providers)
                    if info is not None:
                        return prov, info, pkey
        for name in names:
            try:
                prov, info = self.snapshot.find_provider_model(name, None, None, None)
            except LookupError:
                continue
            return prov, info, None
        return None


# ---------------------------------------------------------------------------------------------
# PriceBook
# ---------------------------------------------------------------------------------------------

_MAX_CACHED = 8192  # distinct (provider, model) pairs; the cache is cleared when full


class PriceBook:
    """Resolves ``(provider, model)`` to a price once, then prices usage in plain integer arithmetic.

    Thread-safe for concurrent :meth:`cost` calls (a race at worst resolves a pair twice).
    """

    def __init__(self, overrides_path: str | None = None) -> None:
        # Overrides are parsed now, so a bad file fails at start-up; genai-prices loads lazily.
        self._overrides = _load_overrides(overrides_path) if overrides_path else _Overrides()
        self._bundled: _Bundled | None = None
        self._cache: dict[tuple[str | None, str | None], _Rates | None] = {}

    # -- public ---------------------------------------------------------------------------------

    def preload(self) -> None:
        """Import genai-prices and its data now (~0.25 s) instead of on the first priced span."""
        self._load_bundled()

    def cost(self, provider: str | None, model: str | None, usage: Usage) -> Cost | None:
        """USD cost of one call, or None when the model has no known price (unpriced, not free)."""
        return self.cost_of(provider, model, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens)

    def cost_of(self, provider: str | None, model: str | None, inp: Any, out: Any, cr: Any = 0, cw: Any = 0, rs: Any = 0) -> Cost | None:
        """`cost` from the five token counts (input incl. cache, cache read, cache write, output incl.
        reasoning, reasoning): the per-span path, which need not build a Usage."""
        try:
            r = self._cache[(provider, model)]
        except KeyError:
            r = self._resolve_cached(provider, model)
        if r is None:
            return None
        if r.expires is not None and time.time() >= r.expires:
            r = self._refresh(provider, model, r)
            if r is None:
                return None
        try:
            if (inp | out | cr | cw | rs) < 0:
                raise ValueError(f"negative token count in {Usage(inp, out, cr, cw, rs)!r}")
        except TypeError:
            inp, out, cr, cw, rs = _ints(Usage(inp, out, cr, cw, rs))
        cached = cr + cw
        if cached > inp:  # exclusive (provider-native) prompt count
            inp += cached
        if rs > out:  # exclusive completion count (e.g. Gemini's candidatesTokenCount)
            out += rs
        rates = r.base
        for start, band in r.tiers:
            if inp > start:
                rates = band
                break
        in_num = (inp - cached) * rates[0] + cr * rates[1] + cw * rates[2]
        out_num = (out - rs) * rates[3] + rs * rates[4]
        den = r.den
        return Cost(in_num / den, out_num / den, (in_num + out_num + r.fixed) / den, r.source, r.model)

    # -- resolution -----------------------------------------------------------------------------

    def _load_bundled(self) -> _Bundled:
        if self._bundled is None:
            self._bundled = _Bundled()
        return self._bundled

    def _resolve_cached(self, provider: str | None, model: str | None) -> _Rates | None:
        r = self._resolve(provider, model)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[(provider, model)] = r
        return r

    def _refresh(self, provider: str | None, model: str | None, r: _Rates) -> _Rates | None:
        new = r.refresh(time.time())
        self._cache[(provider, model)] = new
        return new

    def _resolve(self, provider: str | None, model: str | None) -> _Rates | None:
        """The slow path: model-name candidates x provider x overrides x genai-prices matcher."""
        forms, dateless = _candidate_forms(model)
        if not forms:
            return None
        # The span's provider first, then the one the name implies (bedrock ARN, "ft:", "azure/"...).
        pkey = provider_key(provider)
        implied = _provider_from_name(forms[0])
        if pkey is None:
            pkey = implied
        pkeys = [k for k in dict.fromkeys((pkey, implied)) if k is not None]
        ov = self._overrides

        names = forms + dateless
        hit = ov.find(names, pkey)
        if hit is not None and hit.prices:
            return _Rates(hit.prices, hit.multiplier, "override", hit.name)
        bundled = None
        if pkey not in _SELF_HOSTED:
            bundled = self._load_bundled().match(names, pkeys)
        if hit is None and bundled is not None:
            hit = ov.find([bundled[1].id.lower()], pkey if pkey is not None else bundled[0].id)
        if hit is not None:
            if hit.prices:
                return _Rates(hit.prices, hit.multiplier, "override", hit.name)
            if bundled is None:
                return None  # a multiplier for a model genai-prices does not know
            return self._bundled_rates(bundled[0], bundled[1], hit.multiplier, "override", time.time())
        if bundled is None:
            return None
        prov, info, found_under = bundled
        # Markups are keyed by who bills you: the provider the price was found under.
        return self._bundled_rates(prov, info, ov.markup(found_under or prov.id), "bundled", time.time())

    def _bundled_rates(self, prov: Any, info: Any, multiplier: Decimal, source: str, now: float) -> _Rates | None:
        at = datetime.fromtimestamp(now, tz=UTC)
        prices = _bundled_prices(info.get_prices(at))
        if prices is None:
            return None
        expires = _next_price_change(info, now)

        def refresh(t: float) -> _Rates | None:
            return self._bundled_rates(prov, info, multiplier, source, t)

        return _Rates(prices, multiplier, source, info.id, expires, refresh if expires is not None else None)


def _ints(usage: Usage) -> tuple[int, int, int, int, int]:
    """Token counts as non-negative ints (floats from JSON, None for missing)."""
    out = []
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"):
        v = getattr(usage, name)
        if v is None:
            v = 0
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a whole number of tokens, got {v!r}")
        v = round(v)
        if v < 0:
            raise ValueError(f"negative token count in {usage!r}")
        out.append(v)
    return out[0], out[1], out[2], out[3], out[4]

