"""collector.genai.prices: name resolution, exact cost arithmetic, caching, overrides."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from collector.genai import prices
from collector.genai.prices import Cost, PriceBook, PriceConfigError, Usage, model_candidates

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def usd(x: str) -> float:
    """The float nearest to an exact decimal amount (what exact arithmetic must return)."""
    return float(Decimal(x))


# ---------------------------------------------------------------------------------------------
# Hand-computed costs from published prices
# ---------------------------------------------------------------------------------------------


def test_gpt_4o_mini_cached_input(book):
    # $0.15 / $0.60 per M, cached input $0.075:
    # 0.8M * 0.15 + 0.2M * 0.075 + 0.5M * 0.6 = 0.12 + 0.015 + 0.3 = 0.435
    c = book.cost("openai", "gpt-4o-mini", Usage(1_000_000, 500_000, cache_read_tokens=200_000))
    assert c == Cost(input_usd=0.135, output_usd=0.3, total_usd=0.435, source="bundled", model="gpt-4o-mini")
    # No cache: the whole prompt at the input rate.
    c = book.cost("openai", "gpt-4o-mini", Usage(1_000_000, 500_000))
    assert (c.input_usd, c.output_usd, c.total_usd) == (0.15, 0.3, 0.45)


def test_anthropic_cache_write_and_read(book):
    # Claude Sonnet 4: $3 in, $15 out, cache write $3.75 (1.25x), cache read $0.30 (0.1x).
    r = book._cache.get(("anthropic", "claude-sonnet-4-20250514")) or book._resolve(
        "anthropic", "claude-sonnet-4-20250514"
    )
    assert r.per_mtok[:2] == (Decimal(3), Decimal("0.3")) and r.per_mtok[2] == Decimal("3.75")
    assert r.per_mtok[2] == r.per_mtok[0] * Decimal("1.25") and r.per_mtok[1] == r.per_mtok[0] * Decimal("0.1")
    # 100k prompt tokens = 20k uncached + 60k cache read + 20k cache write; 2k output.
    # 20k*3 + 60k*0.30 + 20k*3.75 = 0.06 + 0.018 + 0.075 = 0.153; 2k*15 = 0.03
    u = Usage(100_000, 2_000, cache_read_tokens=60_000, cache_write_tokens=20_000)
    c = book.cost("anthropic", "claude-sonnet-4-20250514", u)
    assert (c.input_usd, c.output_usd, c.total_usd) == (usd("0.153"), 0.03, usd("0.183"))
    assert c.model == "claude-sonnet-4-0" and c.source == "bundled"


def test_exclusive_anthropic_native_counts_are_not_double_counted(book):
    # Anthropic's raw API reports input_tokens WITHOUT the cached parts. Cached > input can only
    # mean that convention: the same call as above, priced the same (never negative, never twice).
    inclusive = book.cost("anthropic", "claude-sonnet-4-20250514", Usage(100_000, 2_000, 60_000, 20_000))
    exclusive = book.cost("anthropic", "claude-sonnet-4-20250514", Usage(20_000, 2_000, 60_000, 20_000))
    assert exclusive == inclusive


@pytest.mark.parametrize(
    ("usage", "expected_in", "expected_out"),
    [
        # <= 200k prompt tokens: $1.25 in, $10 out
        (Usage(200_000, 10_000), "0.25", "0.1"),
        # > 200k: every token at $2.50 in / $15 out
        (Usage(200_001, 10_000), "0.5000025", "0.15"),
        # > 200k with 100k cached: 200k*2.50 + 100k*0.25 (tiered cache read)
        (Usage(300_000, 10_000, cache_read_tokens=100_000), "0.525", "0.15"),
        # cached tokens count toward the threshold: 150k uncached + 60k cached = 210k > 200k
        (Usage(210_000, 0, cache_read_tokens=60_000), "0.39", "0"),
    ],
)
def test_tiered_gemini_2_5_pro(book, usage, expected_in, expected_out):
    c = book.cost("gcp.vertex_ai", "gemini-2.5-pro", usage)
    assert c.model == "gemini-2.5-pro"
    assert (c.input_usd, c.output_usd) == (usd(expected_in), usd(expected_out))
    assert c.total_usd == usd(str(Decimal(expected_in) + Decimal(expected_out)))


def test_tiered_claude_sonnet_4_5_with_cache(book):
    # Above 200k: $6 in, $22.5 out, cache read $0.60, cache write $7.50.
    # 250k = 130k uncached + 100k read + 20k write: 0.78 + 0.06 + 0.15 = 0.99; 1k*22.5 = 0.0225
    c = book.cost("anthropic", "claude-sonnet-4-5-20250929", Usage(250_000, 1_000, 100_000, 20_000))
    assert (c.input_usd, c.output_usd, c.total_usd) == (0.99, 0.0225, 1.0125)
    # Below: $3 / $15 / 0.30 / 3.75: 150k = 30k + 100k + 20k: 0.09 + 0.03 + 0.075
    c = book.cost("anthropic", "claude-sonnet-4-5-20250929", Usage(150_000, 1_000, 100_000, 20_000))
    assert (c.input_usd, c.output_usd) == (0.195, 0.015)


def test_reasoning_tokens(book):
    # Perplexity sonar-deep-research: $2 in, $8 out, reasoning $3.
    # 50k output of which 30k reasoning: 20k*8 + 30k*3 = 0.16 + 0.09
    c = book.cost("perplexity", "sonar-deep-research", Usage(10_000, 50_000, reasoning_tokens=30_000))
    assert (c.input_usd, c.output_usd, c.total_usd) == (0.02, 0.25, 0.27)
    # A model without a reasoning price: reasoning is just output ($1.10 / $4.40 for o3-mini).
    c = book.cost("openai", "o3-mini", Usage(1_000, 10_000, reasoning_tokens=8_000))
    assert (c.input_usd, c.output_usd) == (usd("0.0011"), 0.044)
    # Gemini's native candidatesTokenCount excludes thoughts: reasoning > output is read as exclusive.
    exclusive = book.cost("perplexity", "sonar-deep-research", Usage(10_000, 20_000, reasoning_tokens=30_000))
    inclusive = book.cost("perplexity", "sonar-deep-research", Usage(10_000, 50_000, reasoning_tokens=30_000))
    assert exclusive == inclusive


def test_per_request_fee_is_in_total_only(book):
    # Perplexity sonar: $1 / $1 per M tokens plus $12 per 1000 requests (as genai-prices does it).
    c = book.cost("perplexity", "sonar", Usage(1_000, 1_000))
    assert (c.input_usd, c.output_usd, c.total_usd) == (0.001, 0.001, 0.014)


def test_free_model_costs_zero_but_unknown_is_none(book):
    assert book.cost("openai", "my-llama-finetune", Usage(10, 10)) is None
    c = book.cost("openrouter", "openrouter/deepseek/deepseek-chat:free", Usage(1000, 1000))
    assert c is not None and c.total_usd == 0.0
    # Priced per audio hour only: cannot be priced from tokens, so unpriced rather than $0.
    assert book.cost("openai", "whisper-1", Usage(1000, 0)) is None


def test_bad_usage(book):
    with pytest.raises(ValueError, match="negative"):
        book.cost("openai", "gpt-4o-mini", Usage(-1, 0))
    # Floats from JSON are accepted as whole token counts.
    assert book.cost("openai", "gpt-4o-mini", Usage(1_000_000.0, 0)).total_usd == 0.15  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Model-name normalisation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GPT-4o-mini", ["gpt-4o-mini"]),
        ("openai/gpt-4o", ["openai/gpt-4o", "gpt-4o"]),
        ("gpt-4o-2024-08-06", ["gpt-4o-2024-08-06", "gpt-4o"]),
        ("claude-sonnet-4-5-20250929", ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]),
        ("gpt-4-0613", ["gpt-4-0613", "gpt-4"]),
        (
            "openrouter/anthropic/claude-3.5-sonnet",
            ["openrouter/anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet", "claude-3.5-sonnet"],
        ),
        (
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            [
                "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
                "anthropic.claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet-20241022-v2:0",
                "claude-3-5-sonnet-20241022",
                "claude-3-5-sonnet",
            ],
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            [
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                "anthropic.claude-3-haiku-20240307-v1:0",
                "claude-3-haiku-20240307-v1:0",
                "claude-3-haiku-20240307",
                "claude-3-haiku",
            ],
        ),
        (
            "ft:gpt-4o-mini-2024-07-18:org:suffix:id",
            ["ft:gpt-4o-mini-2024-07-18:org:suffix:id", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"],
        ),
        (
            "claude-3-5-sonnet-v2@20241022",
            ["claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2-20241022", "claude-3-5-sonnet-v2"],
        ),
        ("models/gemini-2.5-pro", ["models/gemini-2.5-pro", "gemini-2.5-pro"]),
        # Version suffixes that are not dates are kept (2507 = July 2025, not a month-day).
        ("qwen3-235b-a22b-2507", ["qwen3-235b-a22b-2507"]),
        ("mistral-large-2411", ["mistral-large-2411"]),
        ("my-llama-finetune", ["my-llama-finetune"]),
        ("", []),
        ("   ", []),
    ],
)
def test_model_candidates(name, expected):
    assert model_candidates(name) == expected


@pytest.mark.parametrize(
    ("provider", "name", "entry"),
    [
        ("openai", "gpt-4o-mini", "gpt-4o-mini"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        (None, "openai/gpt-4o", "gpt-4o"),
        ("openai", "GPT-4O", "gpt-4o"),
        # gpt-4o-2024-05-13 has its own (higher) price; the exact name wins over the undated one.
        ("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("anthropic", "anthropic/claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        # Bedrock ids: priced from AWS's own Bedrock prices, with or without a provider.
        ("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "regional.anthropic.claude-3-5-sonnet-20241022-v2:0"),
        (None, "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "regional.anthropic.claude-3-5-sonnet-20241022-v2:0"),
        ("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "regional.anthropic.claude-3-haiku-20240307-v1:0"),
        (
            None,
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            "regional.anthropic.claude-3-haiku-20240307-v1:0",
        ),
        ("bedrock", "bedrock/converse/us.anthropic.claude-3-5-sonnet-20241022-v2:0", "regional.anthropic.claude-3-5-sonnet-20241022-v2:0"),
        # A Bedrock-only provider with a plain Anthropic name: AWS's price for it.
        ("aws.bedrock", "claude-sonnet-4-5-20250929", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        # Fine-tunes: genai-prices knows OpenAI's fine-tuned rates ($0.30/$1.20, 2x the base).
        ("openai", "ft:gpt-4o-mini-2024-07-18:org:suffix:id", "ft:gpt-4o-mini"),
        (None, "ft:gpt-4o-mini-2024-07-18:org:suffix:id", "ft:gpt-4o-mini"),
        # Vertex: Google's price list for Claude; the @date form.
        ("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("gcp.vertex_ai", "claude-sonnet-4@20250514", "claude-4-sonnet"),
        (None, "vertex_ai/claude-sonnet-4@20250514", "claude-4-sonnet"),
        ("gcp.gemini", "gemini/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gcp.gen_ai", "models/gemini-2.5-flash", "gemini-2.5-flash"),
        # Azure OpenAI falls back to OpenAI prices.
        ("azure.ai.openai", "gpt-4o-mini", "gpt-4o-mini"),
        ("az.ai.openai", "azure/gpt-4o", "gpt-4o"),
        # OpenRouter's own price list, prefixed names.
        ("openrouter", "openai/gpt-4o", "openai/gpt-4o"),
        (None, "openrouter/anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet"),
        # Legacy capitalised gen_ai.system value (OpenLLMetry) and an unknown provider: fall back to
        # provider-less matching.
        ("Anthropic", "claude-3-haiku-20240307", "claude-3-haiku"),
        ("some-gateway", "claude-3-haiku-20240307", "claude-3-haiku"),
        ("openai", "claude-3-haiku-20240307", "claude-3-haiku"),
        # Unknown names: unpriced.
        ("openai", "my-llama-finetune", None),
        (None, "my-llama-finetune", None),
        (None, "", None),
        ("openai", None, None),
        (None, "gpt-unknown-9000", None),
        # Self-hosted servers are never priced from cloud list prices.
        ("ollama", "gpt-oss-20b", None),
        (None, "ollama/llama3.1:8b", None),
    ],
)
def test_resolution(book, provider, name, entry):
    c = book.cost(provider, name, Usage(1000, 100))
    if entry is None:
        assert c is None
    else:
        assert c is not None and c.model == entry and c.total_usd > 0


# ---------------------------------------------------------------------------------------------
# Equality with genai-prices' own calc_price
# ---------------------------------------------------------------------------------------------

USAGES = [
    (0, 0, 0, 0, 0),
    (1, 1, 0, 0, 0),
    (1000, 500, 0, 0, 0),
    (1_000_000, 500_000, 200_000, 0, 0),
    (150_000, 2000, 50_000, 30_000, 700),
    (200_000, 100, 0, 0, 0),
    (200_001, 100, 0, 0, 0),
    (250_000, 40_000, 100_000, 20_000, 10_000),
    (1_234_567, 98_765, 4321, 123, 999),
    (272_001, 5, 1, 1, 1),
    (128_001, 7, 0, 0, 3),
]


def _genai_usage(i, o, cr, cw, rs):
    from genai_prices import Usage as GUsage

    return GUsage(
        input_tokens=i, output_tokens=o, cache_read_tokens=cr, cache_write_tokens=cw, output_reasoning_tokens=rs
    )


def test_arithmetic_equals_calc_price_for_every_bundled_model():
    """Every model in the snapshot x a usage table: integer arithmetic == float(Decimal result)."""
    from genai_prices import data_snapshot

    now = datetime.now(UTC)
    snapshot = data_snapshot.get_snapshot()
    book = PriceBook()
    checked = skipped = 0
    for provider in snapshot.providers:
        for info in provider.models:
            r = book._bundled_rates(provider, info, Decimal(1), "bundled", now.timestamp())
            if r is None:
                skipped += 1  # priced per character/second/page only
                continue
            for u in USAGES:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    g = info.calc_price(_genai_usage(*u), provider, genai_request_timestamp=now)
                book._cache[(provider.id, info.id)] = r
                c = book.cost(provider.id, info.id, Usage(*u))
                assert (c.input_usd, c.output_usd, c.total_usd) == (
                    float(g.input_price),
                    float(g.output_price),
                    float(g.total_price),
                ), (provider.id, info.id, u)
                checked += 1
    assert checked > 20_000 and skipped < 60


@pytest.mark.parametrize(
    ("provider", "name", "provider_id", "ref"),
    [
        ("openai", "gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("openai", "gpt-4o-2024-08-06", "openai", "gpt-4o-2024-08-06"),
        ("openai", "o3", "openai", "o3"),
        ("openai", "gpt-5", "openai", "gpt-5"),
        ("openai", "gpt-5.4", "openai", "gpt-5.4"),  # tiered
        ("openai", "ft:gpt-4o-mini-2024-07-18:org:x:y", "openai", "ft:gpt-4o-mini-2024-07-18:org:x:y"),
        ("anthropic", "claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku-20241022"),
        ("anthropic", "claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),  # tiered + cache
        ("anthropic", "claude-opus-4-1-20250805", "anthropic", "claude-opus-4-1-20250805"),
        ("gcp.vertex_ai", "gemini-2.5-pro", "google", "gemini-2.5-pro"),  # tiered
        ("gcp.gemini", "gemini-1.5-flash", "google", "gemini-1.5-flash"),  # tiered at 128k
        ("gcp.vertex_ai", "claude-3-5-sonnet-v2@20241022", "google", "claude-3-5-sonnet-v2@20241022"),
        ("aws.bedrock", "us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws", "us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
        ("aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "aws", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("azure.ai.openai", "gpt-4o", "azure", "gpt-4o"),
        ("deepseek", "deepseek-chat", "deepseek", "deepseek-chat"),  # time-of-day prices
        ("mistral_ai", "mistral-large-latest", "mistral", "mistral-large-latest"),
        ("x_ai", "grok-3", "x-ai", "grok-3"),
        ("groq", "llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
        ("perplexity", "sonar-deep-research", "perplexity", "sonar-deep-research"),  # reasoning price
        ("perplexity", "sonar-pro", "perplexity", "sonar-pro"),  # per-request fee
        ("openrouter", "anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet"),
        (None, "claude-3-opus-20240229", None, "claude-3-opus-20240229"),
        (None, "gemini-2.0-flash", None, "gemini-2.0-flash"),
    ],
)
def test_cost_equals_calc_price(book, provider, name, provider_id, ref):
    from genai_prices import calc_price

    for u in USAGES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = calc_price(_genai_usage(*u), ref, provider_id=provider_id)
        c = book.cost(provider, name, Usage(*u))
        assert c is not None, (provider, name)
        assert c.model == g.model.id
        assert (c.input_usd, c.output_usd, c.total_usd) == (
            float(g.input_price),
            float(g.output_price),
            float(g.total_price),
        ), u


# ---------------------------------------------------------------------------------------------
# Caching: the slow matcher runs once per (provider, model)
# ---------------------------------------------------------------------------------------------


def test_matcher_called_once_per_pair(monkeypatch):
    from genai_prices import data_snapshot, types

    book = PriceBook()
    book.preload()
    matcher_calls = []
    resolves = []
    real_find_model = types.Provider.find_model
    real_find_provider_model = data_snapshot.DataSnapshot.find_provider_model
    real_resolve = book._resolve

    def find_model(self, *a, **kw):
        matcher_calls.append(("find_model", a[0]))
        return real_find_model(self, *a, **kw)

    def find_provider_model(self, *a, **kw):
        matcher_calls.append(("find_provider_model", a[0]))
        return real_find_provider_model(self, *a, **kw)

    def resolve(provider, model):
        resolves.append((provider, model))
        return real_resolve(provider, model)

    monkeypatch.setattr(types.Provider, "find_model", find_model)
    monkeypatch.setattr(data_snapshot.DataSnapshot, "find_provider_model", find_provider_model)
    monkeypatch.setattr(book, "_resolve", resolve)

    pairs = [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        (None, "us.anthropic.claude-3-5-sonnet-20241022-v2:0"),
        ("openai", "my-llama-finetune"),  # unknown: the miss is cached too
        ("anthropic", "gpt-4o-mini"),  # same model, other provider: its own entry
    ]
    u = Usage(1000, 100, 10)
    first = {}
    for p, m in pairs:
        first[(p, m)] = book.cost(p, m, u)
    assert resolves == pairs
    assert matcher_calls, "the first call of each pair goes through genai-prices"
    matcher_calls.clear()
    for _ in range(1000):
        for p, m in pairs:
            assert book.cost(p, m, u) == first[(p, m)]
    assert resolves == pairs
    assert matcher_calls == []


def test_time_dependent_prices_refresh_without_matcher(monkeypatch):
    """DeepSeek off-peak (time of day) and o3's price cut (start date) follow the clock."""
    from genai_prices import calc_price, data_snapshot

    clock = SimpleNamespace(now=datetime(2025, 6, 9, 12, 0, tzinfo=UTC).timestamp())
    monkeypatch.setattr(prices.pricebook, "time", SimpleNamespace(time=lambda: clock.now))
    book = PriceBook()
    u = Usage(1_000_000, 1_000_000, cache_read_tokens=400_000)

    def expected(ref, provider_id, ts):
        g = calc_price(_genai_usage(1_000_000, 1_000_000, 400_000, 0, 0), ref, provider_id=provider_id,
                       genai_request_timestamp=datetime.fromtimestamp(ts, UTC))
        return float(g.total_price)

    peak = book.cost("deepseek", "deepseek-chat", u)
    o3_old = book.cost("openai", "o3", u)
    assert peak.total_usd == expected("deepseek-chat", "deepseek", clock.now)
    assert o3_old.total_usd == expected("o3", "openai", clock.now) == usd("46.2")

    t_off_peak = datetime(2025, 6, 9, 17, 0, tzinfo=UTC).timestamp()  # off-peak from 16:30 UTC
    t_o3_cut = datetime(2025, 6, 10, 0, 0, 1, tzinfo=UTC).timestamp()  # o3's new price from 2025-06-10
    t_peak = datetime(2025, 6, 10, 1, 0, tzinfo=UTC).timestamp()  # peak again from 00:30 UTC
    want_off_peak = expected("deepseek-chat", "deepseek", t_off_peak)
    want_o3_new = expected("o3", "openai", t_o3_cut)
    assert want_off_peak < peak.total_usd and want_o3_new == usd("9.4")

    calls = []
    real = data_snapshot.DataSnapshot.find_provider_model
    monkeypatch.setattr(
        data_snapshot.DataSnapshot, "find_provider_model", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    clock.now = t_off_peak
    assert book.cost("deepseek", "deepseek-chat", u).total_usd == want_off_peak
    clock.now = t_o3_cut
    assert book.cost("openai", "o3", u).total_usd == want_o3_new
    clock.now = t_peak
    assert book.cost("deepseek", "deepseek-chat", u) == peak
    assert calls == []


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(prices.pricebook, "_MAX_CACHED", 10)
    book = PriceBook()
    for i in range(35):
        book.cost("openai", f"unknown-{i}", Usage(1, 1))
    assert len(book._cache) <= 10


def test_a_cache_hit_resolves_nothing(book, monkeypatch):
    # The cost of a repeated (provider, model) is one dict lookup and the arithmetic: the resolution (the
    # bundled catalogue's name matching and the overrides) runs once. Its speed is benchmarks/processors_cpu.py's.
    u = Usage(12_000, 800, cache_read_tokens=4_000, reasoning_tokens=200)
    first = book.cost("anthropic", "claude-sonnet-4-5-20250929", u)
    calls = []
    monkeypatch.setattr(book, "_resolve", lambda *a: calls.append(a))
    for _ in range(3):
        assert book.cost("anthropic", "claude-sonnet-4-5-20250929", u) == first
    assert calls == []


def test_genai_prices_is_imported_lazily():
    code = textwrap.dedent(
        """
        import sys
        from collector.genai.prices import PriceBook, Usage
        book = PriceBook("config/prices.yaml")
        assert "genai_prices" not in sys.modules and "pydantic" not in sys.modules, "eager import"
        assert book.cost("vllm", "acme-llama-3.1-70b-ft", Usage(1_000_000, 0)).total_usd == 0.2
        assert "genai_prices" not in sys.modules, "an override hit needs no bundled data"
        assert book.cost("openai", "gpt-4o-mini", Usage(1_000_000, 0)).total_usd == 0.15
        assert "genai_prices" in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "prices.yaml"
    p.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(p)


OVERRIDES = """
models:
  - name: my-llama-finetune
    aliases: [llama-ft]
    input_mtok: 0.20
    output_mtok: 0.80
    cache_read_mtok: 0.02
    cache_write_mtok: 0.25
  - name: gpt-4o
    provider: azure.ai.openai
    input_mtok: 2
    output_mtok: 8
    cache_read_mtok: 1
  - name: gpt-4o-2024-11-20
    provider: azure
    input_mtok: 1
    output_mtok: 1
    cache_read_mtok: 0.5
  - name: claude-sonnet-4-5
    multiplier: 0.5
  - name: acme-reasoner
    input_mtok: {base: 1, tiers: [{start: 200000, price: 2}]}
    output_mtok: {base: 4, tiers: [{start: 200000, price: 6}]}
    output_reasoning_mtok: 3
  - name: gemini-2.5-flash
    input_mtok: 1e-1
    output_mtok: 1
    multiplier: 0.5
markups:
  openai: 0.9
  aws.bedrock: 1.1
  "*": 2
"""


@pytest.fixture
def overridden(tmp_path) -> PriceBook:
    return PriceBook(write(tmp_path, OVERRIDES))


def test_override_adds_self_hosted_model(overridden):
    u = Usage(1_000_000, 1_000_000, cache_read_tokens=100_000, cache_write_tokens=100_000)
    # 0.8*0.20 + 0.1*0.02 + 0.1*0.25 = 0.16 + 0.002 + 0.025 = 0.187; 0.80 out
    c = overridden.cost("vllm", "my-llama-finetune", u)
    assert c == Cost(usd("0.187"), 0.8, usd("0.987"), "override", "my-llama-finetune")
    assert overridden.cost(None, "LLAMA-FT", u) == c  # alias, case-insensitive
    assert overridden.cost("ollama", "hosted_vllm/my-llama-finetune", u) == c  # route prefix removed


def test_override_wins_for_its_provider_and_covers_dated_names(overridden):
    u = Usage(1_000_000, 1_000_000, cache_read_tokens=500_000)
    azure = overridden.cost("azure.ai.openai", "gpt-4o-2024-08-06", u)
    assert azure == Cost(1.5, 8.0, 9.5, "override", "gpt-4o")
    assert overridden.cost("azure", "gpt-4o", u) == azure  # genai-prices id works as well
    # Other providers: bundled OpenAI price x the openai markup 0.9 (2.5 / 10 / 1.25 cached).
    c = overridden.cost("openai", "gpt-4o", u)
    assert (c.source, c.model) == ("bundled", "gpt-4o")
    assert (c.input_usd, c.output_usd) == (usd("1.6875"), 9.0)
    # Every dated gpt-4o snapshot gets the gpt-4o override unless it has an entry of its own.
    assert overridden.cost("azure.ai.openai", "gpt-4o-2024-05-13", u) == azure
    assert overridden.cost("azure.ai.openai", "gpt-4o-2024-11-20", u).model == "gpt-4o-2024-11-20"
    assert overridden.cost("azure.ai.openai", "azure/gpt-4o-2024-11-20", u).total_usd == 0.5 + 0.25 + 1


def test_multiplier_override_and_markups(overridden, book):
    u = Usage(100_000, 10_000, cache_read_tokens=50_000)
    base = book.cost("anthropic", "claude-sonnet-4-5-20250929", u)
    half = overridden.cost("anthropic", "claude-sonnet-4-5-20250929", u)
    assert (half.source, half.model) == ("override", "claude-sonnet-4-5")
    assert (half.input_usd, half.output_usd, half.total_usd) == (
        base.input_usd / 2,
        base.output_usd / 2,
        base.total_usd / 2,
    )
    # The per-model multiplier replaces the provider markup ("*": 2 would otherwise apply).
    assert overridden.cost("aws.bedrock", "claude-sonnet-4-5-20250929", u).source == "override"
    # Bedrock markup 1.1 on a bundled Bedrock price; "*" (2x) for a provider without its own markup.
    bedrock = book.cost("aws.bedrock", "claude-3-haiku-20240307", u)
    assert overridden.cost("aws.bedrock", "claude-3-haiku-20240307", u).total_usd == pytest.approx(
        bedrock.total_usd * 1.1, rel=1e-15
    )
    assert overridden.cost("bedrock", "claude-3-haiku-20240307", u).total_usd == usd(
        str(Decimal(str(bedrock.total_usd)) * Decimal("1.1"))
    )
    assert overridden.cost("anthropic", "claude-3-haiku-20240307", u).total_usd == book.cost(
        "anthropic", "claude-3-haiku-20240307", u
    ).total_usd * 2
    # A plain price override is used as written, with its own multiplier but no markup:
    # (0.1 in, 1 out) x 0.5
    c = overridden.cost("gcp.gemini", "gemini-2.5-flash", Usage(1_000_000, 1_000_000))
    assert c == Cost(0.05, 0.5, 0.55, "override", "gemini-2.5-flash")


def test_tiered_and_reasoning_override(overridden):
    c = overridden.cost(None, "acme-reasoner", Usage(200_000, 100_000, reasoning_tokens=50_000))
    assert (c.input_usd, c.output_usd) == (0.2, 0.35)  # 200k*1; 50k*4 + 50k*3
    c = overridden.cost(None, "acme-reasoner", Usage(200_001, 100_000, reasoning_tokens=50_000))
    assert (c.input_usd, c.output_usd) == (0.400002, 0.45)  # 200001*2; 50k*6 + 50k*3


def test_multiplier_for_unknown_model_is_unpriced(tmp_path):
    book = PriceBook(write(tmp_path, "models:\n  - name: not-a-real-model\n    multiplier: 0.5\n"))
    assert book.cost(None, "not-a-real-model", Usage(10, 10)) is None


def test_example_config_loads():
    book = PriceBook(str(REPO / "config" / "prices.yaml"))
    c = book.cost("vllm", "acme-llama-70b", Usage(1_000_000, 1_000_000, cache_read_tokens=500_000))
    assert c == Cost(usd("0.11"), 0.8, usd("0.91"), "override", "acme-llama-3.1-70b-ft")
    # Scoped to vllm: another provider does not get it.
    assert book.cost("openai", "acme-llama-70b", Usage(10, 10)) is None


def test_empty_overrides_file(tmp_path):
    book = PriceBook(write(tmp_path, "# nothing yet\n"))
    assert book.cost("openai", "gpt-4o-mini", Usage(1_000_000, 0)).total_usd == 0.15


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [\n", r"prices\.yaml:2: invalid YAML"),
        ("model:\n  - name: x\n", r"prices\.yaml:1: model: unknown key; expected one of: models, markups"),
        ("models:\n  name: x\n", r"prices\.yaml:2: models: expected a list of model entries"),
        ("models:\n  - input_mtok: 1\n    output_mtok: 1\n", r"prices\.yaml:2: models\[0\]: missing name:"),
        (
            "models:\n  - name: x\n    input_mtok: 1\n    output_mtok: 2\n    cache_mtok: 0.1\n",
            (
                r"prices\.yaml:5: models\[0\]\.cache_mtok: unknown key; expected one of: name, aliases, "
                r"provider, input_mtok"
            ),
        ),
        (
            "models:\n  - name: x\n    input_mtok: -1\n    output_mtok: 2\n",
            r"prices\.yaml:3: models\[0\]\.input_mtok: expected a non-negative number, got '-1'",
        ),
        (
            "models:\n  - name: x\n    input_mtok: '0.15'\n    output_mtok: 2\n",
            r"prices\.yaml:3: models\[0\]\.input_mtok: expected a non-negative number, got '0.15'",
        ),
        (
            "models:\n  - name: x\n    input_mtok: cheap\n    output_mtok: 2\n",
            r"prices\.yaml:3: models\[0\]\.input_mtok: expected a non-negative number, got 'cheap'",
        ),
        (
            "models:\n  - name: x\n    input_mtok: 1\n",
            r"prices\.yaml:2: models\[0\]: missing output_mtok",
        ),
        ("models:\n  - name: x\n", r"prices\.yaml:2: models\[0\]: expected prices .* or a multiplier"),
        ("models:\n  - name: 42\n    multiplier: 1\n", r"prices\.yaml:2: models\[0\]\.name: expected a model name, got '42'"),
        (
            "models:\n  - name: x\n    multiplier: 0\n",
            r"prices\.yaml:3: models\[0\]\.multiplier: expected a positive number, got '0'",
        ),
        (
            (
                "models:\n  - name: x\n    output_mtok: 1\n    input_mtok:\n      base: 1\n      tiers:\n"
                "        - {start: 200000, price: 2}\n        - {start: 100000, price: 3}\n"
            ),
            r"prices\.yaml:8: models\[0\]\.input_mtok\.tiers\[1\]\.start: tiers must be listed in increasing order",
        ),
        (
            "models:\n  - name: x\n    output_mtok: 1\n    input_mtok: {base: 1}\n",
            r"prices\.yaml:4: models\[0\]\.input_mtok: a tiered price needs both base: and tiers:",
        ),
        (
            "models:\n  - name: x\n    multiplier: 1\n  - name: X\n    multiplier: 2\n",
            r"prices\.yaml: models: 'x' is defined twice for any provider",
        ),
        (
            "models:\n  - name: x\n    multiplier: 1\n    multiplier: 2\n",
            r"prices\.yaml:4: models\[0\]\.multiplier: duplicate key \(first defined on line 3\)",
        ),
        ("markups:\n  openai: -0.5\n", r"prices\.yaml:2: markups\.openai: expected a positive number, got '-0.5'"),
        ("markups: [openai]\n", r"prices\.yaml:1: markups: expected a mapping of provider name -> multiplier"),
        ("- models\n", r"prices\.yaml:1: expected a mapping with keys models, markups, got a list"),
    ],
)
def test_bad_overrides_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(PriceConfigError, match=expected) as e:
        PriceBook(path)
    assert str(e.value).startswith(path)


def test_missing_overrides_file(tmp_path):
    with pytest.raises(PriceConfigError, match=r"nope\.yaml: cannot read price overrides file"):
        PriceBook(str(tmp_path / "nope.yaml"))
