"""Only the C extension lives here; everything else about the package is in pyproject.toml.

The byte walks in C (collector/processors/_wire_walks.c: the redaction gate's, tail_sampling's attribute
lookups) are optional: without a C compiler the build goes on, and the processors run the same walks in
Python (redaction_walk._locate, _json_tokens; tail_sampling.span_attribute_values).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.processors._wire_walks",
            sources=["collector/processors/_wire_walks.c"],
            optional=True,
        )
    ]
)
