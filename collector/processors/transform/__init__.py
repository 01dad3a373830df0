"""transform processor: otelcol-contrib's transformprocessor, OTTL statements run over every item of their
context (collector/ottl/). config.py decodes and compiles the statement groups; processor.py runs them."""

from .config import TransformConfig
from .processor import TransformProcessor

__all__ = ["TransformConfig", "TransformProcessor"]
