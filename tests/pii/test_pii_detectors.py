"""Built-in PII/secret detectors: true positives in many formats and languages, look-alikes that must survive,
checksum edge cases, fail-closed behaviour, and both prefilter engines agreeing on every row."""

from __future__ import annotations

import base64
import functools

import pytest

from collector.pii import DETECTORS, VALIDATORS, CustomPattern, Scanner, available_engines

ENGINES = available_engines()
ALL = list(DETECTORS)


def luhn_complete(body: str) -> str:
    """Append the Luhn check digit (independent of collector.pii.validators)."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_broken(body: str) -> str:
    good = luhn_complete(body)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def cpf_complete(body9: str) -> str:
    def dv(vals: list[int]) -> int:
        r = sum(v * w for v, w in zip(vals, range(len(vals) + 1, 1, -1), strict=True)) % 11
        return 0 if r < 2 else 11 - r

    v = [int(c) for c in body9]
    d1 = dv(v)
    d2 = dv(v + [d1])
    return f"{body9}{d1}{d2}"


def fmt_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


OPENAI_PROJ = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5q" + "T3BlbkFJ" + "Zy8xWv7uTs6rQp5oNm4l"
OPENAI_LEGACY = "sk-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0"
OPENAI_SVC = "sk-svcacct-" + "x" * 30 + "T3BlbkFJ" + "Y" * 30
ANTHROPIC = "sk-ant-api03-" + ("aB3-_" * 19)[:93] + "AA"
GITHUB_PAT = "github_pat_" + ("11ABCDEFG0" * 9)[:82]
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
BASIC = base64.b64encode(b"maria:s3nh@F0rte").decode()
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7Lx\n"
    "q3h0b2rCQdxUcNKlnc6X2zvZ1BCu\n-----END RSA PRIVATE KEY-----"
)
PEM_ESCAPED = PEM.replace("\n", "\\n")
OPENSSH = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----"
PEM_TRUNCATED = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"

# (detector, text, exact substring that must be reported). PT-BR and EN prompt context around the values.
POSITIVES: list[tuple[str, str, str]] = [
    # email
    ("email", "Meu e-mail é maria.silva@empresa.com.br, pode responder lá?", "maria.silva@empresa.com.br"),
    ("email", "Contact john.o'neil+llm@mail.example.co.uk for access", "neil+llm@mail.example.co.uk"),
    ("email", "email:joão.gonçalves@exemplo.com.br;", "joão.gonçalves@exemplo.com.br"),
    ("email", "<a href=\"mailto:x_y-z@sub.domain.io\">", "x_y-z@sub.domain.io"),
    ("email", "Envie para\nana@uol.com.br\nobrigado", "ana@uol.com.br"),
    # phone
    ("phone", "Me liga no +5511987654321 depois das 18h", "+5511987654321"),
    ("phone", "Meu celular: (11) 98765-4321.", "(11) 98765-4321"),
    ("phone", "telefone +55 11 98765-4321, comercial", "+55 11 98765-4321"),
    ("phone", "ligue 11 98765-4321 ou 21 3456-7890", "11 98765-4321"),
    ("phone", "ligue 11 98765-4321 ou 21 3456-7890", "21 3456-7890"),
    ("phone", "fixo (011) 3456-7890", "(011) 3456-7890"),
    ("phone", "Call me at (415) 555-2671 tomorrow", "(415) 555-2671"),
    ("phone", "Call me at 415-555-2671.", "415-555-2671"),
    ("phone", "or 415.555.2671x1234", "415.555.2671x1234"),
    ("phone", "US office +1 415 555 2671", "+1 415 555 2671"),
    ("phone", "dial +1-780-563-6083x7783 now", "+1-780-563-6083x7783"),
    ("phone", "London +44 20 7946 0958", "+44 20 7946 0958"),
    ("phone", "Berlin +49 30 901820", "+49 30 901820"),
    ("phone", "Zentrale +49(0)30 9018 2000", "+49(0)30 9018 2000"),
    ("phone", "Paris +33 1 42 68 53 00", "+33 1 42 68 53 00"),
    ("phone", "Paris +33 (0)1 41 63 60 83", "+33 (0)1 41 63 60 83"),
    ("phone", "appelez le 01 42 68 53 00 svp", "01 42 68 53 00"),
    ("phone", "Büro (03449) 78690", "(03449) 78690"),
    ("phone", "Büro 03662 585178", "03662 585178"),
    ("phone", "Tel.: 0232781286", "0232781286"),
    ("phone", "whatsapp 11987654321", "11987654321"),
    # card
    ("card", "Cartão 4111 1111 1111 1111 validade 12/29", "4111 1111 1111 1111"),
    ("card", "card: 4111-1111-1111-1111", "4111-1111-1111-1111"),
    ("card", "pay with 4111111111111111.", "4111111111111111"),
    ("card", "amex 3782 822463 10005 ok", "3782 822463 10005"),
    ("card", "diners 30569309025904", "30569309025904"),
    ("card", "mc2 " + luhn_complete("222100000000000"), luhn_complete("222100000000000")),
    ("card", "visa13 " + luhn_complete("422222222222"), luhn_complete("422222222222")),
    ("card", "unionpay 19 " + luhn_complete("621234567890123456"), luhn_complete("621234567890123456")),
    ("card", "maestro " + luhn_complete("50181234567"), luhn_complete("50181234567")),
    ("card", "numero 4111 1111 1111 1111 12 parcelas", "4111 1111 1111 1111"),
    # cpf
    ("cpf", "Meu CPF é 529.982.247-25.", "529.982.247-25"),
    ("cpf", "cpf:52998224725", "52998224725"),
    ("cpf", "CPF " + fmt_cpf(cpf_complete("123456789")) + "\n", fmt_cpf(cpf_complete("123456789"))),
    ("cpf", "CPF " + cpf_complete("000000001"), cpf_complete("000000001")),
    # cnpj
    ("cnpj", "CNPJ 11.222.333/0001-81 da empresa", "11.222.333/0001-81"),
    ("cnpj", "cnpj=11222333000181", "11222333000181"),
    ("cnpj", "novo CNPJ 12.ABC.345/01DE-35 (2026)", "12.ABC.345/01DE-35"),
    ("cnpj", "bare 12ABC34501DE35.", "12ABC34501DE35"),
    # iban
    ("iban", "IBAN DE89 3704 0044 0532 0130 00 E mais", "DE89 3704 0044 0532 0130 00"),
    ("iban", "iban: DE89370400440532013000", "DE89370400440532013000"),
    ("iban", "UK GB82 WEST 1234 5698 7654 32.", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "FR1420041010050500013M02606", "FR1420041010050500013M02606"),
    ("iban", "conta BR1800360305000010009795493C1", "BR1800360305000010009795493C1"),
    # ipv4 / ipv6
    ("ipv4", "server at 192.168.0.1, port 22", "192.168.0.1"),
    ("ipv4", "IP do cliente: 200.147.67.142.", "200.147.67.142"),
    ("ipv4", "(10.0.0.255)", "10.0.0.255"),
    ("ipv6", "addr 2001:0db8:85a3:0000:0000:8a2e:0370:7334 up", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("ipv6", "addr 2001:db8::8a2e:370:7334.", "2001:db8::8a2e:370:7334"),
    ("ipv6", "link fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a"),
    ("ipv6", "[2001:db8::1]:443", "2001:db8::1"),
    # us_ssn
    ("us_ssn", "SSN 123-45-6789 on file", "123-45-6789"),
    ("us_ssn", "ssn: 536 22 1234", "536 22 1234"),
    # secrets
    ("openai_key", f"OPENAI_API_KEY={OPENAI_PROJ}\n", OPENAI_PROJ),
    ("openai_key", f"key {OPENAI_LEGACY} end", OPENAI_LEGACY),
    ("openai_key", f'"{OPENAI_SVC}"', OPENAI_SVC),
    ("anthropic_key", f"export ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC),
    ("aws_access_key", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key", "temp ASIAY34FZKBOKMUTVV7A,", "ASIAY34FZKBOKMUTVV7A"),
    ("github_token", "token ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8" + " ok", "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8"),
    ("github_token", "GH_TOKEN=gho_" + "z" * 36, "gho_" + "z" * 36),
    ("github_token", f"pat {GITHUB_PAT}", GITHUB_PAT),
    ("google_api_key", "key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&q=1", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
    ("slack_token", "SLACK xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("stripe_key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("huggingface_token", "HF hf_" + "abcdefghijABCDEFGHIJabcdefghijABCD", "hf_abcdefghijABCDEFGHIJabcdefghijABCD"),
    ("jwt", f"id_token: {JWT}", JWT),
    ("bearer_token", "Authorization: Bearer 3f9a8b7c6d5e4f3a2b1c0d9e", "3f9a8b7c6d5e4f3a2b1c0d9e"),
    ("bearer_token", "authorization: bearer Ab.cd-Ef_gh~ij+kl/mnop==", "Ab.cd-Ef_gh~ij+kl/mnop=="),
    ("basic_auth", f"Authorization: Basic {BASIC}", BASIC),
    ("private_key", f"aqui está a chave:\n{PEM}\nfim", PEM),
    ("private_key", f'{{"key": "{PEM_ESCAPED}"}}', PEM_ESCAPED),
    ("private_key", f"ssh key {OPENSSH}", OPENSSH),
    ("private_key", f"cortado: {PEM_TRUNCATED}", PEM_TRUNCATED),
]

# Look-alikes: no detector may report anything inside these.
NEGATIVES: list[str] = [
    "Pedido nº 2026112145 confirmado",
    "order #100234-55 shipped",
    "Reunião em 2026-11-21 às 14:30",
    "Data: 21/11/2026, 21.11.2026",
    "Total: $1,234.56 (USD)",
    "Valor R$ 1.234,56 pago",
    "request 550e8400-e29b-41d4-a716-446655440000 failed",
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "version 1.2.3, v10.0.0.1, build1.2.3.4, 1.2.3.4.5",
    "model gpt-4o-2024-08-06 and claude-3-5-sonnet-20241022 and gemini-1.5-pro-002",
    "used 12843 prompt tokens and 1024 completion tokens, total 13867",
    "epoch 1732192000000 ms",
    "numero 4111111111111112 nao passa no Luhn",
    # 16 digits failing Luhn whose last 12 ("5678 9012 3456") pass as a Maestro: a slice of a longer run.
    "cartão 1234 5678 9012 3456 recusado",
    "conta 1234-5678-9012-3456 e 4111 1111 1111 1111 2026 5",
    "CPF inválido 529.982.247-26 e 12345678901 e 111.111.111-11",
    "CNPJ inválido 11.222.333/0001-82",
    "SSN 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",
    "IBAN DE89 3704 0044 0532 0130 01",
    "Use the Bearer authentication scheme; Basic usage is discouraged",
    "bearer tokens_are_described_here and basic authentication",
    "std::vector<int> and Foo::bar and a::b",
    "12:30:45 and 10:00",
    "o produto custa 1999 e o frete 25",
    "sk-not-a-key and AKIA-short",
    "ratio 0.25.10 3.14159",
    "hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
]


@pytest.fixture(scope="module", params=ENGINES)
def scanner(request: pytest.FixtureRequest) -> Scanner:
    return Scanner(ALL, engine=request.param)


def found(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in scanner.scan(text)]


@pytest.mark.parametrize(("detector", "text", "value"), POSITIVES, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(POSITIVES)])
def test_true_positive(scanner: Scanner, detector: str, text: str, value: str) -> None:
    assert (detector, value) in found(scanner, text)


@pytest.mark.parametrize(("detector", "text", "value"), POSITIVES, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(POSITIVES)])
def test_only_that_detector_enabled_still_finds_it(detector: str, text: str, value: str) -> None:
    for engine in ENGINES:
        assert (detector, value) in found(only(detector, engine), text)


@functools.cache
def only(detector: str, engine: str) -> Scanner:
    """A scanner with just `detector`, built once per detector and engine (the rows share them, as the
    other tests share `scanner`)."""
    return Scanner([detector], engine=engine)


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_survive(scanner: Scanner, text: str) -> None:
    assert found(scanner, text) == []


def test_every_detector_has_a_positive_row() -> None:
    assert {d for d, _, _ in POSITIVES} == set(DETECTORS)


def test_detector_info() -> None:
    assert list(DETECTORS)[:3] == ["email", "phone", "card"]
    for name, info in DETECTORS.items():
        assert info.name == name
        assert info.placeholder == f"<{name.upper()}>"
        assert info.category in {"pii", "secret"}
        assert info.description


def test_scheme_word_is_kept() -> None:
    text = "Authorization: Bearer 3f9a8b7c6d5e4f3a2b1c0d9e"
    (f,) = Scanner(["bearer_token"]).scan(text)
    assert text[: f.start] == "Authorization: Bearer "


def test_checksum_edge_cases() -> None:
    sc = Scanner(["card", "cpf", "cnpj", "iban", "us_ssn"])

    def names(text: str) -> list[str]:
        return [f.detector for f in sc.scan(text)]

    body = "453201511283036"
    assert names(luhn_complete(body)) == ["card"]
    assert names(luhn_broken(body)) == []
    # 12 digits: only with a Maestro prefix (and Luhn).
    assert names(luhn_complete("50181234567")) == ["card"]
    assert names(luhn_complete("41111111111")) == []
    # Issuer prefix: Luhn-valid numbers starting 1/7/8/9/0 are ids and timestamps, not cards.
    for first in "17890":
        assert names(luhn_complete(first + "23456789012345")) == []
    # 20 digits is too long even if a 16-digit run inside would pass: the run is glued to other digits.
    assert names("4111111111111111" + "1234") == []
    # All-same-digit CPFs pass mod 11 but are rejected.
    assert names("000.000.000-00 999.999.999-99") == []
    # Alphanumeric CNPJ: lower case is not the Receita format.
    assert names("12.abc.345/01de-35") == []
    # SSN with mixed separators is not an SSN.
    assert names("123-45 6789") == []


def test_unknown_detector_and_bad_custom_rules_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown detector 'emial'"):
        Scanner(["emial"])
    with pytest.raises(ValueError, match="invalid RE2 regex"):
        Scanner([], custom=[CustomPattern("bad", "(unclosed")])
    with pytest.raises(ValueError, match="unknown validator 'lunh'"):
        Scanner([], custom=[CustomPattern("acct", r"\d{8}", validator="lunh")])
    with pytest.raises(ValueError, match="matches the empty string"):
        Scanner([], custom=[CustomPattern("empty", r"x*")])
    with pytest.raises(ValueError, match="unknown engine"):
        Scanner(["email"], engine="pcre")


def test_lookbehind_is_not_re2() -> None:
    # otelcol's blocked_values are Go RE2 regexes: Perl look-arounds are rejected, not silently ignored.
    with pytest.raises(ValueError, match="invalid RE2 regex"):
        Scanner([], custom=[CustomPattern("lookbehind", r"(?<=id=)\d+")])


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_rules_with_validator(engine: str) -> None:
    sc = Scanner([], custom=[CustomPattern("conta", r"\b\d{4}-\d{4}-\d{4}-\d{4}\b", validator="luhn")], engine=engine)
    text = "conta 4111-1111-1111-1111 e 4111-1111-1111-1112"
    assert [(f.detector, text[f.start : f.end]) for f in sc.scan(text)] == [("conta", "4111-1111-1111-1111")]


@pytest.mark.parametrize("engine", ENGINES)
def test_anchored_custom_rule_applies_per_value(engine: str) -> None:
    # "^" means the start of each value, even though the prefilter sees the whole batch as one buffer.
    sc = Scanner([], custom=[CustomPattern("ticket", r"^TCK-\d+$")], engine=engine)
    out = sc.scan_many(["TCK-1", "x TCK-2", "TCK-33"])
    assert [[(f.start, f.end) for f in fs] for fs in out] == [[(0, 5)], [], [(0, 6)]]


@pytest.mark.parametrize("engine", ENGINES)
def test_validator_that_raises_fails_closed(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(text: str) -> bool:
        raise RuntimeError("validator bug")

    monkeypatch.setitem(VALIDATORS, "explode", explode)
    sc = Scanner(["email"], custom=[CustomPattern("acct", r"ACC\d{6}", validator="explode")], engine=engine)
    texts = ["conta ACC123456 de ana@x.com", "nothing here", "ACC12 too short"]
    out = sc.scan_many(texts)
    assert out[0] == [type(out[0][0])(0, len(texts[0]), "acct", error=True)]
    assert out[1] == [] and out[2] == []


@pytest.mark.skipif(len(ENGINES) < 2, reason="hyperscan not installed")
def test_engines_agree_on_every_row() -> None:
    texts = [t for _, t, _ in POSITIVES] + NEGATIVES
    re2_out = Scanner(ALL, engine="re2").scan_many(texts)
    hs_out = Scanner(ALL, engine="hyperscan").scan_many(texts)
    assert re2_out == hs_out
    assert any(re2_out)
