"""count connector: otelcol-contrib's connector/countconnector, items counted into metrics. config.py decodes
and compiles the count definitions; connector.py counts."""

from .config import CountConfig
from .connector import CountConnector

__all__ = ["CountConfig", "CountConnector"]
