"""Only the C extensions live here; everything else about the package is in pyproject.toml.

Both are optional: without a C compiler the build goes on, and the same work runs in Python.
- collector/processors/_wire_walks.c: byte walks for the redaction gate (redaction.gate._locate,
  redaction.json_values._json_tokens), tail_sampling's lookups in held spans (tailsampling/wire.py:
  span_attribute_values, number_sum, fnv1a64) and the GenAI view (GenAIView.of).
- collector/exporters/_otlp_json.c: OTLP-JSON of trace requests for the file exporter's encoder process
  (otlpjson.encode_traces).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.processors._wire_walks",
            sources=["collector/processors/_wire_walks.c"],
            optional=True,
        ),
        Extension(
            "collector.exporters._otlp_json",
            sources=["collector/exporters/_otlp_json.c"],
            optional=True,
        ),
    ]
)
