"""Checksum validators for PII candidates found by the redaction prefilter.

Each validator takes the *matched text* (including whatever separators the format allows) and returns ``True``
only if the text is a well-formed, checksum-valid identifier. Anything outside the format -- other separators,
non-ASCII digits (``"١٢٣"``, full-width ``"１"``), surrounding whitespace, wrong length -- is rejected, so a
validator never "repairs" a match the prefilter was too loose about. They never raise for ``str`` input.

They run only where the prefilter hit, but stay cheap: length and fixed-position checks first, no regexes,
at most a couple of small temporary strings per call; about 0.5-2 µs per call on CPython 3.11.

Format decisions (documented here because the redaction processor's precision depends on them):

- ``luhn``: 13-19 ASCII digits once spaces and dashes are removed (any mix, anywhere between digits; not
  leading/trailing); ``min_digits=12`` opts in to 12-digit Maestro. All-zero strings are rejected (they pass
  mod 10 but are never card numbers).
- ``cpf``: exactly ``ddd.ddd.ddd-dd`` or 11 bare digits; all-same-digit strings are rejected.
- ``cnpj``: exactly ``XX.XXX.XXX/XXXX-DD`` or 14 bare characters; the first 12 are ``[0-9A-Z]`` (the 2026
  alphanumeric CNPJ), the last two are digits. **Upper case only**: the Receita Federal format is defined over
  upper-case letters, and accepting lower case would let 14-character lower-case hex ids (UUID/trace-id
  fragments) that happen to end in two digits pass about 1 time in 100. "All the same character" is checked
  on the 12-character base (so ``11111111111180`` and ``AAAAAAAAAAAA45``, checksum-valid junk, are rejected
  as well as ``00000000000000``). Note that with letters the official check digits no longer catch every
  single-character substitution (values 6/A/L/W differ by multiples of 11).
- ``iban``: country code + 2 check digits + BBAN, optionally with single spaces (the printed groups of 4).
  Letters are accepted in either case (the country length table plus mod-97 is a strong enough gate).
  The length must match the SWIFT IBAN registry for the country; check digits must be 02..98.
- ``us_ssn``: ``ddd-dd-dddd`` or ``ddd dd dddd`` (one consistent separator). Bare 9 digits are accepted only
  with ``allow_bare=True``: the SSA rules reject only ~11% of random 9-digit numbers, so for bare digits the
  "validator" would confirm almost any order number or token count; the registry entry does not allow them.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["IBAN_LENGTHS", "VALIDATORS", "cnpj", "cpf", "iban", "luhn", "us_ssn"]

# --------------------------------------------------------------------------------------------------- Luhn

_STRIP_CARD_SEPARATORS = str.maketrans("", "", " -")
# Contribution of a digit in a "doubled" position: 2d, minus 9 if > 9.
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn(text: str, *, min_digits: int = 13) -> bool:
    """Payment card number: 13-19 digits after removing spaces/dashes, Luhn mod 10 == 0.

    ``min_digits=12`` also accepts 12-digit Maestro numbers (which Faker generates for ~8% of its cards); the
    default follows the usual 13-19 because a bare 12-digit number is far more often something else.
    """
    n = len(text)
    if n < min_digits or n > 28:  # 19 digits + at most 9 separators
        return False
    if text[0] in " -" or text[-1] in " -":
        return False
    digits = text.translate(_STRIP_CARD_SEPARATORS) if n > 19 or not text.isdigit() else text
    n = len(digits)
    if n < min_digits or n > 19 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    double = False
    for i in range(n - 1, -1, -1):
        d = ord(digits[i]) - 48
        total += _LUHN_DOUBLE[d] if double else d
        double = not double
    return total % 10 == 0 and total != 0  # total == 0 only for all zeros


# ---------------------------------------------------------------------------------------------- CPF / CNPJ


def _mod11_dv(total: int) -> int:
    r = total % 11
    return 0 if r < 2 else 11 - r


# Positions of the 11 digits inside "ddd.ddd.ddd-dd".
_CPF_FORMATTED_POS: tuple[int, ...] = (0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13)
_CPF_BARE_POS = tuple(range(11))


def cpf(text: str) -> bool:
    """Brazilian CPF: ``ddd.ddd.ddd-dd`` or 11 bare digits; both mod-11 check digits; not all one digit."""
    n = len(text)
    if n == 14:
        if text[3] != "." or text[7] != "." or text[11] != "-":
            return False
        pos = _CPF_FORMATTED_POS
    elif n == 11:
        pos = _CPF_BARE_POS
    else:
        return False
    s1 = s2 = 0
    first = -1
    same = True
    for k in range(9):
        d = ord(text[pos[k]]) - 48
        if d < 0 or d > 9:
            return False
        if k == 0:
            first = d
        elif d != first:
            same = False
        s1 += d * (10 - k)
        s2 += d * (11 - k)
    dv1 = ord(text[pos[9]]) - 48
    dv2 = ord(text[pos[10]]) - 48
    if dv1 < 0 or dv1 > 9 or dv2 < 0 or dv2 > 9:
        return False
    if same:  # 000.000.000-00, 111.111.111-11, ... pass the checksum but are not CPFs
        return False
    if _mod11_dv(s1) != dv1:
        return False
    return _mod11_dv(s2 + dv1 * 2) == dv2


# Positions of the 14 characters inside "XX.XXX.XXX/XXXX-DD".
_CNPJ_FORMATTED_POS: tuple[int, ...] = (0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 16, 17)
_CNPJ_BARE_POS = tuple(range(14))
_CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def cnpj(text: str) -> bool:
    """Brazilian CNPJ, numeric or 2026 alphanumeric: ``XX.XXX.XXX/XXXX-DD`` or 14 bare characters.

    The first 12 characters are ``[0-9A-Z]`` (upper case only), valued ``ord(c) - 48`` (so ``A`` = 17, not 10:
    base-36 is wrong); the two check digits are numeric. ``12.ABC.345/01DE-35`` is valid.
    """
    n = len(text)
    if n == 18:
        if text[2] != "." or text[6] != "." or text[10] != "/" or text[15] != "-":
            return False
        pos = _CNPJ_FORMATTED_POS
    elif n == 14:
        pos = _CNPJ_BARE_POS
    else:
        return False
    s1 = s2 = 0
    first = -1
    same = True
    for k in range(12):
        c = ord(text[pos[k]])
        if not (48 <= c <= 57 or 65 <= c <= 90):
            return False
        v = c - 48
        if k == 0:
            first = v
        elif v != first:
            same = False
        s1 += v * _CNPJ_W1[k]
        s2 += v * _CNPJ_W2[k]
    dv1 = ord(text[pos[12]]) - 48
    dv2 = ord(text[pos[13]]) - 48
    if dv1 < 0 or dv1 > 9 or dv2 < 0 or dv2 > 9:
        return False
    if same:  # 00.000.000/0000-00 etc.
        return False
    if _mod11_dv(s1) != dv1:
        return False
    return _mod11_dv(s2 + dv1 * 2) == dv2


# ---------------------------------------------------------------------------------------------------- IBAN

# Total IBAN length per country (SWIFT IBAN registry). Covers every registry country as of 2025.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN_MAX = max(IBAN_LENGTHS.values())


# Letters -> their two-digit mod-97 value (A/a=10 ... Z/z=35); digits are left as they are.
_IBAN_LETTERS = {ord(c): str(i + 10) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_IBAN_LETTERS.update({ord(c): str(i + 10) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")})


def iban(text: str) -> bool:
    """IBAN: country code + 2 check digits + BBAN, single spaces allowed; country length; mod 97 == 1."""
    n = len(text)
    if n < 15 or n > 2 * _IBAN_MAX or text[0] == " " or text[-1] == " ":
        return False
    if " " in text:
        if "  " in text:
            return False
        s = text.replace(" ", "")
    else:
        s = text
    length = IBAN_LENGTHS.get(s[:2].upper())
    if length is None or len(s) != length or not s.isascii() or not s.isalnum():
        return False
    c2, c3 = ord(s[2]) - 48, ord(s[3]) - 48
    if not (0 <= c2 <= 9 and 0 <= c3 <= 9) or not 2 <= c2 * 10 + c3 <= 98:
        return False  # ISO 7064 MOD 97-10 check digits are 02..98 (99/00/01 are congruent aliases)
    # Move the first 4 characters to the end, letters -> 10..35, then one C-level int() and mod 97.
    return int((s[4:] + s[:4]).translate(_IBAN_LETTERS)) % 97 == 1


# ------------------------------------------------------------------------------------------------- US SSN


def us_ssn(text: str, *, allow_bare: bool = False) -> bool:
    """US SSN ``ddd-dd-dddd`` / ``ddd dd dddd``; rejects area 000, 666, 900-999, group 00, serial 0000.

    Bare ``ddddddddd`` only with ``allow_bare=True`` (see the module docstring).
    """
    n = len(text)
    if n == 11:
        sep = text[3]
        if (sep != "-" and sep != " ") or text[6] != sep:
            return False
        area, group, serial = text[0:3], text[4:6], text[7:11]
    elif n == 9 and allow_bare:
        area, group, serial = text[0:3], text[3:5], text[5:9]
    else:
        return False
    for part in (area, group, serial):
        if not part.isascii() or not part.isdigit():
            return False
    if area == "000" or area == "666" or area[0] == "9":
        return False
    return group != "00" and serial != "0000"


# ------------------------------------------------------------------------------------------------ registry

VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn,
    "cpf": cpf,
    "cnpj": cnpj,
    "iban": iban,
    "us_ssn": us_ssn,
}
"""Validators by the name custom ``blocked_values`` rules use (``validator: luhn``)."""
