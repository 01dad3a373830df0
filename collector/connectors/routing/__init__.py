"""routing connector: otelcol-contrib's connector/routingconnector, OTTL routes from one pipeline to others of
the same signal. config.py decodes and compiles the table; connector.py routes; split.py moves items."""

from .config import RoutingConfig
from .connector import RoutingConnector

__all__ = ["RoutingConfig", "RoutingConnector"]
