"""otelcol's zipkin receiver: receiver.py (config and the HTTP server), model.py (Zipkin v2 JSON and protobuf
bodies decoded as zipkin-go does), translate.py (Zipkin spans to OTLP as contrib's zipkinv2 translator), v1.py (Zipkin v1 JSON to OTLP as
contrib's zipkinv1),
proto/ (zipkin-api's protobuf messages)."""
