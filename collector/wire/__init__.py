"""OTLP protobuf bytes read and written without building messages: the pipeline's hot-path machinery on
the wire, kept apart from what the processors decide with it.

    fields.py      the protobuf field numbers and wire types in use, named after the .proto
    encode.py      the varint encoder, tags, length-delimited fields, pre-encoded KeyValue entries
    locate.py      which items of a request byte ranges fall in (the redaction gate's walk)
    json_lexer.py  where the string literals and integers of a JSON text are under byte ranges
    spans.py       a trace request cut into span bytes, attribute lookups and sums in span bytes, FNV-1a
    slots.py       chosen attributes of every span of a request, read in C (the GenAI view's slots)
    count.py       the items of a request counted from its bytes, whole or chunk by chunk (refusals)
    native.py      the one import switch for the C extensions, each function or None
    _walks.c       the C walks: locate, json_tokens, attribute_values, number_sum, fnv1a64, genai_attributes,
                   count_walk
    _otlp_json.c   OTLP-JSON of a serialized trace request, for the file exporter's encoder process

The C functions stand in for Python ones (named in native.py), which stay the reference: they run where the
extensions were not built (setup.py marks them optional), and the *_native tests hold both to the same
answers. Domain code (processors, the GenAI view, exporters) calls into this package and speaks in field
names, never numbers.
"""
