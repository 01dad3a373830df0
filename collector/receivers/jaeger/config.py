"""The `jaeger` receiver's settings, with otelcol-contrib's keys (receiver/jaegerreceiver/config.go): `protocols`
with `grpc`, `thrift_http`, `thrift_compact` and `thrift_binary`, each on when its key is present, and
`remote_sampling`, accepted as the no-op it is in otelcol.

otelcol binds `localhost` on the Jaeger ports (14250, 14268, 6831, 6832); the defaults here bind 127.0.0.1
on the same ports, as the otlp receiver does on 4317/4318: accepting from other hosts is asked for with an
explicit address such as 0.0.0.0:14250."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import ByteSize, Duration, Endpoint, Invalid, option
from ...grpc_options import BUFFER_SIZE_REASON, ServerKeepaliveConfig
from ...serverlimits import ServerLimits
from ..security import TLSConfig

REMOTE_SAMPLING_REASON = ("otelcol's remote_sampling is a deprecated no-op there too (its jaegerremotesampling extension serves "
                          "sampling strategies; this daemon has none)")


@dataclass
class GRPCConfig:
    endpoint: Endpoint = option(Endpoint("127.0.0.1:14250"), "Address of the api_v2 CollectorService; use 0.0.0.0:14250 to accept from other hosts.")
    max_recv_msg_size_mib: int = option(16, "Largest accepted PostSpans request in MiB.")
    max_concurrent_streams: int = option(0, "Limit on concurrent RPCs per connection; 0 = gRPC's default.")
    tls: TLSConfig | None = option(None, "Serve TLS; with client_ca_file, require client certificates (mTLS).")
    keepalive: ServerKeepaliveConfig | None = option(None, "otelcol's keepalive: server_parameters and enforcement_policy, as gRPC core arguments.")
    include_metadata: bool = option(True, "Carry the request's metadata with its data (for batch's metadata_keys). otelcol's default is false; here it is on unless set to false.")
    read_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")
    write_buffer_size: ByteSize | None = option(None, f"No effect here: {BUFFER_SIZE_REASON} (a start-up warning says so).")

    def validate(self) -> None:
        if self.max_recv_msg_size_mib <= 0:
            raise Invalid("must be a positive number of MiB", "max_recv_msg_size_mib")


@dataclass
class ThriftHTTPConfig(ServerLimits):
    endpoint: Endpoint = option(Endpoint("127.0.0.1:14268"), "Address of the collector's HTTP endpoint (POST /api/traces); use 0.0.0.0:14268 to accept from other hosts.")
    max_request_body_size: ByteSize = option(ByteSize(20 * 2**20), "Largest accepted body, checked both as sent and after decompression.")
    tls: TLSConfig | None = option(None, "Serve HTTPS; with client_ca_file, require client certificates (mTLS).")
    read_timeout: Duration = option(Duration(0.0), "otelcol: the longest a whole request may take to arrive; then 408. 0 = no limit.")
    read_header_timeout: Duration = option(Duration(60.0), "otelcol: the longest a request head may take to arrive; then the connection is closed. 0 = read_timeout's value.")
    write_timeout: Duration = option(Duration(30.0), "otelcol: the longest from a request's head to its response written; then the connection is closed. 0 = no limit.")
    idle_timeout: Duration = option(Duration(60.0), "otelcol: how long a keep-alive connection may wait for its next request. 0 = read_timeout's value.")
    include_metadata: bool = option(True, "Carry the request's headers with its data (for batch's metadata_keys). otelcol's default is false; here it is on unless set to false.")
    max_connections: int = option(0, "Open connections kept (not in otelcol), as the otlp receiver's http.max_connections. 0 = derived from the open-file limit.")

    def validate(self) -> None:
        if self.max_connections < 0:
            raise Invalid("must be 0 (derived from the open-file limit) or a positive number", "max_connections")


@dataclass
class UDPConfig:
    """otelcol's ProtocolUDP: the endpoint and ServerConfigUDP, with its defaults."""

    endpoint: Endpoint = option(Endpoint("127.0.0.1:6831"), "Address of the agent port; use 0.0.0.0:6831 to accept from other hosts.")
    queue_size: int = option(1000, "Datagrams received and not yet handled; one arriving when the queue is full is dropped and counted.")
    max_packet_size: int = option(65000, "Largest datagram handled; a longer one is dropped and counted.")
    workers: int = option(10, "Datagrams decoded and pushed into the pipeline at once.")
    socket_buffer_size: int = option(0, "The socket's receive buffer (SO_RCVBUF) in bytes; 0 = the system's default.")

    def validate(self) -> None:
        for key in ("queue_size", "max_packet_size", "workers"):
            if getattr(self, key) <= 0:
                raise Invalid("must be a positive number", key)
        if self.socket_buffer_size < 0:
            raise Invalid("must be 0 (the system's default) or a positive number of bytes", "socket_buffer_size")


@dataclass
class BinaryUDPConfig(UDPConfig):
    endpoint: Endpoint = option(Endpoint("127.0.0.1:6832"), "Address of the agent port; use 0.0.0.0:6832 to accept from other hosts.")


PROTOCOLS = ("grpc", "thrift_http", "thrift_compact", "thrift_binary")


@dataclass
class ProtocolsConfig:
    grpc: GRPCConfig | None = option(None, "gRPC api_v2 `CollectorService.PostSpans` (Jaeger clients' and agents' collector protocol), on 14250.")
    thrift_http: ThriftHTTPConfig | None = option(None, "Thrift over HTTP: `POST /api/traces` with a Batch in TBinaryProtocol (application/x-thrift), on 14268.")
    thrift_compact: UDPConfig | None = option(None, "The agent's UDP port for `emitBatch` in TCompactProtocol (what Jaeger clients send by default), on 6831.")
    thrift_binary: BinaryUDPConfig | None = option(None, "The agent's UDP port for `emitBatch` in TBinaryProtocol, on 6832.")

    @classmethod
    def from_config(cls, decoder: Any, value: Any, path: tuple) -> ProtocolsConfig:
        # As in otelcol (Config.Unmarshal), a protocol is on when its key is present, even with no value under it.
        if value is None:
            value = {}
        if not isinstance(value, dict):
            decoder.error(path, f"expected a mapping with {', '.join(PROTOCOLS)}")
            return cls()
        for key in value:
            if key not in PROTOCOLS:
                decoder.error(path + (key,), f"unknown protocol (valid keys: {', '.join(PROTOCOLS)})")
        types: dict[str, type] = {"grpc": GRPCConfig, "thrift_http": ThriftHTTPConfig, "thrift_compact": UDPConfig, "thrift_binary": BinaryUDPConfig}
        out = cls(**{key: decoder.decode(tp, value[key], path + (key,)) for key, tp in types.items() if key in value})
        if not any(getattr(out, key) is not None for key in PROTOCOLS):
            decoder.error(path, "must specify at least one protocol when using the Jaeger receiver")
        return out


@dataclass
class JaegerReceiverConfig:
    protocols: ProtocolsConfig = option(doc="`grpc`, `thrift_http`, `thrift_compact` and/or `thrift_binary`; at least one (otelcol refuses a jaeger receiver without `protocols`).")
    remote_sampling: dict[str, Any] | None = option(None, f"Accepted with otelcol's keys (host_endpoint, strategy_file, ...). No effect: {REMOTE_SAMPLING_REASON} (a start-up warning says so).")
