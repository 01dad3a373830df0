"""A condition that does not parse names the place of the problem: for an incomplete or broken comparison, where
the comparison goes wrong (the missing right-hand value at the end, the unclosed key), not its first
character; a condition that is no comparison at all is still reported at its start."""

from __future__ import annotations

import pytest

from collector import ottl

CASES = [
    ('attributes["x"] ==', "expected a value (unexpected end)", 19),
    ('name == "a" and attributes["x"] >', "expected a value (unexpected end)", 34),
    ('name ==  and true', "expected a value (unexpected 'and')", 10),
    ('attributes["x"] == 1 or resource.attributes["y"] !=', "expected a value (unexpected end)", 52),
    ('attributes["x" == 1', 'expected "]"', 16),
    ('(name == "a"', 'expected ")"', 13),
    ("foo", "expected a comparison, a boolean, a converter or a parenthesised condition", 1),
]


@pytest.mark.parametrize(("text", "problem", "column"), CASES, ids=[c[0] for c in CASES])
def test_condition_error_points_at_the_problem(text: str, problem: str, column: int) -> None:
    with pytest.raises(ottl.OTTLError) as info:
        ottl.condition(text, "span")
    assert problem in info.value.reason and info.value.position + 1 == column, (info.value.reason, info.value.position)


def test_where_clause_error_points_at_the_problem() -> None:
    with pytest.raises(ottl.OTTLError) as info:
        ottl.statement('set(attributes["x"], 1) where attributes["y"] ==', "span")
    assert info.value.position == len('set(attributes["x"], 1) where attributes["y"] ==')


@pytest.mark.parametrize("text", ['IsMatch(name, "x")', '(name == "a")', 'not (name == "a") and true', '(1 + 2) * 3 == 9'])
def test_valid_conditions_still_parse(text: str) -> None:
    ottl.condition(text, "span")
