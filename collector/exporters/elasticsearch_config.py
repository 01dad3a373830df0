"""The `elasticsearch` exporter's config: otelcol-contrib's exporter/elasticsearchexporter keys (config.go),
with its rules for the endpoint sources (`endpoint`, `endpoints`, `cloudid`, ELASTICSEARCH_URL), index
names and mapping modes. The exporter itself: elasticsearch.py."""

from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import ByteSize, Duration, Invalid, option
from ..exporterhelper import DeliveryConfig
from ..tlsfiles import check_file

# Elasticsearch's index-name rules: lowercase, none of these, not starting with -, _ or +.
_BAD_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z]')
DYNAMIC_INDEX_REASON = "deprecated in otelcol and a no-op there too: documents are always routed by their data_stream.* attributes"
METRICS_REASON = "this exporter takes traces and logs; a metrics pipeline cannot use it, so there is nothing to route"
TLS_INSECURE_REASON = "over HTTP the endpoint's scheme decides (as otelcol's confighttp): http:// is plaintext, https:// is TLS"


def _secret(doc: str) -> Any:
    # Kept out of repr() so a logged or printed config never shows it.
    return field(default="", repr=False, metadata={"doc": doc})


@dataclass
class ElasticsearchTLSConfig:
    ca_file: str | None = option(None, "CA bundle (PEM) the server's certificate must chain to; unset: the system trust store.")
    cert_file: str | None = option(None, "Client certificate (PEM) for mutual TLS; needs key_file.")
    key_file: str | None = option(None, "Private key (PEM) of cert_file.")
    insecure: bool | None = option(None, f"otelcol's configtls key. No effect here: {TLS_INSECURE_REASON} (a start-up warning says so).")
    insecure_skip_verify: bool = option(False, "Accept any server certificate (testing only).")
    server_name_override: str | None = option(None, "Host name the server's certificate must match, when it differs from the endpoint's.")

    def validate(self) -> None:
        for key in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, key)
            if path is not None:
                check_file(path, key)
        if bool(self.cert_file) != bool(self.key_file):
            raise Invalid("cert_file and key_file go together (a client certificate needs its key)", "key_file" if self.cert_file else "cert_file")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass
class MappingConfig:
    mode: Literal["otel", "ecs"] = option("otel", "`otel`: the OTLP-shaped documents of Elasticsearch's `*-otel@template` (span events as log documents). `ecs`: Elastic Common Schema field names.")


@dataclass
class DynamicIndexConfig:
    enabled: bool = option(False, f"No effect: {DYNAMIC_INDEX_REASON} (a start-up warning says so when true).")


@dataclass
class FlushConfig:
    bytes: ByteSize = option(ByteSize(5_000_000), "Largest uncompressed `_bulk` body; bigger requests are split. Also the size at which merged small requests are queued.")
    interval: Duration = option(Duration(10.0), "Longest time small requests are merged before they are queued; 0 queues every request at once.")

    def validate(self) -> None:
        if self.bytes < 1:
            raise Invalid("must be at least 1 byte", "bytes")


@dataclass
class BulkRetryConfig:
    enabled: bool = option(True, "Resend documents Elasticsearch refused with a status in retry_on_status.")
    max_retries: int = option(2, "Resends of one document before it counts as failed.")
    initial_interval: Duration = option(Duration(0.1), "Wait before the first resend; doubles each time.")
    max_interval: Duration = option(Duration(60.0), "Longest wait between resends.")
    retry_on_status: list[int] = option(factory=lambda: [429], doc="Per-document statuses worth resending (429: Elasticsearch is overloaded). Others are final.")

    def validate(self) -> None:
        if self.max_retries < 0:
            raise Invalid("must not be negative", "max_retries")
        if self.initial_interval <= 0:
            raise Invalid("must be greater than 0", "initial_interval")
        if self.max_interval < self.initial_interval:
            raise Invalid("must be >= initial_interval", "max_interval")
        for i, status in enumerate(self.retry_on_status):
            if not 100 <= status <= 599:
                raise Invalid(f"expected an HTTP status (100-599), got {status}", ("retry_on_status", i))


@dataclass(kw_only=True)
class ElasticsearchExporterConfig(DeliveryConfig):
    endpoints: list[str] = option(factory=list, doc="Elasticsearch URLs (`https://host:9200`); requests go round-robin and fail over on connection errors. Unset: `endpoint`, else `cloudid`, else the ELASTICSEARCH_URL environment variable.")
    endpoint: str | None = option(None, "One Elasticsearch URL, when `endpoints` is not set.")
    cloudid: str | None = option(None, "Elastic Cloud's cloud ID (`name:base64(host$es-id$kibana-id)`): the exporter sends to `https://<es-id>.<host>`. Instead of endpoint(s).")
    api_key: str = _secret("API key, sent as `Authorization: ApiKey <api_key>` (the base64 `id:key` Elasticsearch returns as `encoded`).")
    user: str = option("", "User name for basic authentication; needs `password`.")
    password: str = _secret("Password for basic authentication.")
    headers: dict[str, str] = option(factory=dict, doc="Extra HTTP headers on every request.", secret=True)
    tls: ElasticsearchTLSConfig = option(factory=ElasticsearchTLSConfig, doc="Client TLS for https endpoints.")
    compression: Literal["gzip", "none"] = option("gzip", "Request body compression (`Content-Encoding: gzip`, fastest level).")
    traces_index: str | None = option(None, "Index (or alias) for span documents. Unset: data stream `traces-generic.otel-default` (`traces-generic-default` in ecs mode), or the `data_stream.dataset` / `data_stream.namespace` attributes' choice.")
    logs_index: str | None = option(None, "Index for log documents (log records and, in otel mode, span events). Unset: data stream `logs-generic.otel-default`.")
    metrics_index: str | None = option(None, f"otelcol's index for metrics. No effect here: {METRICS_REASON} (a start-up warning says so).")
    traces_dynamic_index: DynamicIndexConfig = option(factory=DynamicIndexConfig, doc="otelcol's deprecated switch.")
    logs_dynamic_index: DynamicIndexConfig = option(factory=DynamicIndexConfig, doc="otelcol's deprecated switch.")
    metrics_dynamic_index: DynamicIndexConfig = option(factory=DynamicIndexConfig, doc="otelcol's deprecated switch.")
    pipeline: str | None = option(None, "Ingest pipeline every document goes through (`_bulk?pipeline=<name>`).")
    mapping: MappingConfig = option(factory=MappingConfig, doc="Document shape.")
    flush: FlushConfig = option(factory=FlushConfig, doc="`_bulk` body size and merging of small requests.")
    retry: BulkRetryConfig = option(factory=BulkRetryConfig, doc="Per-document retries inside one send attempt (request-level failures use retry_on_failure).")
    num_workers: int = option(0, "Most `_bulk` requests in flight at once; 0: one per sending_queue consumer.")
    timeout: Duration = option(Duration(90.0), "Time limit of one send attempt (all `_bulk` bodies of a request, with per-document retries).")

    def validate(self) -> None:
        # contrib's Config.endpoints(): more than one source of URLs is an error, whichever they are.
        if self.endpoint and self.endpoints:
            raise Invalid("exactly one of [endpoint, endpoints, cloudid] must be specified", "endpoint")
        if self.cloudid is not None:
            if self.endpoints or self.endpoint:
                raise Invalid("exactly one of [endpoint, endpoints, cloudid] must be specified", "cloudid")
            cloud_url(self.cloudid)
        if not self.urls():
            raise Invalid("no Elasticsearch URL: set endpoints (or endpoint, cloudid, or the ELASTICSEARCH_URL environment variable)", "endpoints")
        for name in ("traces", "logs", "metrics"):
            if getattr(self, f"{name}_index") is not None and getattr(self, f"{name}_dynamic_index").enabled:
                raise Invalid(f"must not specify both {name}_index and {name}_dynamic_index; {name}_index should be empty unless all documents should be sent to the same index", f"{name}_dynamic_index")
        key = "endpoints" if self.endpoints else "endpoint"
        for i, url in enumerate(self.urls()):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                where: Any = (key, i) if self.endpoints else key
                raise Invalid(f'expected a URL like "https://localhost:9200", got "{url}"', where)
            try:
                _ = parts.port  # raises for a port out of range or not a number
            except ValueError:
                raise Invalid(f'invalid port in "{url}"', (key, i) if self.endpoints else key) from None
        if self.user and not self.password:
            raise Invalid("user needs password", "password")
        if self.password and not self.user:
            raise Invalid("password needs user", "user")
        if self.api_key and self.user:
            raise Invalid("set api_key or user/password, not both", "api_key")
        for name in ("traces_index", "logs_index"):
            index = getattr(self, name)
            if index is None:
                continue
            bad = _BAD_INDEX.search(index)
            if not index or bad or index[0] in "-_+" or index in (".", ".."):
                why = f'contains "{bad.group()}"' if bad else "must not be empty or start with -, _ or +"
                raise Invalid(f"not a valid Elasticsearch index name ({why}; lowercase, none of \\ / * ? \" < > | space , # :)", name)
        if self.num_workers < 0:
            raise Invalid("must not be negative", "num_workers")

    def urls(self) -> list[str]:
        if self.cloudid:
            return [cloud_url(self.cloudid)]
        if self.endpoints:
            return list(self.endpoints)
        if self.endpoint:
            return [self.endpoint]
        env = os.environ.get("ELASTICSEARCH_URL", "").strip()
        return [u.strip() for u in env.split(",") if u.strip()]


def cloud_url(cloud_id: str) -> str:
    """contrib's parseCloudID (after go-elasticsearch's addrFromCloudID): `name:base64("host$es$kibana")`
    is `https://<es>.<host>`. The id names a deployment, not a secret; the error still does not repeat it."""
    _, sep, encoded = cloud_id.partition(":")
    if not sep:
        raise Invalid("invalid cloud ID (expected name:base64)", "cloudid")
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, ValueError):
        raise Invalid("invalid cloud ID (not base64 after the colon)", "cloudid") from None
    host, sep, rest = decoded.partition("$")
    if not sep:
        raise Invalid("invalid decoded cloud ID (expected host$es-id$kibana-id)", "cloudid")
    return f"https://{rest.split('$')[0]}.{host}"


def ineffective_keys(config: ElasticsearchExporterConfig) -> list[tuple[str, str]]:
    out = []
    if config.tls.insecure is not None:
        out.append(("tls.insecure", TLS_INSECURE_REASON))
    if config.metrics_index is not None:
        out.append(("metrics_index", METRICS_REASON))
    for name in ("traces", "logs", "metrics"):
        if getattr(config, f"{name}_dynamic_index").enabled:
            out.append((f"{name}_dynamic_index.enabled", DYNAMIC_INDEX_REASON))
    return out
