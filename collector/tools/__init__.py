"""Tools that ship with the product but are not components: `loadgen` (OTLP load for benchmarks and
tests) and `replay` (a file exporter's output pushed back through the pipelines). The CLI's `loadgen`
and `replay` subcommands run them."""
