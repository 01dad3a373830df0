"""The zpages extension (otelcol's extension/zpagesextension): live HTML pages of the service, its pipelines
with each component's counters, its extensions and feature gates, under /debug/. extension.py holds the
config and the HTTP server, pages.py renders the pages."""
