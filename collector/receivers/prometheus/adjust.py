"""What one target's scrapes remember of the ones before: start times of cumulative points and the
series to mark stale.

Start times follow contrib's metrics_adjuster.go (initialPointAdjuster): a point with a `_created` sample
starts then; otherwise a series' first point starts at its own time, later points at that first time, and a
value below the previous one (a Sum's value, a Histogram's or Summary's count or sum) is a reset that starts
the series again at the resetting point's time. With use_start_time_metric (starttimemetricadjuster.go) every
cumulative point starts at the value of the target's process_start_time_seconds gauge instead.

Staleness follows Prometheus's scrape loop: a series of the previous scrape missing from this one (every
series, when this scrape failed) gets one point with the NO_RECORDED_VALUE flag at this scrape's time, which
contrib writes for Prometheus's stale markers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .translate import GAUGE, HISTOGRAM, SUM, SUMMARY, Attrs, Family, Point, ResourceKey, ScopeKey, Scrape

DEFAULT_START_TIME_METRIC = re.compile(r"^(.+_)*process_start_time_seconds$")

SeriesKey = tuple[ResourceKey, ScopeKey, str, Attrs]


@dataclass
class _Seen:
    start_ns: int
    value: float
    total: float  # a Histogram's or Summary's sum (value is their count)


@dataclass
class _Shape:
    """What a stale point of a vanished series needs: its family and its buckets' or quantiles' bounds."""

    family: Family
    bounds: list[float]


@dataclass
class TargetState:
    seen: dict[SeriesKey, _Seen] = field(default_factory=dict)
    previous: dict[SeriesKey, _Shape] = field(default_factory=dict)

    def adjust(self, scrape: Scrape, start_time_metric: re.Pattern[str] | None) -> str | None:
        """Sets the start times of `scrape`'s cumulative points. Returns a problem to log (the start
        time metric asked for is absent: the first-point rule is used instead), or None."""
        problem = None
        process_start = None
        if start_time_metric is not None:
            process_start = _start_time_value(scrape, start_time_metric)
            if process_start is None:
                problem = "start time metric not found: start times come from each series' first point"
        current: dict[SeriesKey, _Shape] = {}
        for rkey, scopes in scrape.resources.items():
            for skey, families in scopes.items():
                for fam in families.values():
                    for point in fam.points.values():
                        if point.stale:
                            continue
                        key = (rkey, skey, fam.name, point.attrs)
                        current[key] = _Shape(fam, [b for b, _ in point.buckets])
                        if fam.kind == GAUGE:
                            continue
                        if process_start is not None:
                            point.start_ns = int(process_start * 1e9)
                        else:
                            self._initial_point(key, fam, point)
        self.previous = current
        if len(self.seen) > 2 * len(current) + 1000:  # the adjuster's gc: forget series gone for good
            self.seen = {k: v for k, v in self.seen.items() if k in current}
        return problem

    def _initial_point(self, key: SeriesKey, fam: Family, point: Point) -> None:
        ts_ns = point.ts_ms * 1_000_000
        if point.created and point.created * 1e9 < ts_ns:
            point.start_ns = int(point.created * 1e9)
            return
        value, total = (point.value, 0.0) if fam.kind == SUM else (point.count, point.sum)
        seen = self.seen.get(key)
        if seen is None or value < seen.value or total < seen.total:
            self.seen[key] = _Seen(ts_ns, value, total)
            point.start_ns = ts_ns
            return
        seen.value, seen.total = value, total
        point.start_ns = seen.start_ns

    def mark_stale(self, scrape: Scrape, ts_ms: int) -> None:
        """Adds a NO_RECORDED_VALUE point to `scrape` for each series of the previous scrape it lacks
        (call it before `adjust`, which makes this scrape the previous one)."""
        for key, shape in self.previous.items():
            rkey, skey, name, attrs = key
            fam0 = shape.family
            fam = scrape.family(rkey, skey, name, fam0.kind, fam0.monotonic, fam0.help, fam0.unit, fam0.prom_type)
            if attrs in fam.points:
                continue
            point = fam.points[attrs] = Point(attrs, ts_ms, stale=True, buckets=[(b, 0.0) for b in shape.bounds])
            seen = self.seen.get(key)
            if seen is not None and fam.kind in (SUM, HISTOGRAM, SUMMARY):
                point.start_ns = seen.start_ns


def _start_time_value(scrape: Scrape, pattern: re.Pattern[str]) -> float | None:
    for scopes in scrape.resources.values():
        for families in scopes.values():
            for fam in families.values():
                if fam.kind == GAUGE and pattern.match(fam.name):
                    for point in fam.points.values():
                        if point.has_value:
                            return point.value
    return None
