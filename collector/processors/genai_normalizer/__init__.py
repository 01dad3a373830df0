"""gen_ai_normalizer processor: otelcol-contrib's genainormalizerprocessor (the OTel demo's
`gen_ai_normalizer: {sources: [{name: openllmetry}]}`), rewriting other conventions' GenAI attributes into
OTel GenAI names, plus sources contrib lacks served by the GenAI view.

Policy and data: config.py (both config shapes contrib has had), sources/ (one table module per source),
semconv.py (target types, schema URL), plan.py (what a config turns into). Machinery: normalize.py (the per-span
pass), attrs.py (pcommon.Map semantics over protobuf attributes), coerce.py (types and Go's string forms),
messages.py (OpenInference's flattened messages as JSON), viewsource.py (the view-backed sources).
processor.py is the processor; importing this package registers it as `gen_ai_normalizer`.
"""

from .config import GenAINormalizerConfig, MappedSource, Source, SourceEntry, Sources
from .processor import GenAINormalizerProcessor

__all__ = ["GenAINormalizerConfig", "GenAINormalizerProcessor", "MappedSource", "Source", "SourceEntry", "Sources"]
