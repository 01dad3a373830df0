"""otelcol's configgrpc tuning keys on this daemon's gRPC servers and channels: keepalive (server
parameters and enforcement policy on the receiver, client keepalive on exporters) and `balancer_name`,
as grpc core channel arguments. gRPC Go's `read_buffer_size` / `write_buffer_size` have no grpc core
equivalent: they are accepted and named by a start-up warning (`BUFFER_SIZE_REASON`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Duration, Invalid, option

BUFFER_SIZE_REASON = "gRPC Go's per-connection buffer size; Python's gRPC core sizes its own buffers"


def _ms(value: Duration) -> int:
    return int(round(float(value) * 1000))


@dataclass
class KeepaliveServerParameters:
    max_connection_idle: Duration | None = option(None, "Close a connection idle (no RPC) this long (grpc.max_connection_idle_ms). Unset: never.")
    max_connection_age: Duration | None = option(None, "Close a connection this old, gracefully (grpc.max_connection_age_ms). Unset: never.")
    max_connection_age_grace: Duration | None = option(None, "After max_connection_age, time allowed for RPCs in progress (grpc.max_connection_age_grace_ms). Unset: no limit.")
    time: Duration | None = option(None, "Ping a client after this long without activity (grpc.keepalive_time_ms). Unset: gRPC's 2h.")
    timeout: Duration | None = option(None, "Close the connection when a ping is not answered within this (grpc.keepalive_timeout_ms). Unset: gRPC's 20s.")


@dataclass
class KeepaliveEnforcementPolicy:
    min_time: Duration | None = option(None, "Least time between a client's pings; more frequent ones end the connection (grpc.http2.min_recv_ping_interval_without_data_ms). Unset: gRPC's 5m.")
    permit_without_stream: bool = option(False, "Allow a client's pings when it has no RPC open (grpc.keepalive_permit_without_calls).")


@dataclass
class ServerKeepaliveConfig:
    server_parameters: KeepaliveServerParameters | None = option(None, "The server's side of keepalive.")
    enforcement_policy: KeepaliveEnforcementPolicy | None = option(None, "What the server allows of clients' pings.")

    def options(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        server = self.server_parameters
        if server is not None:
            for value, arg in ((server.max_connection_idle, "grpc.max_connection_idle_ms"), (server.max_connection_age, "grpc.max_connection_age_ms"),
                               (server.max_connection_age_grace, "grpc.max_connection_age_grace_ms"), (server.time, "grpc.keepalive_time_ms"),
                               (server.timeout, "grpc.keepalive_timeout_ms")):
                if value is not None:
                    out.append((arg, _ms(value)))
        policy = self.enforcement_policy
        if policy is not None:
            if policy.min_time is not None:
                out.append(("grpc.http2.min_recv_ping_interval_without_data_ms", _ms(policy.min_time)))
            out.append(("grpc.keepalive_permit_without_calls", int(policy.permit_without_stream)))
        return out


@dataclass
class ClientKeepaliveConfig:
    time: Duration | None = option(None, "Ping the server after this long without activity (grpc.keepalive_time_ms). Unset: no pings.")
    timeout: Duration | None = option(None, "Reconnect when a ping is not answered within this (grpc.keepalive_timeout_ms). Unset: gRPC's 20s.")
    permit_without_stream: bool = option(False, "Ping also when no RPC is open (grpc.keepalive_permit_without_calls).")

    def options(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if self.time is not None:
            out.append(("grpc.keepalive_time_ms", _ms(self.time)))
        if self.timeout is not None:
            out.append(("grpc.keepalive_timeout_ms", _ms(self.timeout)))
        out.append(("grpc.keepalive_permit_without_calls", int(self.permit_without_stream)))
        return out


BALANCERS = ("pick_first", "round_robin")


def check_balancer(name: str | None) -> None:
    if name is not None and name not in BALANCERS:
        raise Invalid(f"expected one of {', '.join(BALANCERS)}, got {name!r}", "balancer_name")
