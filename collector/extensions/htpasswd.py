"""Apache htpasswd content, read as otelcol's basicauth reads it (tg123/go-htpasswd with DefaultSystems):
`user:hash` lines, blank lines skipped, a later line for a user replacing an earlier one, and these hashes:
`$apr1$` and `$1$` (MD5-crypt), `{SHA}` (base64 SHA-1), `{SSHA}` (salted SHA-1), `$2a$`/`$2b$`/`$2y$`
(bcrypt), `$5$`/`$6$` (SHA-crypt) and, last because it takes anything, the password in plain text.

MD5-crypt and the SHA-1 forms are computed here; bcrypt and SHA-crypt by the system's libcrypt (libxcrypt),
called off the event loop because a bcrypt check takes tens of milliseconds. A user's last good password
is remembered (as a SHA-256 of it), so a client that authenticates every request pays that once.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import threading
from collections.abc import Callable

Matcher = Callable[[bytes], bool]
_SLOW_PREFIXES = ("$2a$", "$2b$", "$2y$", "$5$", "$6$")
_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class HtpasswdError(ValueError):
    """A line that cannot be used; the message names the user and the hash scheme, never the hash."""


def parse(text: str) -> tuple[dict[str, tuple[str, Matcher]], list[str]]:
    """user -> (scheme name, matcher), and the problems of the lines left out: a line without a colon, or
    a hash of a known scheme that is malformed (go-htpasswd skips those lines too)."""
    users: dict[str, tuple[str, Matcher]] = {}
    problems = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        user, sep, encoded = line.partition(":")
        if not sep:
            problems.append(f"line {number}: malformed, no colon")
            continue
        try:
            users[user] = _matcher(user, encoded)
        except HtpasswdError as exc:
            problems.append(f"line {number}: {exc}")
    return users, problems


def _matcher(user: str, encoded: str) -> tuple[str, Matcher]:
    if encoded.startswith(("$apr1$", "$1$")):
        magic, _, rest = encoded[1:].partition("$")
        md5_salt, sep, _ = rest.partition("$")
        if not sep:
            raise HtpasswdError(f"user {user}: malformed {magic} hash")
        md5_expected = encoded.encode()
        prefix = f"${magic}$".encode()
        return "md5-crypt", lambda pw: hmac.compare_digest(md5_crypt(pw, md5_salt.encode(), prefix), md5_expected)
    if encoded.startswith("{SHA}"):
        digest = _b64(user, "{SHA}", encoded[5:])
        return "sha", lambda pw: hmac.compare_digest(hashlib.sha1(pw).digest(), digest)
    if encoded.startswith("{SSHA}"):
        decoded = _b64(user, "{SSHA}", encoded[6:])
        if len(decoded) <= 20:
            raise HtpasswdError(f"user {user}: malformed {{SSHA}} hash")
        digest, salt = decoded[:20], decoded[20:]
        return "ssha", lambda pw: hmac.compare_digest(hashlib.sha1(pw + salt).digest(), digest)
    if encoded.startswith(_SLOW_PREFIXES):
        expected = encoded.encode()
        scheme = "bcrypt" if encoded.startswith("$2") else "sha-crypt"
        return scheme, lambda pw: hmac.compare_digest(libcrypt(pw, expected), expected)
    plain = encoded.encode()
    return "plain", lambda pw: hmac.compare_digest(pw, plain)


def is_slow(scheme: str) -> bool:
    return scheme in ("bcrypt", "sha-crypt")


def _b64(user: str, scheme: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise HtpasswdError(f"user {user}: malformed {scheme} hash") from None


def md5_crypt(password: bytes, salt: bytes, magic: bytes) -> bytes:
    """Poul-Henning Kamp's MD5-crypt (`$1$`), and Apache's `$apr1$` variant, which differs only in magic."""
    salt = salt[:8]
    alt = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + magic + salt)
    for i in range(len(password), 0, -16):
        ctx.update(alt[: min(16, i)])
    i = len(password)
    while i:
        ctx.update(b"\x00" if i & 1 else password[:1])
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5()
        step.update(password if i & 1 else final)
        if i % 3:
            step.update(salt)
        if i % 7:
            step.update(password)
        step.update(final if i & 1 else password)
        final = step.digest()
    out = bytearray()
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        out += _to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
    out += _to64(final[11], 2)
    return magic + salt + b"$" + bytes(out)


def _to64(value: int, n: int) -> bytes:
    out = bytearray()
    for _ in range(n):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return bytes(out)


_LIBCRYPT: list[ctypes.CDLL | None] = []
_LIBCRYPT_LOCK = threading.Lock()  # crypt() returns a static buffer


def libcrypt_available() -> bool:
    return _lib() is not None


def _lib() -> ctypes.CDLL | None:
    if not _LIBCRYPT:
        name = ctypes.util.find_library("crypt")
        lib = None
        if name:
            try:
                lib = ctypes.CDLL(name)
                lib.crypt.restype = ctypes.c_char_p
                lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
            except (OSError, AttributeError):
                lib = None
        _LIBCRYPT.append(lib)
    return _LIBCRYPT[0]


def libcrypt(password: bytes, setting: bytes) -> bytes:
    """crypt(3) of `password` with the scheme and salt of `setting`; b"" when it cannot (a NUL in the
    password, an unsupported scheme), which matches no hash."""
    lib = _lib()
    if lib is None or b"\x00" in password:
        return b""
    with _LIBCRYPT_LOCK:
        result = lib.crypt(password, setting)
    return result if result and not result.startswith(b"*") else b""
