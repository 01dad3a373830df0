"""The `file_log` receiver (otelcol-contrib's filelog receiver, older spelling `filelog`): tails log
files and parses their lines with stanza's operators into OTLP logs.

Modules: `config` (the receiver's keys), `fileconsumer` (matching, fingerprints, offsets, reading),
`split` (cutting bytes into entries: newlines, multiline, max_log_size), `entry` (the entry model and
its field paths, the conversion to OTLP), `operators` (json_parser, regex_parser, container, move,
remove, add), `receiver` (the component)."""

from .receiver import FileLogReceiver

__all__ = ["FileLogReceiver"]
