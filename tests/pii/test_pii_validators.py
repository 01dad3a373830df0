"""collector.pii.validators: checksum validators the redaction processor calls on prefilter hits."""

from __future__ import annotations

import random

import pytest

from collector.pii import VALIDATORS, cnpj, cpf, iban, luhn, us_ssn
from collector.pii.validators import IBAN_LENGTHS

# ------------------------------------------------------------------ independent reference implementations
# Deliberately written differently from the module (string/zip based) so a shared mistake is unlikely.


def ref_dv(values: list[int], weights: list[int]) -> int:
    r = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if r < 2 else 11 - r


def ref_cpf_dvs(body9: str) -> str:
    vals = [int(c) for c in body9]
    d1 = ref_dv(vals, list(range(10, 1, -1)))
    d2 = ref_dv(vals + [d1], list(range(11, 1, -1)))
    return f"{d1}{d2}"


CNPJ_W1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
CNPJ_W2 = [6] + CNPJ_W1


def ref_cnpj_dvs(body12: str, value=lambda c: ord(c) - 48) -> str:
    vals = [value(c) for c in body12]
    d1 = ref_dv(vals, CNPJ_W1)
    d2 = ref_dv(vals + [d1], CNPJ_W2)
    return f"{d1}{d2}"


def base36(c: str) -> int:
    return int(c, 36)  # the WRONG mapping (A=10) one PyPI validator uses


def ref_cpf_valid(s: str) -> bool:
    d = s.replace(".", "").replace("-", "")
    return len(set(d)) > 1 and ref_cpf_dvs(d[:9]) == d[9:]


def ref_cnpj_valid(s: str) -> bool:
    d = s.replace(".", "").replace("/", "").replace("-", "")
    return len(set(d)) > 1 and d[12:].isdigit() and ref_cnpj_dvs(d[:12]) == d[12:]


def fmt_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def fmt_cnpj(d: str) -> str:
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:  # will be in a doubled position once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def ref_iban_ok(s: str) -> bool:
    s = s.replace(" ", "")
    r = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in r)) % 97 == 1


# ------------------------------------------------------------------------------------------------ registry


def test_registry_names():
    assert set(VALIDATORS) == {"luhn", "cpf", "cnpj", "iban", "us_ssn"}
    assert VALIDATORS["luhn"] is luhn and VALIDATORS["cnpj"] is cnpj
    for fn in VALIDATORS.values():
        assert fn("") is False
        assert fn("   ") is False
        assert fn("x" * 40) is False


# -------------------------------------------------------------------------------------------------- cards

CARDS_VALID = [
    "4111 1111 1111 1111",  # Visa test
    "4111111111111111",
    "4111-1111-1111-1111",
    "5555-5555-5555-4444",  # Mastercard test
    "5555555555554444",
    "5105 1051 0510 5100",
    "2223003122003222",  # Mastercard 2-series test
    "378282246310005",  # Amex test (15)
    "3782 822463 10005",  # Amex printed grouping
    "371449635398431",
    "6011111111111117",  # Discover
    "6011 0009 9013 9424",
    "3530111333300000",  # JCB
    "36227206271667",  # Diners (14)
    "30569309025904",
    "4222222222222",  # 13-digit Visa test
    "6062826786276634",  # Hipercard (BR) test
    "6362970000457013",  # Elo (BR) test
    "4000 0566 5566 5556",  # Stripe Visa debit
    "6200 0000 0000 0005",  # UnionPay
    "6759 6498 2643 8453",  # Maestro (16)
    "4111 1111-1111 1111",  # mixed separators
]

CARDS_INVALID = [
    "4111 1111 1111 1112",  # last digit changed
    "4111111111111121",  # two adjacent digits swapped... that Luhn catches
    "5555-5555-5555-4445",
    "378282246310006",
    "1234567812345678",  # typical 16-digit filler fails Luhn
    "1234 5678 9012 3456",
    "9876543210123456",
    "2024-01-15",  # date
    "2024-01-15 10:30",
    "20240115103000123",  # timestamp-ish digits: fails Luhn
    "1700000000001",  # ms epoch (13 digits) failing Luhn
    "+55 11 98765-4321",  # phone (plus sign)
    "(11) 98765-4321",
    "5511987654322",  # bare phone failing Luhn
    "ORD-2024-000123",  # order number with letters
    "550e8400-e29b-41d4-a716",  # UUID fragment
    "123456789012",  # 12 digits: too short
    "41111111111111111111",  # 20 digits: too long
    "0000 0000 0000 0000",  # all zeros passes mod 10 but is not a card
    "4111.1111.1111.1111",  # dots are not card separators
    " 4111111111111111",
    "4111111111111111 ",
    "-4111-1111-1111-1111",
    "4111_1111_1111_1111",
    "４１１１１１１１１１１１１１１１",  # full-width digits
    "٤١١١١١١١١١١١١١١١",  # Arabic-Indic digits
    "4111 1111 1111 111a",
]


@pytest.mark.parametrize("text", CARDS_VALID)
def test_luhn_valid(text):
    assert luhn(text) is True


@pytest.mark.parametrize("text", CARDS_INVALID)
def test_luhn_invalid(text):
    assert luhn(text) is False


def test_luhn_generated_and_single_digit_errors():
    rng = random.Random(4111)
    for _ in range(500):
        n = rng.randint(13, 19)
        body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 2))
        number = body + luhn_check_digit(body)
        assert luhn(number)
        grouped = " ".join(number[i : i + 4] for i in range(0, n, 4))
        assert luhn(grouped)
        assert luhn(grouped.replace(" ", "-"))
        i = rng.randrange(n)  # Luhn detects every single-digit substitution
        new = rng.choice([c for c in "0123456789" if c != number[i]])
        assert not luhn(number[:i] + new + number[i + 1 :])


def test_luhn_12_digit_maestro_opt_in():
    maestro12 = "501808063603"  # shape of the 12-digit Maestro numbers Faker generates
    body = maestro12[:11]
    number = body + luhn_check_digit(body)
    assert not luhn(number)  # default: 13-19 digits
    assert luhn(number, min_digits=12)
    assert luhn(f"{number[:4]} {number[4:8]} {number[8:]}", min_digits=12)
    assert not luhn(number[:11], min_digits=12)


def test_luhn_random_16_digit_numbers_mostly_rejected():
    rng = random.Random(7)
    numbers = ["".join(rng.choice("0123456789") for _ in range(16)) for _ in range(5000)]
    passed = sum(luhn(n) for n in numbers)
    assert 350 < passed < 650  # ~10%: Luhn is a 1-in-10 filter, never a detector on its own


# ---------------------------------------------------------------------------------------------------- CPF

CPF_VALID = [
    "529.982.247-25",
    "52998224725",
    "111.444.777-35",
    "11144477735",
    "123.456.789-09",
    "000.000.001-91",  # leading zeros
    "390.533.447-05",
]

CPF_INVALID = [
    "529.982.247-26",  # DV2 wrong
    "529.982.247-35",  # DV1 wrong
    "52998224726",
    "123.456.789-10",
    "111.111.111-11",  # all same digit passes mod 11 but is rejected
    "000.000.000-00",
    "99999999999",
    "529.982.24725",  # half-formatted
    "529982247-25",  # not one of the two accepted forms
    "529-982-247-25",
    "529.982.247.25",
    "529 982 247 25",
    "5299822472",  # 10 digits
    "529982247250",  # 12 digits
    "52a.982.247-25",
    "(11) 98765-4321",  # phone
    "2024-01-15",  # date
    "12345678901",  # bare 11-digit number failing the check digits
    "5511987654321",  # phone with country code
    "５２９.９８２.２４７-２５",  # full-width
]


@pytest.mark.parametrize("text", CPF_VALID)
def test_cpf_valid(text):
    assert cpf(text) is True


@pytest.mark.parametrize("text", CPF_INVALID)
def test_cpf_invalid(text):
    assert cpf(text) is False


def test_cpf_all_same_digit_rejected_although_checksum_passes():
    for d in "0123456789":
        s = d * 11
        assert ref_cpf_dvs(s[:9]) == s[9:]  # the checksum alone would accept it
        assert not cpf(s) and not cpf(fmt_cpf(s))


def test_cpf_property_random():
    rng = random.Random(20260701)
    body_flips = body_collisions = 0
    for _ in range(3000):
        body = "".join(rng.choice("0123456789") for _ in range(9))
        if len(set(body)) == 1:
            continue
        d = body + ref_cpf_dvs(body)
        assert cpf(d) and cpf(fmt_cpf(d)), d
        # Any change to a check digit is always caught.
        for i in (9, 10):
            new = rng.choice([c for c in "0123456789" if c != d[i]])
            flipped = d[:i] + new + d[i + 1 :]
            assert not cpf(flipped) and not cpf(fmt_cpf(flipped)), flipped
        # A change in the body is caught except for genuine mod-11 collisions (r 0 <-> 1 both give DV 0, and
        # the first digit has weight 11 in DV2): the validator must agree with the reference either way.
        i = rng.randrange(9)
        new = rng.choice([c for c in "0123456789" if c != d[i]])
        flipped = d[:i] + new + d[i + 1 :]
        expected = ref_cpf_valid(flipped)
        assert cpf(flipped) is expected and cpf(fmt_cpf(flipped)) is expected, flipped
        body_flips += 1
        body_collisions += expected
    assert body_collisions < body_flips * 0.02


# --------------------------------------------------------------------------------------------------- CNPJ

CNPJ_VALID = [
    "12.ABC.345/01DE-35",  # official Receita Federal alphanumeric example
    "12ABC34501DE35",
    "11.222.333/0001-81",
    "11222333000181",
    "11.444.777/0001-61",
    "00.000.000/0001-91",  # Banco do Brasil
    "33.000.167/0001-01",  # Petrobras
    "60.701.190/0001-04",  # Itaú Unibanco
]

CNPJ_INVALID = [
    "12.ABC.345/01DE-36",
    "12.ABC.345/01DE-45",
    "12.abc.345/01de-35",  # lower case is rejected (documented: hex-id false positives)
    "12abc34501de35",
    "11.222.333/0001-82",
    "11.222.333/0001-91",
    "00.000.000/0000-00",  # all same
    "00000000000000",
    "11111111111111",
    "11.222.333/0001-8A",  # check digits are numeric
    "11.222.333.0001-81",  # wrong separator
    "11.222.333/000181",  # half-formatted
    "11 222 333 0001 81",
    "1122233300018",  # 13
    "112223330001810",  # 15
    "12.AB-.345/01DE-35",
    "12.ÀBC.345/01DE-35",
    "550e8400e29b41",  # UUID fragment
    "2024-01-15T10:3",
]


@pytest.mark.parametrize("text", CNPJ_VALID)
def test_cnpj_valid(text):
    assert cnpj(text) is True


@pytest.mark.parametrize("text", CNPJ_INVALID)
def test_cnpj_invalid(text):
    assert cnpj(text) is False


def test_cnpj_official_example_values():
    assert ref_cnpj_dvs("12ABC34501DE") == "35"
    assert ref_cnpj_dvs("12ABC34501DE", base36) != "35"


def test_cnpj_base36_check_digits_rejected():
    rng = random.Random(36)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    checked = 0
    for _ in range(2000):
        body = "".join(rng.choice(alphabet) for _ in range(12))
        good, wrong = ref_cnpj_dvs(body), ref_cnpj_dvs(body, base36)
        if good == wrong:  # letters whose offset (7 each) happens to cancel mod 11 -- and purely numeric bodies
            continue
        assert cnpj(body + good) and cnpj(fmt_cnpj(body + good))
        assert not cnpj(body + wrong) and not cnpj(fmt_cnpj(body + wrong)), body + wrong
        checked += 1
    assert checked > 1500
    # the official example computed the wrong way
    assert not cnpj(fmt_cnpj("12ABC34501DE" + ref_cnpj_dvs("12ABC34501DE", base36)))


def test_cnpj_all_same_character_rejected():
    for d in "0123456789":
        assert not cnpj(d * 14) and not cnpj(fmt_cnpj(d * 14))
    # Stricter than "all 14 the same": a base of one repeated character is rejected even when the check
    # digits differ (111111111111-80, AAAAAAAAAAAA-45 are checksum-valid junk, never issued).
    for c in "0123456789AZ":
        s = c * 12 + ref_cnpj_dvs(c * 12)
        assert ref_cnpj_valid(s) or c == "0"
        assert not cnpj(s) and not cnpj(fmt_cnpj(s)), s


@pytest.mark.parametrize(
    ("alphabet", "max_collisions"),
    # Alphanumeric bodies collide more: values 0..42 differ by multiples of 11 (6/A/L/W, 0/B/M/X ...), so a
    # substitution between such characters is invisible to both check digits -- a property of the official
    # algorithm, not of this implementation.
    [("0123456789", 0.03), ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 0.12)],
)
def test_cnpj_property_random(alphabet, max_collisions):
    rng = random.Random(len(alphabet))
    body_flips = body_collisions = 0
    for _ in range(3000):
        body = "".join(rng.choice(alphabet) for _ in range(12))
        if len(set(body)) == 1:
            continue
        d = body + ref_cnpj_dvs(body)
        assert cnpj(d) and cnpj(fmt_cnpj(d)), d
        for i in (12, 13):
            new = rng.choice([c for c in "0123456789" if c != d[i]])
            flipped = d[:i] + new + d[i + 1 :]
            assert not cnpj(flipped) and not cnpj(fmt_cnpj(flipped)), flipped
        i = rng.randrange(12)
        new = rng.choice([c for c in alphabet if c != d[i]])
        flipped = d[:i] + new + d[i + 1 :]
        expected = ref_cnpj_valid(flipped)
        assert cnpj(flipped) is expected and cnpj(fmt_cnpj(flipped)) is expected, flipped
        body_flips += 1
        body_collisions += expected
    assert body_collisions < body_flips * max_collisions


# --------------------------------------------------------------------------------------------------- IBAN

IBAN_VALID = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "FR14 2004 1010 0505 0001 3M02 606",
    "FR1420041010050500013M02606",
    "GB29 NWBK 6016 1331 9268 19",
    "GB82WEST12345698765432",
    "BR18 0036 0305 0000 1000 9795 493C 1",
    "BR1800360305000010009795493C1",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "NL91 ABNA 0417 1643 00",
    "PT50 0002 0123 1234 5678 9015 4",
    "BE68 5390 0754 7034",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "IE29 AIBK 9311 5212 3456 78",
    "PL61 1090 1014 0000 0712 1981 2874",
    "NO93 8601 1117 947",  # shortest (15)
    "de89 3704 0044 0532 0130 00",  # lower case accepted (documented)
]

IBAN_INVALID = [
    "DE89 3704 0044 0532 0130 01",  # one digit changed
    "DE88370400440532013000",  # check digits changed
    "DE89370400440532013",  # wrong length for DE
    "DE8937040044053201300000",
    "GB29 NWBK 6016 1331 9268 18",
    "FR14 2004 1010 0505 0001 3M02 607",
    "BR18 0036 0305 0000 1000 9795 493C 2",
    "NL91 ABNA 0417 1643 01",
    "XX89370400440532013000",  # unknown country
    "D989370400440532013000",
    "DEAB370400440532013000",  # non-numeric check digits
    "DE89-3704-0044-0532-0130-00",  # dashes are not IBAN separators
    "DE89  3704 0044 0532 0130 00",  # double space
    " DE89370400440532013000",
    "DE89370400440532013000 ",
    "DE89 3704 0044 0532 0130 0_",
    "550e8400-e29b-41d4-a716-446655440000",  # UUID
    "4111111111111111",  # card
    "2024-01-15",
]


@pytest.mark.parametrize("text", IBAN_VALID)
def test_iban_valid(text):
    assert iban(text) is True


@pytest.mark.parametrize("text", IBAN_INVALID)
def test_iban_invalid(text):
    assert iban(text) is False


def test_iban_check_digits_00_01_99_rejected_even_if_congruent():
    # 99 == 02 and 00/01 == 97/98 (mod 97), so mod 97 alone would accept these; ISO 7064 check digits are 02..98.
    rng = random.Random(2)
    found = set()
    while found != {"02", "97", "98"}:
        bban = "".join(rng.choice("0123456789") for _ in range(18))
        cd = f"{98 - int(bban + '131400') % 97:02d}"  # D=13, E=14
        if cd in ("02", "97", "98") and cd not in found:
            found.add(cd)
            alias = {"02": "99", "97": "00", "98": "01"}[cd]
            assert iban(f"DE{cd}{bban}")
            assert ref_iban_ok(f"DE{alias}{bban}")  # passes the bare mod-97 test ...
            assert not iban(f"DE{alias}{bban}")  # ... but is not a valid IBAN


def test_iban_generated_every_country_and_single_digit_errors():
    rng = random.Random(97)
    for country, length in IBAN_LENGTHS.items():
        for _ in range(20):
            bban = "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(length - 4))
            num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
            s = f"{country}{98 - num % 97:02d}{bban}"
            assert iban(s), s
            assert iban(" ".join(s[i : i + 4] for i in range(0, len(s), 4))), s
            assert not iban(s + "0") and not iban(s[:-1])
            # mod 97 detects every single digit-for-digit substitution (a letter spans two decimal digits)
            i = rng.choice([k for k in range(4, length) if s[k].isdigit()] or [2])
            new = rng.choice([c for c in "0123456789" if c != s[i]])
            assert not iban(s[:i] + new + s[i + 1 :])


def test_iban_lengths_table():
    for cc, n in {"DE": 22, "FR": 27, "GB": 22, "BR": 29, "ES": 24, "IT": 27, "NL": 18, "PT": 25, "BE": 16,
                  "CH": 21, "AT": 20, "IE": 22, "PL": 28}.items():  # fmt: skip
        assert IBAN_LENGTHS[cc] == n


# ------------------------------------------------------------------------------------------------- US SSN

SSN_VALID = ["123-45-6789", "123 45 6789", "001-01-0001", "665-99-9999", "667-12-3456", "899-99-9999",
             "078-05-1120"]  # fmt: skip

SSN_INVALID = [
    "000-12-3456",  # area 000
    "666-12-3456",  # area 666
    "900-12-3456",  # 9xx
    "987-65-4321",  # 987-65-432x: advertising range
    "999-99-9999",
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "123456789",  # bare: off by default
    "123-45 6789",  # inconsistent separators
    "123-456-789",
    "123.45.6789",
    "12-345-6789",
    "1234-56-789",
    "123-45-678",
    "123-45-67890",
    "(11) 9876-5432",  # phone
    "2024-01-15",  # date
    "ABC-DE-FGHI",
    "１２３-４５-６７８９",  # full-width
]


@pytest.mark.parametrize("text", SSN_VALID)
def test_ssn_valid(text):
    assert us_ssn(text) is True


@pytest.mark.parametrize("text", SSN_INVALID)
def test_ssn_invalid(text):
    assert us_ssn(text) is False


def test_ssn_bare_opt_in():
    assert us_ssn("123456789", allow_bare=True)
    assert not us_ssn("000123456", allow_bare=True)
    assert not us_ssn("666123456", allow_bare=True)
    assert not us_ssn("912345678", allow_bare=True)
    assert not us_ssn("123004567", allow_bare=True)
    assert not us_ssn("123450000", allow_bare=True)
    assert not us_ssn("12345678a", allow_bare=True)
    assert not VALIDATORS["us_ssn"]("123456789")
