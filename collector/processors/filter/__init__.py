"""filter processor: otelcol-contrib's filterprocessor with OTTL conditions (collector/ottl/). config.py
decodes and compiles them; processor.py drops what they match."""

from .config import FilterConfig
from .processor import FilterProcessor

__all__ = ["FilterConfig", "FilterProcessor"]
