"""`otlp_json_traces`, the file exporter's OTLP-JSON of a serialized trace request in C, against
otlpjson.encode_traces on the parsed request.

Input: a serialized ExportTraceServiceRequest. The walk may refuse (ValueError) what upb reads (json_writer
then encodes in Python); what it writes is always JSON, and where upb reads the bytes too it is byte for
byte what the Python encoder writes.
"""

from __future__ import annotations

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector import otlpjson
from collector.otlpjson import encoder
from collector.wire import native
from fuzz import _harness


def test_one_input(data: bytes) -> None:
    assert native.otlp_json_traces is not None
    try:
        got = native.otlp_json_traces(_harness.exact(data), orjson.dumps)
    except ValueError:
        return
    assert type(orjson.loads(got)) is dict
    try:
        expected = otlpjson.encode_traces(ExportTraceServiceRequest.FromString(data))
    except (DecodeError, otlpjson.OTLPJSONError):  # upb refuses what the walk skips; nested too deeply
        return
    assert got == expected, (got, expected)


if __name__ == "__main__":
    _harness.main(test_one_input, [encoder])
