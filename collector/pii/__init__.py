"""PII detection helpers for the (future) ``redaction`` processor."""

from collector.pii.validators import VALIDATORS, cnpj, cpf, iban, luhn, us_ssn

__all__ = ["VALIDATORS", "cnpj", "cpf", "iban", "luhn", "us_ssn"]
