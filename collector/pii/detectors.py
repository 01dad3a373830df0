"""Built-in PII and secret detectors: exact patterns, checksum gates and the prefilter each one contributes.

Every detector has an *exact* pattern (Python ``re``, run only on values the prefilter marked) and a
*prefilter* pattern (RE2/Hyperscan syntax, UTF-8 mode, run once over the joined batch). The invariant the
scanner relies on: **every exact match contains a prefilter match as a substring**, so the prefilter can
have false positives but never a false negative. Unless a detector gives its prefilter explicitly, it is the
exact pattern with its look-arounds removed (removing a constraint only widens the language), which is why
exact patterns use only constructs both engines read the same way: explicit ASCII classes, ``\\d`` under
``re.ASCII``, bounded repeats, no ``\\s`` (RE2's lacks ``\\v``), no backreferences.

Decisions a user can observe (docs/redaction.md / tests document the same):

- Boundaries: a value is found after and before any character that cannot continue it -- brackets and
  parentheses (also doubled, "((11) 98765-4321)"), quotes, slashes, ":", "=", ",", ";", whitespace, the
  start and end of the text -- and after the letter of a ``\\n``/``\\r``/``\\t`` escape (JSON text scanned
  as text). A value glued to a letter, a digit or its own alphabet is part of something longer and is
  not reported (tests/pii/test_pii_boundaries.py holds the table).
- ``card``: 13-19 digits (spaces/dashes between digits), Luhn, and an issuer prefix starting 2-6 (Visa,
  Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir). The prefix rule keeps 13-digit epoch
  milliseconds (``17...``) and most order numbers alive. 12-digit numbers are accepted only with a Maestro
  IIN (50xx/56-58/0604/6304/6390/67xx) *and* Luhn; legacy 15-digit JCB 1800... is accepted too: Faker issues 12-digit Maestros ~8% of the time, while only
  ~0.3% of random 12-digit numbers pass both gates.
- ``phone``: international numbers must carry ``+CC``; national numbers are recognised in the BR, US, FR and DE
  layouts that have separators or an area code in parentheses. Bare national digit strings
  (``0232781286``) are only taken after a phone keyword (tel, phone, telefone, celular, whatsapp, ...; also as
  a key: ``phone=...``, ``"telefone": "..."``), because without context they are indistinguishable from
  order numbers.
- ``ipv4``: dotted quads with valid octets and no leading zeros; a quad glued to a word (``v10.0.0.1``,
  ``build1.2.3.4``) or followed by a fifth component is a version, not an address. A bare ``1.2.3.4`` is
  treated as an address.
- ``ipv6``: the full and every ``::``-compressed form; ``a::b``-style code (``std::vector``) does not match
  because a compressed address needs a hex group of at least two characters on one side and word-boundary
  context. After a label's colon (``client:2001:db8::1``) it is found when the label's last three
  characters hold a letter outside a-f, so the tail of a colon-separated fingerprint is not an address.
- ``bearer_token`` / ``basic_auth``: only the credential is reported; the scheme word stays, so a masked
  header still reads ``Authorization: Bearer <BEARER_TOKEN>``. A bearer token needs 16+ token68 characters
  with a digit or upper-case letter (so prose like "Bearer authentication" survives); a Basic credential must
  base64-decode to ``user:password``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from collector.pii.validators import cnpj, cpf, iban, luhn, us_ssn

__all__ = ["DETECTORS", "BUILTIN", "Builtin", "DetectorInfo", "strip_lookarounds"]


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    placeholder: str
    category: str  # "pii" | "secret"
    description: str


@dataclass(frozen=True)
class Builtin:
    info: DetectorInfo
    exact: tuple[re.Pattern[str], ...]  # branches; matches are merged leftmost-first like one alternation
    prefilter: str
    min_len: int
    # Returns the (start, end) span to report inside the match text, or None to reject the candidate.
    accept: Callable[[str], tuple[int, int] | None] | None = None
    # Group whose span is reported (the credential after "Bearer "), 0 for the whole match.
    group: str | int = 0
    # For a pattern without a length bound: a class of every character a match can hold, so the scanner's
    # exact pass can look only at the run of such characters around a prefilter hit.
    alphabet: str | None = None


# ------------------------------------------------------------------------------------ pattern derivation


def strip_lookarounds(pattern: str) -> str:
    """Remove ``(?=..)``, ``(?!..)``, ``(?<=..)``, ``(?<!..)`` and turn named groups into plain groups."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("]")
                i += 1
            i += 1
            continue
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _skip_group(pattern, i)
            continue
        if pattern.startswith("(?P<", i):
            out.append("(?:")
            i = pattern.index(">", i) + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _skip_group(pattern: str, i: int) -> int:
    depth = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {pattern!r}")


# ------------------------------------------------------------------------------------------ acceptors


def _digits(text: str) -> int:
    return sum(1 for c in text if "0" <= c <= "9")


# Issuer identification: first digit 2-6 covers Mastercard 2-series, Amex/JCB/Diners (3), Visa (4),
# Mastercard/Maestro (5), Discover/UnionPay/Maestro (6).
_CARD_FIRST = frozenset("23456")
_MAESTRO_12 = ("50", "56", "57", "58", "0604", "6304", "6390", "67")


def _card_ok(digits: str) -> bool:
    n = len(digits)
    if n == 15 and digits.startswith("1800"):  # legacy 15-digit JCB
        return luhn(digits)
    if n == 12:
        return digits.startswith(_MAESTRO_12) and luhn(digits, min_digits=12)
    if digits[0] not in _CARD_FIRST:
        return False
    return 13 <= n <= 19 and luhn(digits)


def _accept_card(text: str) -> tuple[int, int] | None:
    """Luhn on the candidate; if it fails, on sub-runs of whole digit groups (a card glued to a count, as in
    ``4111 1111 1111 1111 12 parcelas``). The longest passing run wins, then the earliest.

    A sub-run must not be part of a longer digit run: a group of 4+ digits right next to it means the
    candidate is a slice of one bigger number (``1234 5678 9012 3456`` failing Luhn must not yield the
    Maestro-shaped ``5678 9012 3456``), so that slice is not a card."""
    whole = text.translate(_CARD_SEPARATORS)
    if len(whole) <= 19 and _card_ok(whole):
        return 0, len(text)  # every group: no run is longer (a match starts and ends with a digit)
    groups = [m.span() for m in _DIGIT_RUN.finditer(text)]
    count = len(groups)
    best: tuple[int, int] | None = None
    best_len = 11
    for i in range(count):
        if i > 0 and groups[i - 1][1] - groups[i - 1][0] >= _GLUED_GROUP:
            continue
        digits = ""
        for j in range(i, count):
            s, e = groups[j]
            digits += text[s:e]
            if len(digits) > 19:
                break
            if len(digits) <= best_len:
                continue
            if j + 1 < count and groups[j + 1][1] - groups[j + 1][0] >= _GLUED_GROUP:
                continue
            if _card_ok(digits):
                best, best_len = (groups[i][0], e), len(digits)
    return best


# A neighbouring digit group this long makes a sub-run a slice of a bigger number rather than a card
# followed (or preceded) by a small count.
_GLUED_GROUP = 4
_DIGIT_RUN = re.compile(r"\d+", re.ASCII)
_CARD_SEPARATORS = str.maketrans("", "", " -")


def _accept_groups(validator: Callable[[str], bool], sep: str = " ") -> Callable[[str], tuple[int, int] | None]:
    """Validate the candidate; on failure try dropping trailing space-separated groups (``... 00 E mais``)."""

    def accept(text: str) -> tuple[int, int] | None:
        if validator(text):
            return 0, len(text)
        end = len(text)
        while True:
            end = text.rfind(sep, 0, end)
            if end <= 0:
                return None
            if validator(text[:end]):
                return 0, end

    return accept


def _whole(validator: Callable[[str], bool]) -> Callable[[str], tuple[int, int] | None]:
    def accept(text: str) -> tuple[int, int] | None:
        return (0, len(text)) if validator(text) else None

    return accept


def _accept_phone(text: str) -> tuple[int, int] | None:
    # The extension (x123) is part of the span; only the number's own digits count towards E.164's 15.
    cut = len(text)
    for marker in ("x", "X", "ext"):
        k = text.find(marker)
        if k != -1:
            cut = min(cut, k)
    return (0, len(text)) if 7 <= _digits(text[:cut]) <= 15 else None


_DATE_SHAPE = re.compile(r"[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}|[0-9]{2}[-/.][0-9]{2}[-/.][0-9]{4}", re.ASCII)


def _accept_phone_after_keyword_or_layout(text: str) -> tuple[int, int] | None:
    return None if _DATE_SHAPE.fullmatch(text) else _accept_phone(text)


def _accept_ipv6(text: str) -> tuple[int, int] | None:
    # A single colon after the address ends the phrase ("fe80::1: unreachable"); "fe80::" keeps its "::".
    if text.endswith(":") and not text.endswith("::"):
        text = text[:-1]
    # "Abc::def" is code, "fe80::1" is an address: a compressed form needs a digit or three groups.
    if text.count(":") < 2:
        return None
    if "::" in text and not any(c.isdigit() for c in text) and len([g for g in text.split(":") if g]) < 3:
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return 0, len(text)


def _accept_ipv4(text: str) -> tuple[int, int] | None:
    for octet in text.split("."):
        if (len(octet) > 1 and octet[0] == "0") or int(octet) > 255:
            return None
    return 0, len(text)


def _accept_bearer(token: str) -> tuple[int, int] | None:
    return (0, len(token)) if any(c.isdigit() or c.isupper() for c in token[1:]) else None


def _accept_basic(cred: str) -> tuple[int, int] | None:
    padded = cred.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, _ = decoded.partition(":")
    return (0, len(cred)) if sep and user and decoded.isprintable() else None


# ------------------------------------------------------------------------------------------ the table

_A = re.ASCII
_TOKEN_END = r"(?![A-Za-z0-9_-])"

# Every exact pattern starts with a literal or a character class and puts its look-behinds right after that
# first character: Python's re then skips ahead with a C-level prefix scan instead of trying the look-behind
# at every position (10-30x faster on prompt text).

# A backslash escape of a newline, carriage return or tab, as in JSON or a repr scanned as text (a truncated
# JSON value, a log line quoting one): its letter ends the word before the value, it is not glued to it.
# Written as look-behinds only (no alternation), which keeps Python's re as fast as a plain look-behind.
_NOT_AFTER_ESCAPE_LETTER = r"(?<![nrt](?<!\\[nrt]){first})"  # n, r or t glue unless a backslash is before it


def _start(first: str, glue: str, *not_before: str) -> str:
    """``first`` followed by look-behinds: the character before it is not in the class ``glue`` (an ASCII
    class; its n, r and t only when they are not the letter of a ``\\n``/``\\r``/``\\t`` escape), nor does the
    text before it end in any of ``not_before``."""
    body = glue[1:-1].replace(r"\w", "0-9A-Z_a-z")
    if "a-z" in body:
        body = body.replace("a-z", "a-mo-qsu-z")
        escape = _NOT_AFTER_ESCAPE_LETTER.format(first=first)
    else:
        escape = ""
    return f"{first}(?<![{body}]{first}){escape}" + "".join(f"(?<!{nb}{first})" for nb in not_before)


# National layouts must not be a slice of a longer digit sequence (IBAN/card groups, "0532 0130 01").
_NAT_POST = r"(?![0-9]|[ .,/-][0-9])"
_EXT = r"(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6})?"


def _nat(first: str, rest: str) -> str:
    # Not glued to a word, a "+" (an international number's tail), a decimal point or a dash; an opening
    # parenthesis or bracket, a quote or a slash is a boundary ("Maria ((11) 98765-4321)", "John
    # (555-123-4567)", "/users/555-123-4567"). A number's own "(" may follow a letter ("Tel(11) ...").
    glue = r"[0-9+]" if first == r"\(" else r"[\w+.-]"
    return _start(first, glue, r"[0-9][ ./-]") + rest + _NAT_POST


_PHONE = (
    # International: +CC then groups, optional national trunk "(0)", optional extension.
    _start(r"\+", r"[\w+]") + r"[1-9][0-9]{0,2}(?:[ .-]{0,2}(?:\([0-9]{1,4}\)|[0-9]{1,10})){1,6}" + _EXT
    + r"(?![0-9])",
    # US: (415) 555-2671, 415-555-2671, 415.555.2671, (415) 555 2671, 001-415-555-2671, optional extension.
    _nat(r"\(", r"[0-9]{3}\)[ ]?[0-9]{3}[-.][0-9]{4}" + _EXT),
    _nat(r"[0-9]", r"[0-9]{2}[-.][0-9]{3}[-.][0-9]{4}" + _EXT),
    _nat("0", r"0[1-9][0-9]{0,2}[-. ](?:\([0-9]{3}\)[ ]?|[0-9]{3}[-.])[0-9]{3}[-.][0-9]{4}" + _EXT),
    _nat(r"\(", r"[0-9]{3}\)[ ]?[0-9]{3}[ ][0-9]{4}"),
    # BR: (11) 98765-4321, 11 98765-4321, (011) 1234-5678; non-geographic 0300/0500/0800 123 4567.
    _nat(r"\(", r"0?[1-9][0-9]\)[ ]?9?[0-9]{4}[- ][0-9]{4}"),
    _nat("[1-9]", r"[0-9][ ]9?[0-9]{4}[- ][0-9]{4}"),
    _nat("0", r"[3589]00[ -]?[0-9]{3}[ -]?[0-9]{4}"),
    # FR: 01 42 68 53 00, 01.42.68.53.00.
    _nat("0", r"[1-9](?:[ .][0-9]{2}){4}"),
    # DE: (030) 901820, (03449) 78690, 030 901820, 03662 585178.
    _nat(r"\(", r"0[1-9][0-9]{1,4}\)[ ]?[0-9]{3,8}"),
    _nat("0", r"[1-9][0-9]{1,4}[ /][0-9]{4,8}"),
    # Anything phone-shaped after a phone word: "Tel.: 0232781286", "whatsapp 11987654321", "Tél. : ...".
    # `\b(?i:tel|phone|...)` written as the words' first letters, the word boundary as a look-behind, then
    # each word's rest after a look-behind for its own first letter: the same matches, but Python's re can
    # skip to candidate letters instead of trying the word list at every position (3x faster).
    # Between the word and the number: a dot, a closing quote and ":" or "=", an opening quote
    # ("phone=11987654321", '"telefone": "11987654321"' in JSON text).
    _start("[TtPpFfCcWwZzHhMm]", "[A-Za-z0-9_]")
    + r"(?i:(?<=t)[eé]l|(?<=p)hone|(?<=f)one|(?<=c)elular|(?<=c)el|(?<=w)hatsapp|(?<=z)ap|(?<=h)andy|(?<=m)obil"
    r"|(?<=p)ortable)(?i:[a-zé]{0,8})\.?[\"']?[ \t]{0,2}[:=]?[ \t]{0,3}[\"']?"
    r"(?P<v>\+?[0-9(][0-9 ().-]{5,20}[0-9])(?![0-9])",
)  # fmt: skip

_BUILTINS_SPEC: list[tuple[str, str, str, str | tuple[str, ...], int, str | None, Callable | None, int, str | int]] = [
    # name, category, description, exact pattern, flags, explicit prefilter, acceptor, min length, group
    (
        "private_key", "secret", "PEM/OpenSSH/PGP private key block, multi-line or \\n-escaped",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,.-]*)",
        re.S | _A, r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY", None, 30, 0,
    ),
    (
        "jwt", "secret", "JSON Web Token (header.payload.signature, base64url)",
        _start("eyJ", "[A-Za-z0-9_-]") + r"[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*" + _TOKEN_END,
        _A, None, None, 28, 0,
    ),
    (
        "anthropic_key", "secret", "Anthropic API/admin key (sk-ant-api03-...AA)",
        _start("sk-ant-", "[A-Za-z0-9_-]") + r"(?:api03|admin01)-[A-Za-z0-9_-]{93}AA" + _TOKEN_END,
        _A, r"sk-ant-(?:api03|admin01)-", None, 108, 0,
    ),
    (
        "openai_key", "secret", "OpenAI API key (sk-proj-/sk-svcacct-/sk-admin- and legacy, with T3BlbkFJ)",
        _start("sk-", "[A-Za-z0-9_-]") + r"(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"
        r"|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|proj-[A-Za-z0-9_-]{40,})" + _TOKEN_END,
        _A, r"sk-(?:proj|svcacct|admin)-|T3BlbkFJ", None, 51, 0,
    ),
    (
        "github_token", "secret", "GitHub token (ghp_/gho_/ghu_/ghs_/ghr_, github_pat_)",
        _start("g", "[A-Za-z0-9_]") + r"(?:h[pousr]_[0-9A-Za-z]{36}|ithub_pat_[0-9A-Za-z_]{82})(?![0-9A-Za-z_])",
        _A, r"gh[pousr]_[0-9A-Za-z]{8}|github_pat_", None, 40, 0,
    ),
    (
        "aws_access_key", "secret", "AWS access key id (AKIA/ASIA/ABIA/ACCA/A3T...)",
        _start("A", "[A-Za-z0-9]") + r"(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA)[A-Z2-7]{16}(?![A-Za-z0-9])",
        _A, r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{8}", None, 20, 0,
    ),
    (
        "google_api_key", "secret", "Google API key (AIza...)",
        _start("AIza", "[A-Za-z0-9_-]") + r"[0-9A-Za-z_-]{35}" + _TOKEN_END, _A, r"AIza[0-9A-Za-z_-]{8}", None, 39, 0,
    ),
    (
        "slack_token", "secret", "Slack token (xoxb-/xoxp-/xoxa-/xoxr-/xoxs-)",
        _start("xox", "[A-Za-z0-9]") + r"[baprs]-[0-9A-Za-z-]{10,}" + _TOKEN_END, _A, None, None, 15, 0,
    ),
    (
        "stripe_key", "secret", "Stripe secret/restricted key (sk_live_/rk_live_/sk_test_)",
        _start("[sr]k_", "[A-Za-z0-9]") + r"(?:live|test)_[0-9A-Za-z]{20,}" + _TOKEN_END, _A, None, None, 28, 0,
    ),
    (
        "huggingface_token", "secret", "Hugging Face access token (hf_...)",
        _start("hf_", "[A-Za-z0-9_]") + r"[A-Za-z]{34}(?![A-Za-z0-9_])", _A, r"hf_[A-Za-z]{10}", None, 37, 0,
    ),
    (
        "bearer_token", "secret", "credential after 'Bearer ' (the scheme word is kept)",
        _start("[Bb]", "[A-Za-z0-9_]") + r"(?i:earer)[ \t]+(?P<v>[A-Za-z0-9_.~+/-]{16,}=*)(?![A-Za-z0-9_.~+/=-])",
        _A, None, _accept_bearer, 23, "v",
    ),
    (
        "basic_auth", "secret", "credential after 'Basic ' that decodes to user:password (scheme kept)",
        # Padding ends the credential: after "==" even a "/" is the next path segment, not base64.
        _start("[Bb]", "[A-Za-z0-9_]") + r"(?i:asic)[ \t]+(?P<v>[A-Za-z0-9+/]{4,}(?:={1,2}(?!=)|(?![A-Za-z0-9+/=])))",
        _A, None, _accept_basic, 10, "v",
    ),
    (
        "email", "pii", "e-mail address (Unicode local part and domain)",
        # After an escape's letter, not on it ("\\nana@x.com" is a newline and ana@x.com); an "_" after the
        # top-level domain is markdown emphasis or a separator ("_ana@x.com_"), not part of the address.
        r"(?<![^\Wnrt])(?<![.%+-])(?<![nrt](?<!\\[nrt]))(?!(?<=\\)[nrt])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*"
        r"\.[^\W\d_]{2,}(?![^\W_]|-)",
        0, r"[\w.%+\-\x{80}-\x{10FFFF}]@[\w\-\x{80}-\x{10FFFF}]", None, 6, 0,
    ),
    (
        "iban", "pii", "IBAN, bare or in groups of four (mod-97, country length)",
        _start("[A-Z]", "[A-Za-z0-9]") + r"[A-Z][0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])",
        _A, None, _accept_groups(iban), 15, 0,
    ),
    (
        "cnpj", "pii", "Brazilian CNPJ incl. the 2026 alphanumeric format (check digits)",
        _start("[0-9A-Z]", "[A-Za-z0-9.]") + r"[0-9A-Z]\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2}(?![0-9])"
        "|" + _start("[0-9A-Z]", "[A-Za-z0-9]") + r"[0-9A-Z]{11}[0-9]{2}(?![A-Za-z0-9])",
        _A, None, _whole(cnpj), 14, 0,
    ),
    (
        "cpf", "pii", "Brazilian CPF, formatted or bare (both check digits)",
        _start("[0-9]", "[A-Za-z0-9.]") + r"[0-9]{2}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}(?![A-Za-z0-9])"
        "|" + _start("[0-9]", "[A-Za-z0-9]", "[A-Za-z0-9]-") + r"[0-9]{10}(?![A-Za-z0-9]|-[A-Za-z0-9])",
        _A, None, _whole(cpf), 11, 0,
    ),
    (
        "card", "pii", "payment card number, 13-19 digits (12 for Maestro), Luhn and issuer prefix",
        _start("[0-9]", "[A-Za-z0-9]", "[A-Za-z0-9]-", "[A-Z]{2}[0-9]{2} ", "[0-9]{4}[ -]")
        + r"(?:[ -]?[0-9]){11,18}(?![A-Za-z0-9]|-[A-Za-z0-9]|[ -][0-9]{4})", _A, r"[0-9](?:[ -]?[0-9]){11}", _accept_card, 12, 0,
    ),
    (
        "us_ssn", "pii", "US Social Security number ddd-dd-dddd (invalid ranges rejected)",
        _start("[0-9]", "[A-Za-z0-9-]") + r"(?:[0-9]{2}-[0-9]{2}-[0-9]{4}|[0-9]{2} [0-9]{2} [0-9]{4})(?![A-Za-z0-9]|-[0-9])",
        _A, None, _whole(us_ssn), 11, 0,
    ),
    (
        "ipv6", "pii", "IPv6 address, full or ::-compressed",
        # The maximal run of hex digits and colons, checked by ipaddress; every valid address has a hex
        # digit next to "::" or is the full 8-group form, which is the prefilter.
        # It may also follow a label's colon ("ip:2001:db8::1", "client:...", "IPv6:fe80::1"): a label has
        # a letter outside a-f in its last three characters, so a hex group ("ab:", a fingerprint's
        # "...:fc:8b:b7:...") is never one. It may end before a colon that ends a phrase ("fe80::1:
        # unreachable"; the acceptor drops that colon).
        _start("[0-9A-Fa-f:]", r"[\w.]")
        + r"(?<!:(?<![G-Zg-z_]:)(?<![G-Zg-z_][A-Za-z]:)(?<![G-Zg-z_][A-Za-z]{2}:)(?<![Vv]6:)[0-9A-Fa-f:])"
        r"[0-9A-Fa-f:]{1,38}(?!\w|:[\w:]|\.[0-9])",
        _A, r"[0-9A-Fa-f]::|::[0-9A-Fa-f]|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]", _accept_ipv6, 3, 0,
    ),
    (
        "ipv4", "pii", "IPv4 address (valid octets, not a version string)",
        _start("[0-9]", r"[\w.-]") + r"[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w-]|\.[0-9])",
        _A, None, _accept_ipv4, 7, 0,
    ),
    ("phone", "pii", "phone number: +CC international, BR/US/FR/DE national layouts, or after a keyword",
     _PHONE, _A, None, _accept_phone_after_keyword_or_layout, 7, "v"),
]  # fmt: skip

DETECTOR_ORDER = (
    "email", "phone", "card", "cpf", "cnpj", "iban", "ipv4", "ipv6", "us_ssn", "openai_key", "anthropic_key",
    "aws_access_key", "github_token", "google_api_key", "slack_token", "stripe_key", "huggingface_token", "jwt",
    "bearer_token", "basic_auth", "private_key",
)  # fmt: skip
"""User-facing order (docs, ``DETECTORS``)."""


_ALPHABETS = {"email": r"[\w.%+@-]"}


def _build() -> dict[str, Builtin]:
    out: dict[str, Builtin] = {}
    for name, category, description, pattern, flags, prefilter, accept, min_len, group in _BUILTINS_SPEC:
        info = DetectorInfo(name, f"<{name.upper()}>", category, description)
        branches = (pattern,) if isinstance(pattern, str) else pattern
        out[name] = Builtin(
            info=info,
            exact=tuple(re.compile(p, flags) for p in branches),
            prefilter=prefilter if prefilter is not None else "|".join(strip_lookarounds(p) for p in branches),
            min_len=min_len,
            accept=accept,
            group=group,
            alphabet=_ALPHABETS.get(name),
        )
    return out


BUILTIN: dict[str, Builtin] = _build()
"""Built-ins in overlap priority order: when two findings overlap, the earlier detector here wins."""

DETECTORS: dict[str, DetectorInfo] = {name: BUILTIN[name].info for name in DETECTOR_ORDER}
"""Every built-in detector, in a stable user-facing order."""
