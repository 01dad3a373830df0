"""One resolved price as integer rates: the prices of each tier band scaled by one power of ten, so that a
span's cost is one integer dot product over one denominator (the arithmetic described in the package
docstring)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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
