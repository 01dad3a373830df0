"""Only the C extensions live here; everything else about the package is in pyproject.toml.

All are in collector/wire/ and optional: without a C compiler the build goes on, and the same work runs in
Python (collector/wire/native.py is the one place that imports them, and says what runs instead).
- collector/wire/_walks.c: byte walks for the redaction gate (wire.locate, wire.json_lexer, wire.schema), tail_sampling's
  lookups in held spans (wire.spans: attribute_values, number_sum, fnv1a64), the GenAI view's slots
  (wire.slots) and the item count of a refused request (wire.count).
- collector/wire/_otlp_json.c: OTLP-JSON of trace requests for the file exporter's encoder process
  (otlpjson.encode_traces).
- collector/wire/_pii.c: the built-in PII detectors' exact patterns, acceptors and checksum validators for the
  redaction scanner (collector.pii.compiled).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.wire._walks",
            sources=["collector/wire/_walks.c"],
            optional=True,
        ),
        Extension(
            "collector.wire._otlp_json",
            sources=["collector/wire/_otlp_json.c"],
            optional=True,
        ),
        Extension(
            "collector.wire._pii",
            sources=["collector/wire/_pii.c"],
            optional=True,
        ),
    ]
)
