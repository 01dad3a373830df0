"""The adapter to the genai-prices data snapshot, imported lazily (it pulls in pydantic and a 1.6 MB data
module): provider and model matching, a genai-prices price as our price dict, and the next instant a
time-dependent price changes."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from .rates import _REQUEST_KEY, _TOKEN_KEYS, PriceValue


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
