"""The `_bulk` fake's own semantics, driven with raw HTTP bytes: if it were lenient, the exporter tests
against it would prove little (docs/wire-formats.md, "Elasticsearch")."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.elasticsearch import ElasticsearchFake

pytestmark = pytest.mark.slow  # starts an HTTP server (in-process, quick)

NDJSON = {"Content-Type": "application/x-ndjson"}


def post(fake: ElasticsearchFake, body: bytes, path: str = "/_bulk", headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(fake.url + path, data=body, headers={**NDJSON, **(headers or {})}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def ndjson(*lines: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@pytest.fixture
def fake() -> Iterator[ElasticsearchFake]:
    with ElasticsearchFake() as es:
        yield es


def create(index: str, **meta: Any) -> dict[str, Any]:
    return {"create": {"_index": index, **meta}}


def test_body_must_end_with_a_newline(fake: ElasticsearchFake) -> None:
    body = ndjson(create("traces-generic.otel-default"), {"@timestamp": "1.0"})
    status, answer, _ = post(fake, body[:-1])
    assert status == 400 and answer["error"]["type"] == "illegal_argument_exception"
    assert "terminated by a newline" in answer["error"]["reason"]
    assert fake.count() == 0
    status, answer, _ = post(fake, body)
    assert status == 200 and answer["errors"] is False and fake.count() == 1


def test_malformed_action_line_fails_the_whole_request(fake: ElasticsearchFake) -> None:
    status, answer, _ = post(fake, b'{"create": \n{"@timestamp": "1"}\n')
    assert status == 400 and answer["error"]["type"] == "x_content_parse_exception"
    status, answer, _ = post(fake, ndjson({"upsert": {"_index": "x"}}, {}))
    assert status == 400 and "expected one of [create, delete, index, update]" in answer["error"]["reason"]
    assert fake.count() == 0


def test_gzip_bodies_are_decoded_and_bad_gzip_is_a_400(fake: ElasticsearchFake) -> None:
    body = ndjson(create("traces-generic.otel-default"), {"@timestamp": "1.000000", "name": "a"})
    status, answer, _ = post(fake, gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert status == 200 and answer["items"][0]["create"]["status"] == 201
    assert fake.calls[-1].body_bytes == len(body) and fake.calls[-1].wire_bytes < len(body) + 30
    status, answer, _ = post(fake, body, headers={"Content-Encoding": "gzip"})  # says gzip, is not
    assert status == 400 and "decompress" in answer["error"]["reason"]
    assert fake.count() == 1


def test_data_streams_take_only_create_and_need_a_timestamp(fake: ElasticsearchFake) -> None:
    body = ndjson(
        {"index": {"_index": "traces-generic.otel-default"}}, {"@timestamp": "1.0"},
        create("traces-generic.otel-default"), {"name": "no-timestamp"},
        create("traces-generic.otel-default"), {"@timestamp": "2.0"},
        {"index": {"_index": "plain"}}, {"no": "timestamp needed"},
    )  # fmt: skip
    status, answer, _ = post(fake, body)
    statuses = [next(iter(item.values()))["status"] for item in answer["items"]]
    assert status == 200 and answer["errors"] is True and statuses == [400, 400, 201, 201]
    first = answer["items"][0]["index"]
    assert first["error"]["type"] == "illegal_argument_exception" and "op_type of create" in first["error"]["reason"]
    assert "@timestamp" in answer["items"][1]["create"]["error"]["reason"]
    assert answer["items"][2]["create"]["_index"] == ".ds-traces-generic.otel-default-000001"  # the backing index
    assert fake.count("traces-generic.otel-default") == 1 and fake.count("plain") == 1


def test_create_of_an_existing_id_is_a_409(fake: ElasticsearchFake) -> None:
    body = ndjson(create("orders", _id="1"), {"n": 1})
    assert post(fake, body)[1]["items"][0]["create"]["status"] == 201
    status, answer, _ = post(fake, body)
    item = answer["items"][0]["create"]
    assert status == 200 and answer["errors"] and item["status"] == 409 and item["error"]["type"] == "version_conflict_engine_exception"


def test_index_in_the_path_is_the_default(fake: ElasticsearchFake) -> None:
    status, answer, _ = post(fake, ndjson({"create": {}}, {"n": 1}), path="/orders/_bulk")
    assert status == 200 and fake.count("orders") == 1
    status, answer, _ = post(fake, ndjson({"create": {}}, {"n": 1}))
    assert status == 400 and answer["error"]["type"] == "action_request_validation_exception"


def test_filter_path_trims_the_response(fake: ElasticsearchFake) -> None:
    fake.fail_items(lambda index, doc: doc.get("name") == "b", 429)
    body = ndjson(create("logs-a-b"), {"@timestamp": "1", "name": "a"}, create("logs-a-b"), {"@timestamp": "1", "name": "b"})
    status, answer, _ = post(fake, body, path="/_bulk?filter_path=items.*._index,items.*.status,items.*.error.type,items.*.error.reason")
    assert status == 200
    assert answer == {
        "items": [
            {"create": {"_index": ".ds-logs-a-b-000001", "status": 201}},
            {"create": {"_index": "logs-a-b", "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": answer["items"][1]["create"]["error"]["reason"]}}},
        ]
    }
    assert "took" not in answer and "errors" not in answer  # filtered out, so a client must not need them


def test_injected_item_faults_are_per_document_and_counted_down(fake: ElasticsearchFake) -> None:
    fake.fail_items(lambda index, doc: doc.get("name") == "x", 429, times=2)
    body = ndjson(create("logs-a-b"), {"@timestamp": "1", "name": "y"}, create("logs-a-b"), {"@timestamp": "1", "name": "x"})
    runs = [[next(iter(i.values()))["status"] for i in post(fake, body)[1]["items"]] for _ in range(3)]
    assert runs == [[201, 429], [201, 429], [201, 201]]


def test_injected_request_faults_carry_retry_after(fake: ElasticsearchFake) -> None:
    fake.fail_requests(503, count=1, retry_after=2)
    fake.fail_requests(429, count=1)
    body = ndjson(create("logs-a-b"), {"@timestamp": "1"})
    status, answer, headers = post(fake, body)
    assert status == 503 and headers["Retry-After"] == "2" and answer["status"] == 503
    status, _, headers = post(fake, body)
    assert status == 429 and "Retry-After" not in headers
    assert post(fake, body)[0] == 200 and fake.count() == 1


def test_auth_api_key_and_basic() -> None:
    body = ndjson(create("logs-a-b"), {"@timestamp": "1"})
    with ElasticsearchFake(api_key="c2VjcmV0") as fake:
        status, answer, headers = post(fake, body)
        assert status == 401 and answer["error"]["type"] == "security_exception" and "ApiKey" in headers["WWW-Authenticate"]
        assert post(fake, body, headers={"Authorization": "ApiKey wrong"})[0] == 401
        assert post(fake, body, headers={"Authorization": "ApiKey c2VjcmV0"})[0] == 200
    with ElasticsearchFake(basic=("elastic", "pw")) as fake:
        good = base64.b64encode(b"elastic:pw").decode()
        bad = base64.b64encode(b"elastic:nope").decode()
        assert post(fake, body, headers={"Authorization": f"Basic {bad}"})[0] == 401
        assert post(fake, body, headers={"Authorization": f"Basic {good}"})[0] == 200
        assert fake.count() == 1


def test_stop_closes_open_connections_and_restart_reuses_the_port() -> None:
    import http.client

    fake = ElasticsearchFake().start()
    port = fake.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = ndjson(create("logs-a-b"), {"@timestamp": "1"})
    conn.request("POST", "/_bulk", body=body, headers=NDJSON)
    assert conn.getresponse().read() and fake.count() == 1
    fake.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("POST", "/_bulk", body=body, headers=NDJSON)
        conn.getresponse()
    again = ElasticsearchFake(port=port).start()
    try:
        assert post(again, body)[0] == 200 and again.count() == 1
    finally:
        again.stop()
