"""Jaeger's api_v2 protobuf messages and CollectorService, generated from api_v2.proto (see regenerate.py): what the
jaeger exporter posts and the jaeger receiver serves."""
