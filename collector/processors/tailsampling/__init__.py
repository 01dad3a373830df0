"""tail_sampling: samples whole traces after `decision_wait` by otelcol's policies plus LLM ones.

Laid out like otelcol-contrib's tailsamplingprocessor:
    config.py     the processor's and every policy type's settings
    processor.py  the Processor: intake, the decision timer, release, metrics (registered as `tail_sampling`)
    buffer.py     a pending trace's held spans (TraceData), a request grouped by trace, the decision cache
    sampler.py    the decision rule over the policies
    policies/     one module per policy type, and the registry keyed by `type`
    rollup.py     a trace's LLM totals (cost, tokens), and the rollup onto its root span
    lookups.py    attribute lookups on a pending trace, parsed or held as bytes (over collector/wire/)
Importing the package registers the processor.
"""

from __future__ import annotations

from .buffer import ALL_FACTS, TraceData, build_request, group_by_trace
from .config import TailSamplingConfig
from .lookups import span_attribute_values
from .processor import TailSamplingProcessor
from .rollup import trace_cost
from .sampler import Sampler

__all__ = [
    "ALL_FACTS",
    "Sampler",
    "TailSamplingConfig",
    "TailSamplingProcessor",
    "TraceData",
    "build_request",
    "group_by_trace",
    "span_attribute_values",
    "trace_cost",
]
