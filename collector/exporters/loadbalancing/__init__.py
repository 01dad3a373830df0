"""The `load_balancing` exporter (otelcol's `loadbalancing`): spreads spans, logs and metrics over a set of
backends by a routing key on otelcol's consistent-hash ring, so that every span of a trace reaches the same
collector (and its tail_sampling).

Modules: `config` (otelcol's keys), `ring` (the hash ring, position for position as otelcol's
consistent_hashing.go), `resolvers` (static, dns and k8s backend lists), `exporter` (one otlp_grpc exporter and
queue per backend, re-routing on ring changes and failover). The request is split by owner from its wire bytes
in collector/wire/partition.py.
"""
