"""redaction processor: no prompt, completion or attribute carrying a person's identifiers or a credential
leaves the daemon unless the config allows it.

Policy: config.py (what to redact and how: the detectors, otelcol's keys, validation), build.py (what a
config turns into) and otelcol.py (otelcol's redaction processor, key for key: the engine of a config
without `detectors:`). The detectors' engine: walk.py (the Redactor's per-signal walks), gate.py (the
request-level prefilter over wire bytes), json_values.py (inside JSON-string values), edits.py (scan,
edits, summary), scan_batch.py (what a walk collects). For either engine: worker.py (redaction in worker
processes), offload.py (which requests are redacted on the event loop, and the thread for the others).
processor.py is the processor itself and its metrics; importing this package registers it as `redaction`.
"""

from .build import build_redactor, make_hasher
from .config import BlockedValue, DetectorConfig, Detectors, RedactionConfig
from .processor import RedactionProcessor

__all__ = [
    "BlockedValue",
    "DetectorConfig",
    "Detectors",
    "RedactionConfig",
    "RedactionProcessor",
    "build_redactor",
    "make_hasher",
]
