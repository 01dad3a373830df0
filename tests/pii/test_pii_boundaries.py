"""Every built-in detector against the characters around a value: a value right after an opening
parenthesis or bracket, inside quotes, after a slash, a colon or "=", at the start or end of the text, after a
real or a JSON-escaped newline, inside a JSON string, ... is found, and exactly that value is reported;
characters that make the value part of something longer (a longer digit run, a word, a version string, a
fifth dotted component) keep it from being reported.

Each table runs through both prefilter engines and through the scanner's three exact-pass paths: values
scanned joined by NULs (short values), one value with its own branch set (``marked``, as after the wire
prefilter), and windows around the hits (values of 512+ characters)."""

from __future__ import annotations

import pytest

from collector.pii import DETECTORS, Scanner, available_engines
from tests.pii.test_pii_detectors import ANTHROPIC, BASIC, GITHUB_PAT, JWT, OPENAI_PROJ, PEM

# detector -> (text as written, the part reported); the reported part is the whole text unless given.
SAMPLES: dict[str, list[str | tuple[str, str]]] = {
    "email": ["maria.silva@empresa.com.br", "joão@exemplo.com"],
    "phone": [
        "(11) 98765-4321", "(11)98765-4321", "11 98765-4321", "+55 11 98765-4321", "+5511987654321",
        "(415) 555-2671", "555-123-4567", "415.555.2671", "+1 415 555 2671", "01 42 68 53 00", "(030) 901820",
        "030 901820", "0800 123 4567",
    ],
    "card": ["4111 1111 1111 1111", "4111111111111111", "4111-1111-1111-1111", "3782 822463 10005"],
    "cpf": ["529.982.247-25", "52998224725"],
    "cnpj": ["11.222.333/0001-81", "11222333000181", "12.ABC.345/01DE-35"],
    "iban": ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00"],
    "ipv4": ["192.168.0.1", "8.8.8.8"],
    "ipv6": ["2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
    "us_ssn": ["123-45-6789", "536 22 1234"],
    "openai_key": [OPENAI_PROJ],
    "anthropic_key": [ANTHROPIC],
    "aws_access_key": ["AKIAIOSFODNN7EXAMPLE"],
    "github_token": ["ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8", GITHUB_PAT],
    "google_api_key": ["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
    "slack_token": ["xoxb-1234567890-abcdefghij"],
    "stripe_key": ["sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    "huggingface_token": ["hf_abcdefghijABCDEFGHIJabcdefghijABCD"],
    "jwt": [JWT],
    "bearer_token": [("Bearer 3f9a8b7c6d5e4f3a2b1c0d9e", "3f9a8b7c6d5e4f3a2b1c0d9e")],
    "basic_auth": [("Basic " + BASIC, BASIC)],
    "private_key": [PEM],
}  # fmt: skip

# (name, before, after): around every sample, each is a boundary and the sample is reported exactly.
BOUNDARIES: list[tuple[str, str, str]] = [
    ("alone", "", ""),
    ("words", "see ", " now"),
    ("paren", "(", ")"),
    ("double-paren", "((", "))"),
    ("paren-after-word", "Maria (", ") ok"),
    ("paren-glued-to-word", "Maria(", ")ok"),
    ("bracket", "[", "]"),
    ("brace", "{", "}"),
    ("angle", "<", ">"),
    ("single-quote", "'", "'"),
    ("double-quote", '"', '"'),
    ("backtick", "`", "`"),
    ("curly-quote", "“", "”"),
    ("guillemet", "«", "»"),
    ("slash", "/", "/"),
    ("path", "users/", "/edit"),
    ("colon", "id:", ":"),
    ("equals", "k=", "&n=1"),
    ("comma", "a,", ",b"),
    ("semicolon", "a;", ";b"),
    ("pipe", "a|", "|b"),
    ("hash", "#", "#"),
    ("markdown-bold", "**", "**"),
    ("markdown-italic", "*", "*"),
    ("quote-block", "> ", " <"),
    ("newline", "\n", "\n"),
    ("tab", "\t", "\t"),
    ("crlf", "a\r\n", "\r\nb"),
    ("escaped-newline", "a\\n", "\\nb"),
    ("escaped-tab", "a\\t", "\\tb"),
    ("escaped-crlf", "a\\r\\n", "\\r\\nb"),
    ("json", '{"k":"', '"}'),
    ("json-spaced", '{"k": "', '", "n": 1}'),
    ("json-in-text", 'payload={"msg":"hi\\n', '\\n"}'),
    ("no-break-space", "a\u00a0", "\u00a0b"),
    ("accented-words", "é ", " à"),
]

# (detector, boundary) whose reported part reaches into the context, because those characters are the
# detector's own alphabet: token68 holds "/" and ".", so "Bearer tok/edit" is one credential.
REACHES: dict[tuple[str, str], tuple[str, str]] = {
    ("bearer_token", "slash"): ("", "/"),
    ("bearer_token", "path"): ("", "/edit"),
}

# Texts in which the detector must report nothing: the characters make the value part of something else.
NOT_PII: list[tuple[str, str]] = [
    ("card", "94111111111111111"),  # a 17-digit run starting with 9
    ("card", "x4111111111111111"),
    ("card", "4111111111111111x"),
    ("card", "an4111111111111111"),  # a letter, not an escape's: "\n" needs its backslash
    ("cpf", "152998224725"),
    ("cpf", "529982247251"),
    ("cpf", "A52998224725"),
    ("cpf", "1.529.982.247-25"),
    ("cnpj", "111222333000181"),
    ("cnpj", "x11.222.333/0001-81"),
    ("us_ssn", "1123-45-6789"),
    ("us_ssn", "123-45-67890"),
    ("us_ssn", "123-45-6789-1"),
    ("us_ssn", "a123-45-6789"),
    ("phone", "(11) 98765-43210"),
    ("phone", "1(11) 98765-4321"),
    ("phone", "415-555-26710"),
    ("phone", "1415-555-2671"),
    ("phone", "x415-555-2671"),
    ("phone", "2.415.555.2671"),
    ("phone", "12/11 98765-4321"),
    ("phone", "a+5511987654321"),
    ("ipv4", "v10.0.0.1"),
    ("ipv4", "build_10.0.0.1"),
    ("ipv4", "1.192.168.0.1"),
    ("ipv4", "192.168.0.1.5"),
    ("ipv4", "192.168.0.1x"),
    ("ipv4", "10.0.0.1-rc"),
    ("ipv6", "x2001:db8::1"),
    # A fingerprint's last eight groups would parse as an address; a hex group is no label to start after.
    ("ipv6", "fingerprint 43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8"),
    ("ipv6", "md5 43:51:43:a1:b5:fc:8b:ab:0a:3a:a9:b1:0f:66:73:a8 ok"),
    ("ipv6", "std::vector and Foo::bar"),
    ("iban", "XDE89370400440532013000"),
    ("iban", "DE89370400440532013000X"),
    ("email", "maria.silva@empresa"),
    ("aws_access_key", "xAKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key", "AKIAIOSFODNN7EXAMPLEx"),
    ("github_token", "xghp_" + "A1b2C3d4E5" * 3 + "f6G7h8"),
    ("github_token", "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8x"),
    ("openai_key", "x" + OPENAI_PROJ),
    ("google_api_key", "_AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
    ("slack_token", "axoxb-1234567890-abcdefghij"),
    ("stripe_key", "xsk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("huggingface_token", "_hf_abcdefghijABCDEFGHIJabcdefghijABCD"),
    ("jwt", "x" + JWT),
    ("bearer_token", "xBearer 3f9a8b7c6d5e4f3a2b1c0d9e"),
    ("basic_auth", "xBasic " + BASIC),
]


def _rows(detector: str) -> list[tuple[str, str, int, int]]:
    """(row id, text, start, end of the part that must be reported)."""
    rows = []
    for k, sample in enumerate(SAMPLES[detector]):
        written, reported = (sample, sample) if isinstance(sample, str) else sample
        offset = written.index(reported)
        for name, before, after in BOUNDARIES:
            text = before + written + after
            start = len(before) + offset
            end = start + len(reported)
            grow_left, grow_right = REACHES.get((detector, name), ("", ""))
            rows.append((f"{k}:{name}", text, start - len(grow_left), end + len(grow_right)))
    return rows


# Filler that no detector reports, to push a row past the windowed-scan threshold (512 characters).
_LONG = "lorem ipsum dolor sit amet, " * 24
PATHS = ("joined", "marked", "windowed")


def _scan(scanner: Scanner, texts: list[str], path: str) -> list[list[tuple[str, int, int]]]:
    if path == "windowed":
        pad = len(_LONG) + 1
        out = scanner.scan_many([f"{_LONG}\n{t}\n{_LONG}" for t in texts])
        return [[(f.detector, f.start - pad, f.end - pad) for f in fs] for fs in out]
    out = scanner.scan_many(texts, marked=path == "marked")
    return [[(f.detector, f.start, f.end) for f in fs] for fs in out]


@pytest.fixture(scope="module", params=available_engines())
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return Scanner(list(DETECTORS), engine=request.param)


def test_every_detector_has_samples() -> None:
    assert set(SAMPLES) == set(DETECTORS)
    assert {d for d, _ in NOT_PII} >= set(DETECTORS) - {"anthropic_key", "private_key"}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("detector", list(DETECTORS))
def test_value_is_found_at_every_boundary(scanner: Scanner, detector: str, path: str) -> None:
    rows = _rows(detector)
    results = _scan(scanner, [text for _, text, _, _ in rows], path)
    misses = [
        f"{row_id} {text!r}: got {[(d, text[s:e]) for d, s, e in found]}"
        for (row_id, text, start, end), found in zip(rows, results, strict=True)
        if (detector, start, end) not in found
    ]
    assert not misses, f"{len(misses)} of {len(rows)} rows:\n" + "\n".join(misses)


@pytest.mark.parametrize("path", PATHS)
def test_glued_characters_make_it_something_else(scanner: Scanner, path: str) -> None:
    results = _scan(scanner, [text for _, text in NOT_PII], path)
    wrong = [
        f"{detector} {text!r}: {[(d, text[s:e]) for d, s, e in found if d == detector]}"
        for (detector, text), found in zip(NOT_PII, results, strict=True)
        if any(d == detector for d, _, _ in found)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_phone_word_inside_a_key_or_json_text_still_introduces_the_number() -> None:
    sc = Scanner(["phone"])
    for text, number in [
        ("phone=11987654321&lang=pt", "11987654321"),
        ('{"telefone": "11987654321"}', "11987654321"),
        ("{'whatsapp':'11987654321'}", "11987654321"),
        ("Tel:0232781286", "0232781286"),
    ]:
        assert [text[f.start : f.end] for f in sc.scan(text)] == [number], text


def test_issue_examples() -> None:
    sc = Scanner(list(DETECTORS))
    for text, phone in [("Maria ((11) 98765-4321)", "(11) 98765-4321"), ("John (555-123-4567)", "555-123-4567")]:
        assert [(f.detector, text[f.start : f.end]) for f in sc.scan(text)] == [("phone", phone)]


def test_ipv6_after_a_label_and_its_colon() -> None:
    sc = Scanner(["ipv6"])
    for text, address in [
        ("client:2001:db8::1", "2001:db8::1"),
        ("src:fe80::1ff:fe23:4567:890a,", "fe80::1ff:fe23:4567:890a"),
        ("node:2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
        ("IPv6:fe80::1", "fe80::1"),
        ("peer fe80::1: unreachable", "fe80::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
    ]:
        assert [text[f.start : f.end] for f in sc.scan(text)] == [address], text
