"""Checks of the files named by a TLS config, when `run` loads the config, so the error names the key and
the file instead of OpenSSL's `[SSL] PEM lib (_ssl.c:...)`. `validate` does not open them, as otelcol's
does not (config.typed.opens_files): a config validated on a laptop passes there.

Shared by the receiver's server TLS and the exporters' client TLS. Never shows a file's content: a key file
holds a secret.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from .config import Invalid
from .config.typed import opens_files

# What a PEM file of each kind must contain (RFC 7468 labels).
_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----",
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise Invalid(f"file not found: {path}", key) from None
    except IsADirectoryError:
        raise Invalid(f"{path} is a directory, expected a PEM file", key) from None
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror or exc}", key) from None


def check_file(path: str, key: str) -> None:
    """`path` is a file (and nothing more is checked)."""
    if opens_files() and not Path(path).is_file():
        raise Invalid(f"file not found: {path}", key)


def check_certificates(path: str, key: str) -> None:
    """`path` holds at least one PEM certificate that OpenSSL accepts (a certificate or a CA bundle)."""
    if not opens_files():
        return
    if _CERTIFICATE not in _read(path, key):
        raise Invalid(f"{path} holds no PEM certificate (expected a '-----BEGIN CERTIFICATE-----' block)", key)
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise Invalid(f"{path}: OpenSSL cannot load the certificates ({exc.reason or 'bad PEM'})", key) from None


def check_key_pair(cert_file: str, key_file: str, cert_key: str = "cert_file", key_key: str = "key_file") -> None:
    """`cert_file` is a PEM certificate (its chain may follow) and `key_file` its unencrypted private key."""
    if not opens_files():
        return
    check_certificates(cert_file, cert_key)
    content = _read(key_file, key_key)
    if not any(label in content for label in _PRIVATE_KEY):
        raise Invalid(f"{key_file} holds no PEM private key (expected a '-----BEGIN PRIVATE KEY-----' block)", key_key)
    if b"ENCRYPTED" in content.split(b"-----END", 1)[0]:
        raise Invalid(f"{key_file} is an encrypted private key; the daemon cannot prompt for a passphrase", key_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(cert_file, key_file, password=b"")
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise Invalid(f"{key_file} is not the private key of the certificate in {cert_file}", key_key) from None
        raise Invalid(f"{key_file}: OpenSSL cannot load the key pair ({exc.reason or 'bad PEM'})", key_key) from None
