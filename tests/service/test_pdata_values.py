"""collector.pdata.set_any, the one writer of Python values into AnyValue, under the policies its callers
choose: OTTL wraps an int beyond int64 as Go does (pkg/ottl math.go works on int64), file_log keeps its
digits as a string, pcommon's FromRaw (the attributes processor's `value`) refuses it."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.pdata import set_any


def written(value, **policy) -> AnyValue:
    out = AnyValue()
    set_any(out, value, **policy)
    return out


def test_scalars_and_nesting():
    out = written({"a": [1, 2.5, True, "s", b"\x00", None], "b": {}, 3: ()})
    kvs = {kv.key: kv.value for kv in out.kvlist_value.values}
    assert list(kvs) == ["a", "b", "3"]
    items = kvs["a"].array_value.values
    assert [v.WhichOneof("value") for v in items] == ["int_value", "double_value", "bool_value", "string_value", "bytes_value", None]
    assert kvs["b"].HasField("kvlist_value") and not kvs["b"].kvlist_value.values
    assert kvs["3"].HasField("array_value") and not kvs["3"].array_value.values
    assert written(None).WhichOneof("value") is None


@pytest.mark.parametrize(("policy", "expected"), [
    ("wrap", AnyValue(int_value=-(1 << 63))),
    ("string", AnyValue(string_value=str(1 << 63))),
])
def test_int_beyond_int64(policy, expected):
    assert written(1 << 63, big_int=policy) == expected
    assert written((1 << 63) - 1, big_int=policy) == AnyValue(int_value=(1 << 63) - 1)


def test_int_beyond_int64_refused_by_default():
    with pytest.raises(TypeError, match="int64"):
        written(-(1 << 63) - 1)


def test_unknown_type():
    assert written(1.5j, other="string") == AnyValue(string_value="1.5j")
    with pytest.raises(TypeError, match="complex"):
        written(1.5j)
