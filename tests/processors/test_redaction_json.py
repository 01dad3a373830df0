"""JSON-string values edited in place: only the string literals (or large integers) a prefilter hit overlaps
are scanned, and only those with a finding are rewritten, so the rest of the value keeps its bytes and
layout. Escapes (\\", \\\\, \\u, \\/) must not make a literal boundary be misread; a finding in an object key
goes to the parse path (a renamed key can collide with another). In process, through `build_redactor`; the
daemon tests in test_redaction.py and test_redaction_received.py drive the same code over the wire."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from collector.wire import json_lexer
from tests.processors.test_redaction import CARD, CPF, EMAIL, EMAIL2
from tests.processors.test_redaction_unit import config, request, span_attrs

CARD_DIGITS = CARD.replace(" ", "")


def redact(values: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    from collector.processors.redaction import build_redactor

    cfg, errors = config(settings or {})
    assert not errors and cfg is not None
    redactor, _ = build_redactor(cfg)
    req = request(values)
    redactor.traces(req)
    return span_attrs(req)


def test_only_the_literal_with_a_finding_changes_and_the_layout_is_kept() -> None:
    text = '{ "messages" : [ {"role": "user",  "content": "mail me at ' + EMAIL + ' today"} ],\n  "temperature": 0.2, "n": 3 }'
    out = redact({"input.value": text})["input.value"]
    assert out == text.replace(EMAIL, "<EMAIL>")


@pytest.mark.parametrize("before", [
    r'"quote \" inside", ',          # an escaped quote before the hit: quote parity must skip it
    r'"path C:\\temp\\", ',          # escaped backslashes, the last one right before a closing quote
    r'"both \\\" and \"\\", ',       # a backslash run before an escaped quote, and the other way round
    r'"tab\tand unicode \u00e9", ',  # other escapes
])
def test_escapes_before_the_hit_do_not_shift_literal_boundaries(before: str) -> None:
    text = '{"a": [' + before + '"write to ' + EMAIL + '"], "b": "' + CPF + '"}'
    json.loads(text)  # the case is valid JSON
    out = redact({"v": text})["v"]
    assert json.loads(out) == {"a": [json.loads("[" + before.rstrip(", ") + "]")[0], "write to <EMAIL>"], "b": "<CPF>"}
    assert out.startswith('{"a": [' + before)  # untouched bytes stay as they were


def test_escaped_pii_is_found_and_the_literal_is_rewritten_as_json() -> None:
    text = '{"to": "' + EMAIL.replace("@", "\\u0040") + '", "cnpj": "11.222.333\\/0001-81", "ok": "A1234567"}'
    out = redact({"v": text})["v"]
    assert json.loads(out) == {"to": "<EMAIL>", "cnpj": "<CNPJ>", "ok": "A1234567"}
    assert out.endswith('"ok": "A1234567"}')


def test_large_integers_are_scanned_and_floats_and_short_ints_left_alone() -> None:
    text = '{"card": ' + CARD_DIGITS + ', "amount": 4111111111111111.5, "count": 123456, "ts": 1731000000000}'
    out = redact({"v": text})["v"]
    assert json.loads(out) == {"card": "<CARD>", "amount": 4111111111111111.5, "count": 123456, "ts": 1731000000000}


def test_a_key_with_a_finding_goes_to_the_parse_path_and_colliding_keys_are_kept() -> None:
    text = json.dumps({EMAIL: "first", EMAIL2: "second", "note": f"cpf {CPF}"})
    out = json.loads(redact({"v": text})["v"])
    assert out == {"<EMAIL>": "first", "<EMAIL>#2": "second", "note": "cpf <CPF>"}


def test_invalid_json_that_looks_like_json_is_scanned_as_text() -> None:
    text = '{"truncated": "call ' + EMAIL + ' about the refund of'  # cut off by an SDK's length limit
    assert redact({"v": text})["v"] == '{"truncated": "call <EMAIL> about the refund of'


def test_a_value_without_any_hit_is_not_touched_even_when_its_span_is_hit() -> None:
    text = '{"role": "user",   "content": "nothing to see"}'
    out = redact({"v": text, "w": f"mail {EMAIL}"})
    assert out["v"] == text and out["w"] == "mail <EMAIL>"


def test_hash_and_partial_tokens_are_written_as_valid_json_strings() -> None:
    settings = {"hash_key": "k3y-for-tests-0123456789abcdef", "detectors": {"email": {"action": "hash", "placeholder": '<"E\\MAIL">'},
                                                                          "card": {"action": "partial"}}}
    text = json.dumps({"a": f"to {EMAIL}", "b": f"card {CARD}"})
    out = json.loads(redact({"v": text}, settings)["v"])
    assert out["a"].startswith('to <"E\\MAIL":') and out["b"] == "card **** **** **** 1111"


def test_json_tokens_agree_with_a_parser_on_every_literal() -> None:
    # Every string literal and 7+ digit integer of documents full of escapes, found from a hit on each of
    # its bytes, must be exactly the token a JSON parser reads there.
    docs = [
        {"a\\": "b\"c", "d": ["\\\\", "\"", "x\\\"y", 12345678, -7654321, 1.5e10, True, None], "e": {"\u00e9": "\u00e9\\n"}},
        ["", " ", "\\", "\"\"", {"k": "v"}, 10**12],
    ]
    for doc in docs:
        raw = json.dumps(doc).encode()
        tokens = {start: (end, kind) for start, end, kind in json_lexer.json_tokens(raw, [(i, i + 1) for i in range(len(raw))])}
        for start, (end, kind) in tokens.items():
            piece = raw[start:end]
            if kind == json_lexer.T_NUMBER:
                assert abs(int(piece)) >= 10**6
            else:
                assert isinstance(orjson.loads(piece), str)
                follows_colon = raw[end:].lstrip()[:1] == b":"
                assert (kind == json_lexer.T_KEY) == follows_colon
        literal_count = sum(1 for _ in _literals(doc))
        assert sum(1 for _, kind in tokens.values() if kind != json_lexer.T_NUMBER) == literal_count


def _literals(node: Any) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _literals(v)
    elif isinstance(node, list):
        for v in node:
            yield from _literals(v)
    elif isinstance(node, str):
        yield node
