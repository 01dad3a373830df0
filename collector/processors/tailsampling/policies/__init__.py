"""tail_sampling's policies, one module per policy type, and the registry that builds them from the config.

`POLICIES` is keyed by the policy `type` of the config (config.POLICY_TYPES has the same keys: a type's
settings class there is its policy class's `config_class`).
"""

from __future__ import annotations

import sys
from typing import Any

from ..config import POLICY_TYPES, CompositeSubPolicyConfig, PolicyConfig, SubPolicyConfig
from .always_sample import AlwaysSample
from .and_ import And
from .base import DROPPED, SAMPLED, Policy, PolicyError
from .boolean_attribute import BooleanAttribute
from .bytes_limiting import BytesLimiting
from .composite import Composite
from .drop import Drop
from .latency import Latency
from .llm_cost import LLMCost
from .llm_error import LLMError
from .llm_model import LLMModel
from .llm_tokens import LLMTokens
from .not_ import Not
from .numeric_attribute import NumericAttribute
from .ottl_condition import OTTLCondition
from .probabilistic import Probabilistic
from .rate_limiting import RateLimiting
from .span_count import SpanCount
from .status_code import StatusCode
from .string_attribute import StringAttribute
from .trace_flags import TraceFlags
from .trace_state import TraceState

__all__ = ["DROPPED", "POLICIES", "SAMPLED", "Drop", "Policy", "PolicyError", "build_policy", "reference_sections"]

POLICIES: dict[str, type[Policy]] = {
    cls.type_name: cls
    for cls in (
        AlwaysSample,
        Latency,
        NumericAttribute,
        Probabilistic,
        StatusCode,
        StringAttribute,
        RateLimiting,
        BytesLimiting,
        SpanCount,
        TraceState,
        BooleanAttribute,
        OTTLCondition,
        TraceFlags,
        And,
        Drop,
        Not,
        Composite,
        LLMCost,
        LLMTokens,
        LLMModel,
        LLMError,
    )
}


def build_policy(p: PolicyConfig, log: Any = None) -> Policy:
    """The policy for `p` and its sub-policies; `log` (the processor's logger) is theirs when given."""
    cls = POLICIES.get(p.type)
    if cls is None:
        raise ValueError(f"unknown policy type {p.type!r}")
    policy = cls.from_config(p.settings, lambda sub: build_policy(sub, log))
    policy.name = p.name
    if log is not None:
        policy.log = log
    return policy


def reference_sections() -> list[tuple[str, str, type | None]]:
    """The config reference's sections on policies (collector/docs.py): one per policy type, what it
    samples (its module docstring's first paragraph), where it may be used, and its settings."""
    out: list[tuple[str, str, type | None]] = []
    for name, cls in POLICIES.items():
        places = ["`policies`"]
        if name in CompositeSubPolicyConfig.TYPES:
            places.append("`composite_sub_policy`")
        if name in SubPolicyConfig.TYPES:
            places += ["`and_sub_policy`", "`drop_sub_policy`", "`not_sub_policy`"]
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n\n")[0]
        out.append((f"Policy type `{name}`", f"{doc} Allowed in: {', '.join(places)}.", POLICY_TYPES[name]))
    return out
