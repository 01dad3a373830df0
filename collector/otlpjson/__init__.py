"""Fast, exact OTLP-JSON codec for the OTLP Export*ServiceRequest messages.

Encoding follows the "JSON Protobuf Encoding" section of the OTLP specification:
proto3 JSON mapping with lowerCamelCase keys and default values omitted, trace/span
ids as lowercase hex, other bytes as padded standard base64, enums as integers,
64-bit integers as decimal strings and non-finite doubles as "NaN"/"Infinity"/
"-Infinity".  The output is what the OpenTelemetry Collector's ``otlpjsonfile``
receiver and OTLP/HTTP JSON endpoints read.

The encoders walk the messages by hand (roughly 10x faster than
``google.protobuf.json_format``) and serialise once with orjson.  Every field of
every message is handled, including present-but-empty sub-messages and oneof
members holding default values, so that ``decode(encode(m)) == m``.

The decoder is descriptor-driven: it validates the parsed JSON against
precomputed per-message tables, converts it into nested keyword-argument dicts and
lets the C protobuf runtime build the whole request in one constructor call.

The modules: ``base`` (the error, the request type of each signal); the encoder's
walks ``values`` (what every signal shares: doubles, bytes, AnyValue, attributes,
Resource, scope), ``spans``, ``logs`` and ``metrics``, and its entry points in
``encoder``; the decoder's value ``converters`` and its tables and entry points in
``decoder``.
"""

from __future__ import annotations

from .base import SIGNALS, JSONDict, OTLPJSONError
from .converters import Converter
from .decoder import (
    MAX_NESTING_DEPTH,
    JSONInput,
    MessageConverter,
    decode,
    decode_logs,
    decode_metrics,
    decode_traces,
)
from .encoder import encode, encode_logs, encode_metrics, encode_response, encode_traces

__all__ = [
    "MAX_NESTING_DEPTH", "SIGNALS", "Converter", "JSONDict", "JSONInput", "MessageConverter", "OTLPJSONError",
    "decode", "decode_logs", "decode_metrics", "decode_traces",
    "encode", "encode_logs", "encode_metrics", "encode_response", "encode_traces",
]

__all__ = [
    "OTLPJSONError",
    "SIGNALS",
    "decode",
    "decode_logs",
    "decode_metrics",
    "decode_traces",
    "encode",
    "encode_logs",
    "encode_metrics",
    "encode_response",
    "encode_traces",
]
