"""google/pprof's proto/profile.proto as a protobuf descriptor built here, field by field from the .proto, so
the tests parse the pprof extension's profiles with the protobuf library itself rather than with the encoder's
own idea of the format (the extension encodes by hand, collector/extensions/pprof/profile.py)."""

from __future__ import annotations

import gzip
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_T = descriptor_pb2.FieldDescriptorProto
# message -> (field, number, type, repeated, packed, message type), as proto/profile.proto declares them.
_MESSAGES: dict[str, list[tuple[str, int, int, bool, str]]] = {
    "Profile": [
        ("sample_type", 1, _T.TYPE_MESSAGE, True, "ValueType"), ("sample", 2, _T.TYPE_MESSAGE, True, "Sample"),
        ("mapping", 3, _T.TYPE_MESSAGE, True, "Mapping"), ("location", 4, _T.TYPE_MESSAGE, True, "Location"),
        ("function", 5, _T.TYPE_MESSAGE, True, "Function"), ("string_table", 6, _T.TYPE_STRING, True, ""),
        ("drop_frames", 7, _T.TYPE_INT64, False, ""), ("keep_frames", 8, _T.TYPE_INT64, False, ""),
        ("time_nanos", 9, _T.TYPE_INT64, False, ""), ("duration_nanos", 10, _T.TYPE_INT64, False, ""),
        ("period_type", 11, _T.TYPE_MESSAGE, False, "ValueType"), ("period", 12, _T.TYPE_INT64, False, ""),
        ("comment", 13, _T.TYPE_INT64, True, ""), ("default_sample_type", 14, _T.TYPE_INT64, False, ""),
    ],
    "ValueType": [("type", 1, _T.TYPE_INT64, False, ""), ("unit", 2, _T.TYPE_INT64, False, "")],
    "Sample": [("location_id", 1, _T.TYPE_UINT64, True, ""), ("value", 2, _T.TYPE_INT64, True, ""), ("label", 3, _T.TYPE_MESSAGE, True, "Label")],
    "Label": [("key", 1, _T.TYPE_INT64, False, ""), ("str", 2, _T.TYPE_INT64, False, ""), ("num", 3, _T.TYPE_INT64, False, ""),
              ("num_unit", 4, _T.TYPE_INT64, False, "")],
    "Mapping": [("id", 1, _T.TYPE_UINT64, False, ""), ("memory_start", 2, _T.TYPE_UINT64, False, ""), ("memory_limit", 3, _T.TYPE_UINT64, False, ""),
                ("file_offset", 4, _T.TYPE_UINT64, False, ""), ("filename", 5, _T.TYPE_INT64, False, ""), ("build_id", 6, _T.TYPE_INT64, False, ""),
                ("has_functions", 7, _T.TYPE_BOOL, False, ""), ("has_filenames", 8, _T.TYPE_BOOL, False, ""),
                ("has_line_numbers", 9, _T.TYPE_BOOL, False, ""), ("has_inline_frames", 10, _T.TYPE_BOOL, False, "")],
    "Location": [("id", 1, _T.TYPE_UINT64, False, ""), ("mapping_id", 2, _T.TYPE_UINT64, False, ""), ("address", 3, _T.TYPE_UINT64, False, ""),
                 ("line", 4, _T.TYPE_MESSAGE, True, "Line"), ("is_folded", 5, _T.TYPE_BOOL, False, "")],
    "Line": [("function_id", 1, _T.TYPE_UINT64, False, ""), ("line", 2, _T.TYPE_INT64, False, ""), ("column", 3, _T.TYPE_INT64, False, "")],
    "Function": [("id", 1, _T.TYPE_UINT64, False, ""), ("name", 2, _T.TYPE_INT64, False, ""), ("system_name", 3, _T.TYPE_INT64, False, ""),
                 ("filename", 4, _T.TYPE_INT64, False, ""), ("start_line", 5, _T.TYPE_INT64, False, "")],
}


def _profile_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(name="tests_pprof_profile.proto", package="tests_pprof", syntax="proto3")
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for field, number, kind, repeated, type_name in fields:
            f = message.field.add(name=field, number=number, type=kind, label=_T.LABEL_REPEATED if repeated else _T.LABEL_OPTIONAL)
            if type_name:
                f.type_name = f".tests_pprof.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tests_pprof.Profile"))


Profile = _profile_class()


def decode(data: bytes) -> Any:
    """A gzip-compressed profile, as `go tool pprof` reads it (gzip is checked by its magic number first)."""
    assert data[:2] == b"\x1f\x8b", "a pprof profile is gzip-compressed"
    profile = Profile()
    profile.ParseFromString(gzip.decompress(data))
    return profile


def strings(profile: Any, indexes: Any) -> list[str]:
    return [profile.string_table[i] for i in indexes]


def sample_stacks(profile: Any) -> list[tuple[list[str], list[int], dict[str, str]]]:
    """Each sample as (function names innermost first, values, labels), resolved through the profile's tables."""
    functions = {f.id: profile.string_table[f.name] for f in profile.function}
    locations = {loc.id: [functions[line.function_id] for line in loc.line] for loc in profile.location}
    out = []
    for sample in profile.sample:
        names = [name for location in sample.location_id for name in locations[location]]
        labels = {profile.string_table[label.key]: profile.string_table[label.str] for label in sample.label}
        out.append((names, list(sample.value), labels))
    return out
