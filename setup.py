"""Only the C extension lives here; everything else about the package is in pyproject.toml.

The redaction gate's byte walks (collector/processors/_redaction_gate.c) are optional: without a C compiler
the build goes on, and the processor runs the same walks in Python (redaction_walk._locate, _json_tokens).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "collector.processors._redaction_gate",
            sources=["collector/processors/_redaction_gate.c"],
            optional=True,
        )
    ]
)
