"""PII and secret detection for the ``redaction`` processor: validators, built-in detectors, the scanner and
the per-detector rules it runs (``rules``)."""

from collector.pii.detectors import DETECTORS, DetectorInfo
from collector.pii.scanner import CustomPattern, Finding, Scanner, available_engines
from collector.pii.validators import VALIDATORS, cnpj, cpf, iban, luhn, us_ssn

__all__ = [
    "DETECTORS",
    "VALIDATORS",
    "CustomPattern",
    "DetectorInfo",
    "Finding",
    "Scanner",
    "available_engines",
    "cnpj",
    "cpf",
    "iban",
    "luhn",
    "us_ssn",
]
