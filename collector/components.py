"""The built-in components. Importing this module registers them all."""

from .exporters import debug, file  # noqa: F401
from .exporters import otlp as otlp_exporter, otlphttp  # noqa: F401
from .exporters import jaeger  # noqa: F401
from .exporters import elasticsearch  # noqa: F401
from .extensions import health_check  # noqa: F401
from .extensions import file_storage  # noqa: F401
from .processors import batch, cost, memory_limiter, tailsampling, token_count  # noqa: F401
from .processors import redaction  # noqa: F401
from .receivers import otlp  # noqa: F401
