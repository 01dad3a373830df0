"""routing's answer to a retry after a partial failure, through the running daemon. otelcol's connector
(contrib connector/routingconnector traces.go ConsumeTraces) hands every part on and joins the errors with
multierr, so a client retrying after one part's pipeline refused retryably writes the other parts twice;
this daemon remembers the parts taken, as its fan-out does (service.FanOut), and hands the retry only the
part that failed."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.component import Signal
from collector.testing import traces_request
from tests.conftest import daemon_yaml
from tests.connectors.test_connectors import OTLP, _span, _spans
from tests.processors.test_redaction import send

CONFIG = daemon_yaml(OTLP + """
exporters:
  file/billing: {{path: "{data}/billing.jsonl", flush_interval: 10ms}}
  otlp/down:
    endpoint: "127.0.0.1:{down}"
    tls: {{insecure: true}}
    timeout: 1s
    sending_queue: {{enabled: false}}
    retry_on_failure: {{enabled: false}}
connectors:
  routing:
    default_pipelines: [traces/down]
    table:
      - condition: attributes["service.name"] == "billing"
        pipelines: [traces/billing]
""", """
traces/in: {{receivers: [otlp], exporters: [routing]}}
traces/billing: {{receivers: [routing], exporters: [file/billing]}}
traces/down: {{receivers: [routing], exporters: [otlp/down]}}
""")


@pytest.mark.slow
def test_a_retry_is_not_handed_again_to_the_pipelines_that_took_their_part(daemon_factory: Any) -> None:
    daemon = daemon_factory(CONFIG, extra_ports=("down",))  # nothing listens on {down}: UNAVAILABLE
    request = ExportTraceServiceRequest()
    request.resource_spans.extend(traces_request(_span("pay", 0), _span("refund", 1), resource={"service.name": "billing"}).resource_spans)
    request.resource_spans.extend(traces_request(_span("browse", 2), resource={"service.name": "shop"}).resource_spans)
    for _ in range(3):  # the first attempt and two retries of the same request
        with pytest.raises(grpc.RpcError) as info:
            send(daemon, Signal.TRACES, request)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert daemon.metric("llm_collector_fanout_retry_skipped_items", fanout="connector/routing") == 4  # 2 spans x 2 retries
    assert daemon.stop() == 0
    assert sorted(s.name for _, s in _spans(daemon.data / "billing.jsonl", 2)) == ["pay", "refund"]
