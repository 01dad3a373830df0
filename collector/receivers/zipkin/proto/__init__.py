"""zipkin-api's protobuf messages (zipkin.proto) and their generated module (regenerate.py)."""
