"""The price book: resolves ``(provider, model)`` once per pair (overrides first, then genai-prices), caches
the integer rates and prices each span's token usage with them; :class:`Usage` in, :class:`Cost` out."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .bundled import _Bundled, _bundled_prices, _next_price_change
from .names import _SELF_HOSTED, _candidate_forms, _provider_from_name, provider_key
from .overrides import _load_overrides, _Overrides
from .rates import _Rates


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

