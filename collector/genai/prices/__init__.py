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

Modules
-------
``names`` (provider aliases and model-name candidates, steps 1-2), ``bundled`` (the genai-prices
snapshot, imported lazily), ``overrides`` (the user's overrides file, errors as ``file:line``),
``rates`` (the integer arithmetic) and ``pricebook`` (:class:`PriceBook`, which puts them together,
and its :class:`Usage` and :class:`Cost`).
"""

from __future__ import annotations

from .names import model_candidates, provider_key
from .overrides import PriceConfigError
from .pricebook import Cost, PriceBook, Usage

__all__ = ["Cost", "PriceBook", "PriceConfigError", "Usage", "model_candidates", "provider_key"]
