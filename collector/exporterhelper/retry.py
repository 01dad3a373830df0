"""otelcol's `retry_on_failure`: exponential backoff with jitter, a server's throttle delay taking
precedence, everything bounded by `max_elapsed_time`."""

from __future__ import annotations

import random
from collections.abc import Iterator

from .config import RetryConfig


def backoff_delays(cfg: RetryConfig, rng: random.Random | None = None) -> Iterator[float]:
    """initial_interval, then ×multiplier up to max_interval, each drawn uniformly from ±randomization_factor."""
    rng = rng or random.Random()
    interval = float(cfg.initial_interval)
    while True:
        delta = cfg.randomization_factor * interval
        yield interval - delta + rng.random() * (2 * delta)
        interval = min(interval * cfg.multiplier, float(cfg.max_interval))


def next_delay(cfg: RetryConfig, backoff: Iterator[float], retry_after: float | None, elapsed: float) -> float | None:
    """Seconds to wait before the next attempt, or None to give up.

    A throttle delay from the server (gRPC RetryInfo, HTTP Retry-After) replaces the backoff: the
    server knows when it will have room (docs/wire-formats.md, "OTLP exporter semantics"). It is still
    bounded by max_elapsed_time, so a server asking for an hour cannot hold a request past the
    configured limit.
    """
    if not cfg.enabled:
        return None
    delay = next(backoff)
    if retry_after is not None and retry_after >= 0:
        delay = float(retry_after)
    if cfg.max_elapsed_time and elapsed + delay > float(cfg.max_elapsed_time):
        return None
    return delay
