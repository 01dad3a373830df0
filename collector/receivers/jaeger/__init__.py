"""The `jaeger` receiver (otelcol-contrib's jaegerreceiver): Jaeger spans over gRPC api_v2, Thrift over HTTP and
the agent's UDP ports, translated to OTLP. receiver.py registers it; config.py holds its settings; one module per
transport (collector_grpc.py, collector_http.py, agent_udp.py); thrift.py reads the Thrift wire formats and
translate.py maps Jaeger's model onto OTLP."""
