"""A labelled PII/secret corpus of LLM-style prompts, generated with Faker (pt_BR, en_US, de_DE, fr_FR).

Each item is a prompt with 1-3 labelled PII/secret values (the exact substring and the detector that should
catch it) and 1-3 labelled look-alikes (order numbers, dates, money, UUIDs, trace/span ids, versions, model
names, token counts, numbers that fail Luhn/CPF, ...) that must survive redaction. Seeded and deterministic.

Check digits here are computed by code written independently of ``collector.pii.validators``, so a shared
mistake cannot make the corpus agree with the scanner by construction.

Labelling decisions (the same ones the detectors document):
- phones are Faker's ``phone_number()`` in each locale; national numbers Faker prints as bare digits
  (de_DE ``03012345678``, fr_FR ``0232781286``) are written after a phone word ("Tel.:", "telefone"), the way
  they appear in real prompts -- without one they are indistinguishable from order numbers;
- SSNs are drawn over the whole ddd-dd-dddd space (not Faker's, which only emits valid ones); those that
  break the SSA rules (area 000/666/9xx, group 00, serial 0000) are not SSNs and are redrawn.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from dataclasses import dataclass

from faker import Faker

LOCALES = ("pt_BR", "en_US", "de_DE", "fr_FR")
SEED = 20260521


@dataclass(frozen=True)
class Item:
    text: str
    locale: str
    pii: tuple[tuple[str, str], ...]  # (detector, exact substring)
    lookalikes: tuple[tuple[str, str], ...]  # (kind, exact substring)


# ------------------------------------------------------------------------------- independent checksums


def _luhn_sum(digits: str) -> int:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total


def luhn_ok(digits: str) -> bool:
    return _luhn_sum(digits) % 10 == 0


def _mod11(values: list[int], weights: list[int]) -> int:
    r = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if r < 2 else 11 - r


def cpf_digits(body9: str) -> str:
    v = [int(c) for c in body9]
    d1 = _mod11(v, list(range(10, 1, -1)))
    return body9 + str(d1) + str(_mod11(v + [d1], list(range(11, 1, -1))))


def cnpj_digits(body12: str) -> str:
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    v = [ord(c) - 48 for c in body12]
    d1 = _mod11(v, w1)
    return body12 + str(d1) + str(_mod11(v + [d1], [6] + w1))


def ssn_ok(ssn: str) -> bool:
    area, group, serial = ssn.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


# ------------------------------------------------------------------------------------------ PII values

_B64URL = string.ascii_letters + string.digits + "-_"
_ALNUM = string.ascii_letters + string.digits


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _group(s: str, sep: str, size: int = 4) -> str:
    return sep.join(s[i : i + size] for i in range(0, len(s), size))


def _card(fake: Faker, rng: random.Random) -> str:
    number = fake.credit_card_number()
    style = rng.random()
    if style < 0.5:
        return number
    sep = " " if style < 0.8 else "-"
    if len(number) == 15 and number[:2] in ("34", "37"):
        return f"{number[:4]}{sep}{number[4:10]}{sep}{number[10:]}"
    return _group(number, sep)


def _cpf(fake: Faker, rng: random.Random) -> str:
    d = cpf_digits("".join(rng.choice(string.digits) for _ in range(9)))
    if len(set(d)) == 1:
        return _cpf(fake, rng)
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}" if rng.random() < 0.6 else d


def _cnpj(fake: Faker, rng: random.Random) -> str:
    if rng.random() < 0.5:
        body = "".join(rng.choice(string.digits) for _ in range(8)) + "0001"
    else:  # 2026 alphanumeric
        body = "".join(rng.choice(string.digits + string.ascii_uppercase) for _ in range(12))
    d = cnpj_digits(body)
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}" if rng.random() < 0.6 else d


def _iban(fake: Faker, rng: random.Random) -> str:
    value = fake.iban()
    return _group(value, " ") if rng.random() < 0.5 else value


def _phone(fake: Faker, rng: random.Random) -> str:
    return fake.phone_number()


def _ipv4(fake: Faker, rng: random.Random) -> str:
    return fake.ipv4_private() if rng.random() < 0.4 else fake.ipv4_public()


def _ipv6(fake: Faker, rng: random.Random) -> str:
    value = fake.ipv6()
    if rng.random() < 0.5:
        groups = value.split(":")
        k = rng.randrange(1, 6)
        groups[k : k + rng.randint(2, 3)] = ["0", "0"]
        value = str(ipaddress.IPv6Address(":".join(groups + ["0"] * (8 - len(groups)))))
    return value


def _ssn(fake: Faker, rng: random.Random) -> str:
    while True:
        value = f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if ssn_ok(value):
            return value if rng.random() < 0.85 else value.replace("-", " ")


def _email(fake: Faker, rng: random.Random) -> str:
    return rng.choice((fake.email, fake.free_email, fake.company_email))()


def _openai(fake: Faker, rng: random.Random) -> str:
    kind = rng.choice(("proj", "svcacct", "admin", "legacy"))
    if kind == "legacy":
        return "sk-" + _rand(rng, _ALNUM, 20) + "T3BlbkFJ" + _rand(rng, _ALNUM, 20)
    return f"sk-{kind}-" + _rand(rng, _B64URL, rng.randint(58, 74)) + "T3BlbkFJ" + _rand(rng, _B64URL, 74)


def _anthropic(fake: Faker, rng: random.Random) -> str:
    return "sk-ant-api03-" + _rand(rng, _B64URL, 93) + "AA"


def _aws(fake: Faker, rng: random.Random) -> str:
    return rng.choice(("AKIA", "ASIA")) + _rand(rng, string.ascii_uppercase + "234567", 16)


def _github(fake: Faker, rng: random.Random) -> str:
    if rng.random() < 0.25:
        return "github_pat_" + _rand(rng, _ALNUM, 22) + "_" + _rand(rng, _ALNUM, 59)
    return rng.choice(("ghp", "gho", "ghu", "ghs", "ghr")) + "_" + _rand(rng, _ALNUM, 36)


def _google(fake: Faker, rng: random.Random) -> str:
    return "AIza" + _rand(rng, _B64URL, 35)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(fake: Faker, rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": fake.uuid4(), "email": fake.email(), "iat": rng.randint(1_600_000_000, 1_800_000_000)}).encode())
    return f"{header}.{payload}.{_rand(rng, _B64URL, 43)}"


def _bearer(fake: Faker, rng: random.Random) -> str:
    return _rand(rng, _ALNUM + "-._~", rng.randint(24, 48)) + rng.choice(("1", "Z"))


def _basic(fake: Faker, rng: random.Random) -> str:
    return base64.b64encode(f"{fake.user_name()}:{fake.password()}".encode()).decode()


def _private_key(fake: Faker, rng: random.Random) -> str:
    kind = rng.choice(("RSA ", "EC ", "", "OPENSSH "))
    body = "\n".join(_rand(rng, _ALNUM + "+/", 64) for _ in range(rng.randint(2, 6)))
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    return block.replace("\n", "\\n") if rng.random() < 0.3 else block


def _slack(fake: Faker, rng: random.Random) -> str:
    return f"xoxb-{rng.randint(10**10, 10**12)}-{rng.randint(10**10, 10**12)}-{_rand(rng, _ALNUM, 24)}"


def _stripe(fake: Faker, rng: random.Random) -> str:
    return rng.choice(("sk_live_", "rk_live_", "sk_test_")) + _rand(rng, _ALNUM, 24)


GENERATORS = {
    "email": _email, "phone": _phone, "card": _card, "cpf": _cpf, "cnpj": _cnpj, "iban": _iban,
    "ipv4": _ipv4, "ipv6": _ipv6, "us_ssn": _ssn, "openai_key": _openai, "anthropic_key": _anthropic,
    "aws_access_key": _aws, "github_token": _github, "google_api_key": _google, "jwt": _jwt,
    "bearer_token": _bearer, "basic_auth": _basic, "private_key": _private_key, "slack_token": _slack,
    "stripe_key": _stripe,
}  # fmt: skip

# How a value is introduced, per language. {v} is the value.
LABELS = {
    "pt": {
        "email": ["meu e-mail é {v}", "mande para {v}", "email: {v}"],
        "phone": ["meu telefone é {v}", "ligue no {v}", "celular {v}", "WhatsApp: {v}"],
        "card": ["o cartão {v} foi recusado", "cartão de crédito: {v}", "paguei com {v}"],
        "cpf": ["meu CPF é {v}", "CPF: {v}", "o titular (CPF {v})"],
        "cnpj": ["CNPJ da empresa: {v}", "emitida para o CNPJ {v}"],
        "iban": ["transferi para a conta {v}", "IBAN {v}"],
        "ipv4": ["o servidor {v} não responde", "acesso a partir do IP {v}"],
        "ipv6": ["o endereço {v} caiu", "IPv6: {v}"],
        "us_ssn": ["o SSN do cliente americano é {v}"],
        "secret": ["a chave é {v}", "usei a credencial {v} no script", "token={v}"],
        "bearer_token": ["o header é Authorization: Bearer {v}", "curl -H 'Authorization: Bearer {v}'"],
        "basic_auth": ["Authorization: Basic {v}"],
        "private_key": ["segue a chave privada:\n{v}\n"],
    },
    "en": {
        "email": ["my email is {v}", "send it to {v}", "contact: {v}"],
        "phone": ["my phone number is {v}", "call me at {v}", "phone: {v}"],
        "card": ["my card {v} was declined", "card number: {v}", "I paid with {v}"],
        "cpf": ["the Brazilian CPF is {v}"],
        "cnpj": ["their CNPJ is {v}"],
        "iban": ["wire it to {v}", "IBAN: {v}"],
        "ipv4": ["the host {v} is down", "login from {v}"],
        "ipv6": ["the address {v} is unreachable", "IPv6 {v}"],
        "us_ssn": ["my SSN is {v}", "SSN: {v}", "social security number {v}"],
        "secret": ["the key is {v}", "I exported {v} in my shell", "api_key={v}"],
        "bearer_token": ["the header is Authorization: Bearer {v}", "curl -H \"Authorization: Bearer {v}\""],
        "basic_auth": ["Authorization: Basic {v}"],
        "private_key": ["here is the private key:\n{v}\n"],
    },
    "de": {
        "email": ["meine E-Mail ist {v}", "schreiben Sie an {v}"],
        "phone": ["meine Telefonnummer ist {v}", "rufen Sie mich an: Tel. {v}", "Handy {v}"],
        "card": ["die Karte {v} wurde abgelehnt", "Kartennummer: {v}"],
        "cpf": ["die CPF lautet {v}"],
        "cnpj": ["CNPJ: {v}"],
        "iban": ["überweisen Sie auf {v}", "IBAN: {v}"],
        "ipv4": ["der Server {v} antwortet nicht"],
        "ipv6": ["die Adresse {v} ist weg"],
        "us_ssn": ["SSN {v}"],
        "secret": ["der Schlüssel ist {v}", "API_KEY={v}"],
        "bearer_token": ["Header: Authorization: Bearer {v}"],
        "basic_auth": ["Authorization: Basic {v}"],
        "private_key": ["hier der private Schlüssel:\n{v}\n"],
    },
    "fr": {
        "email": ["mon e-mail est {v}", "écrivez à {v}"],
        "phone": ["mon numéro de téléphone est {v}", "appelez-moi au {v}", "Tél. portable : {v}"],
        "card": ["la carte {v} a été refusée", "numéro de carte : {v}"],
        "cpf": ["le CPF est {v}"],
        "cnpj": ["le CNPJ est {v}"],
        "iban": ["virement vers {v}", "IBAN : {v}"],
        "ipv4": ["le serveur {v} ne répond plus"],
        "ipv6": ["l'adresse {v} est injoignable"],
        "us_ssn": ["le SSN est {v}"],
        "secret": ["la clé est {v}", "export API_KEY={v}"],
        "bearer_token": ["en-tête Authorization: Bearer {v}"],
        "basic_auth": ["Authorization: Basic {v}"],
        "private_key": ["voici la clé privée :\n{v}\n"],
    },
}

PHONE_WORD = {"pt": "telefone {v}", "en": "Tel.: {v}", "de": "Tel.: {v}", "fr": "Tél. : {v}"}

OPENERS = {
    "pt": ["Olá! Preciso de ajuda.", "Bom dia, tudo bem?", "Oi, pode resumir isto para mim?", "Assistente, analise o caso:"],
    "en": ["Hi! I need help.", "Please summarise the following.", "You are a support agent. Customer says:", "Hello,"],
    "de": ["Hallo, ich brauche Hilfe.", "Bitte fassen Sie zusammen:", "Guten Tag,"],
    "fr": ["Bonjour, j'ai besoin d'aide.", "Résumez ceci, s'il vous plaît :", "Salut,"],
}

MODELS = ["gpt-4o-2024-08-06", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "claude-3-haiku-20240307",
          "gemini-1.5-pro-002", "o1-preview-2024-09-12", "llama-3.1-70b-instruct", "mistral-large-2407"]  # fmt: skip


# --------------------------------------------------------------------------------------- look-alikes


def _luhn_failing(rng: random.Random) -> str:
    while True:
        d = rng.choice("3456") + "".join(rng.choice(string.digits) for _ in range(15))
        if not luhn_ok(d):
            return d


def _cpf_failing(rng: random.Random) -> str:
    while True:
        d = "".join(rng.choice(string.digits) for _ in range(11))
        if cpf_digits(d[:9]) != d:
            return d


def _lookalike(fake: Faker, rng: random.Random, lang: str) -> tuple[str, str, str]:
    """(kind, value, sentence with {v})."""
    kind = rng.choice(
        ("order", "date", "money", "uuid", "trace_id", "span_id", "version", "model", "tokens", "luhn_fail",
         "cpf_fail", "time", "postcode", "percent", "sha256")
    )  # fmt: skip
    if kind == "order":
        v = rng.choice(("#", "PED-", "ORD-", "", "nº ")) + str(rng.randint(10**5, 10**10))
    elif kind == "date":
        d = fake.date_object()
        v = rng.choice((d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%d.%m.%Y"), d.strftime("%m/%d/%Y")))
    elif kind == "money":
        v = rng.choice((fake.pricetag(), f"R$ {rng.randint(1, 99)}.{rng.randint(100, 999)},{rng.randint(10, 99)}",
                        f"${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(10, 99)}"))  # fmt: skip
    elif kind == "uuid":
        v = fake.uuid4()
    elif kind == "trace_id":
        v = fake.hexify("^" * 32)
    elif kind == "span_id":
        v = fake.hexify("^" * 16)
    elif kind == "version":
        v = rng.choice((f"{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
                        f"v{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}"))  # fmt: skip
    elif kind == "model":
        v = rng.choice(MODELS)
    elif kind == "tokens":
        v = str(rng.randint(1, 200_000))
    elif kind == "luhn_fail":
        v = _luhn_failing(rng)
    elif kind == "cpf_fail":
        v = _cpf_failing(rng)
    elif kind == "time":
        v = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    elif kind == "postcode":
        v = fake.postcode()
    elif kind == "percent":
        v = f"{rng.randint(0, 100)}.{rng.randint(0, 99)}%"
    else:
        v = fake.sha256()
    sentence = {
        "pt": "(ref: {v})", "en": "(ref: {v})", "de": "(Ref.: {v})", "fr": "(réf. : {v})",
    }[lang] if rng.random() < 0.5 else "— {v} —"  # fmt: skip
    return kind, v, sentence


# -------------------------------------------------------------------------------------------- corpus

SECRETS = {"openai_key", "anthropic_key", "aws_access_key", "github_token", "google_api_key", "jwt",
           "slack_token", "stripe_key"}  # fmt: skip
LOCALE_DETECTORS = {
    "pt_BR": ["email", "phone", "card", "cpf", "cpf", "cnpj", "cnpj", "iban", "ipv4", "ipv6"],
    "en_US": ["email", "phone", "card", "us_ssn", "us_ssn", "iban", "ipv4", "ipv6"],
    "de_DE": ["email", "phone", "card", "iban", "iban", "ipv4", "ipv6"],
    "fr_FR": ["email", "phone", "card", "iban", "iban", "ipv4", "ipv6"],
}
ALL_SECRETS = sorted(SECRETS) + ["bearer_token", "basic_auth", "private_key"]


def generate(n: int = 2000, seed: int = SEED) -> list[Item]:
    rng = random.Random(seed)
    fakers = {}
    for i, loc in enumerate(LOCALES):
        f = Faker(loc)
        f.seed_instance(seed + i)
        fakers[loc] = f
    items = []
    for _ in range(n):
        loc = rng.choice(LOCALES)
        fake = fakers[loc]
        lang = loc[:2]
        labels = LABELS[lang]
        parts = [rng.choice(OPENERS[lang])]
        pii = []
        for _ in range(rng.randint(1, 3)):
            det = rng.choice(ALL_SECRETS) if rng.random() < 0.3 else rng.choice(LOCALE_DETECTORS[loc])
            value = GENERATORS[det](fake, rng)
            template = rng.choice(labels["secret" if det in SECRETS else det])
            if det == "phone" and value.isdigit():
                template = PHONE_WORD[lang]
            parts.append(template.format(v=value) + rng.choice((".", ",", "!", ";", "", "\n")))
            pii.append((det, value))
            if rng.random() < 0.5:
                parts.append(fake.sentence())
        lookalikes = []
        for _ in range(rng.randint(1, 3)):
            kind, value, sentence = _lookalike(fake, rng, lang)
            parts.append(sentence.format(v=value))
            lookalikes.append((kind, value))
        if rng.random() < 0.3:
            parts.append(f"model={rng.choice(MODELS)} tokens={rng.randint(10, 9000)}")
        items.append(Item(" ".join(parts), loc, tuple(pii), tuple(lookalikes)))
    return items


if __name__ == "__main__":  # a quick look: python -m tests.pii_corpus
    for item in generate(8):
        print(item.locale, item.pii, item.lookalikes)
        print(item.text, end="\n\n")
