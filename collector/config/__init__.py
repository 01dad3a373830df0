"""Configuration: otelcol-shaped YAML, typed per component, with file:line errors."""

from .model import ComponentConfig, Config, Pipeline, default_config_path, load_config
from .source import ConfigError, ConfigErrors, Location
from .typed import ByteSize, Duration, Endpoint, Invalid, option

__all__ = [
    "ByteSize",
    "ComponentConfig",
    "Config",
    "ConfigError",
    "ConfigErrors",
    "Duration",
    "Endpoint",
    "Invalid",
    "Location",
    "Pipeline",
    "default_config_path",
    "load_config",
    "option",
]
