"""OTTL comparisons and arithmetic, table tests from otelcol-contrib: pkg/ottl/compare_test.go Test_compare
(every pair of basic types under every operator) and pkg/ottl/math_test.go's int/float/time rules."""

from __future__ import annotations

import datetime

import pytest

from collector.ottl.compiler import _math, compare

OPS = ("==", "!=", "<", "<=", ">=", ">")
sa, sb, sn = "1", "2", ""
ba, bb = b"1", b"2"
i64a, i64b, f64a, f64b = 1, 2, 1.0, 2.0

# compare_test.go Test_compare: want in order EQ, NE, LT, LTE, GTE, GT.
CASES = [
    ("identity string", sa, sa, [True, False, False, True, True, False]),
    ("identity int64", i64a, i64a, [True, False, False, True, True, False]),
    ("identity float64", f64a, f64a, [True, False, False, True, True, False]),
    ("identity bytes", ba, ba, [True, False, False, True, True, False]),
    ("identity nil", None, None, [True, False, False, True, True, False]),
    ("diff strings", sa, sb, [False, True, True, True, False, False]),
    ("string bytes", sa, ba, [False, True, False, False, False, False]),
    ("string int64", sa, i64a, [False, True, False, False, False, False]),
    ("string float64", sa, f64a, [False, True, False, False, False, False]),
    ("string nil", sa, None, [False, True, False, False, False, False]),
    ("diff bytes", ba, bb, [False, True, True, True, False, False]),
    ("bytes string", ba, sa, [False, True, False, False, False, False]),
    ("bytes int64", ba, i64a, [False, True, False, False, False, False]),
    ("bytes float64", ba, f64a, [False, True, False, False, False, False]),
    ("bytes nil", ba, None, [False, True, False, False, False, False]),
    ("false true", False, True, [False, True, True, True, False, False]),
    ("true false", True, False, [False, True, False, False, True, True]),
    ("false false", False, False, [True, False, False, True, True, False]),
    ("bool string", False, sa, [False, True, False, False, False, False]),
    ("bool int64", False, i64a, [False, True, False, False, False, False]),
    ("bool float64", False, f64a, [False, True, False, False, False, False]),
    ("bool and empty string", False, sn, [False, True, False, False, False, False]),
    ("nil string", None, sa, [False, True, False, False, False, False]),
    ("nil int64", None, i64a, [False, True, False, False, False, False]),
    ("nil float64", None, f64a, [False, True, False, False, False, False]),
    ("nil and empty string", None, sn, [False, True, False, False, False, False]),
    ("int64 string", i64a, sa, [False, True, False, False, False, False]),
    ("int64 bytes", i64a, ba, [False, True, False, False, False, False]),
    ("int64 nil", i64a, None, [False, True, False, False, False, False]),
    ("int64 int64", i64a, i64b, [False, True, True, True, False, False]),
    ("int64 float64", i64a, f64b, [False, True, True, True, False, False]),
    ("diff float64s", f64a, f64b, [False, True, True, True, False, False]),
    ("float64 string", f64a, sa, [False, True, False, False, False, False]),
    ("float64 nil", f64a, None, [False, True, False, False, False, False]),
    ("float64 int64", f64a, i64b, [False, True, True, True, False, False]),
    # "non-prim" rows: maps (OTTL's pcommon.Map) are equal or not, never ordered.
    ("map, same, equal", {"v": "hi"}, {"v": "hi"}, [True, False, False, False, False, False]),
    ("map, not equal", {"v": "hi"}, {"v": "byte"}, [False, True, False, False, False, False]),
    ("map, int", {"v": "hi"}, 5, [False, True, False, False, False, False]),
    ("int, map", 5, {"v": "hi"}, [False, True, False, False, False, False]),
]


@pytest.mark.parametrize(("name", "a", "b", "want"), CASES, ids=[c[0] for c in CASES])
def test_compare_as_otelcol(name: str, a: object, b: object, want: list[bool]) -> None:
    assert [compare(a, b, op) for op in OPS] == want


def test_math_keeps_int64_and_float64_apart_as_math_go() -> None:
    assert _math("+", 1, 2) == 3 and isinstance(_math("+", 1, 2), int)
    assert _math("/", 7, 2) == 3 and _math("/", -7, 2) == -3  # Go's integer division truncates toward zero
    assert _math("*", 2**62, 4) == 0  # int64 wraps
    assert _math("/", 1.0, 4.0) == 0.25
    t = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert _math("-", t + datetime.timedelta(seconds=5), t) == datetime.timedelta(seconds=5)
    with pytest.raises(ZeroDivisionError):
        _math("/", 1, 0)
    with pytest.raises(TypeError):
        _math("+", "a", "b")  # strings do not add: Concat does that
