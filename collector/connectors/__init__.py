"""Connectors: components that are an exporter of some pipelines and a receiver of others (otelcol's
connectors; collector/config/graph.py wires them, collector/component.py's Connector is their base)."""
