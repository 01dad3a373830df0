"""Connectors through the running daemon."""
