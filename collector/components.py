"""The built-in components. Importing this module registers them all."""

from .exporters import (  # noqa: F401
    debug,
    elasticsearch,  # noqa: F401
    file,
    jaeger,  # noqa: F401
    otlphttp,
)
from .exporters import otlp as otlp_exporter  # noqa: F401
from .extensions import (
    basicauth,  # noqa: F401
    bearertokenauth,  # noqa: F401
    file_storage,  # noqa: F401
    health_check,  # noqa: F401
)
from .processors import (  # noqa: F401
    batch,
    cost,
    genai_normalizer,  # noqa: F401
    memory_limiter,
    redaction,  # noqa: F401
    tailsampling,
    token_count,
)
from .receivers import otlp  # noqa: F401
