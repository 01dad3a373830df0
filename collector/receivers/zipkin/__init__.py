"""otelcol's zipkin receiver: receiver.py (config and the HTTP server), model.py (Zipkin v2 JSON and protobuf
bodies decoded as zipkin-go does), translate.py (Zipkin spans to OTLP as contrib's zipkinv2 translator),
proto/ (zipkin-api's protobuf messages)."""
