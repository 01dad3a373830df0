"""The fake Kubernetes API server's own semantics (tests/fakes/kube_api.py), driven with raw HTTP: if it were lenient,
the k8s_attributes tests would pass against behaviour no API server has. What is checked is what the Kubernetes
API concepts page documents: list metadata.resourceVersion, watch from a resourceVersion as newline-delimited
JSON events, 410 Expired after compaction, selectors, 401 without the token, 404 NotFound Status."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.kube_api import KubeAPIFake

TOKEN = "t0ken"


@pytest.fixture
def api() -> Iterator[KubeAPIFake]:
    with KubeAPIFake(token=TOKEN) as fake:
        yield fake


def get(api: KubeAPIFake, path: str, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def watch(api: KubeAPIFake, path: str, count: int) -> list[dict[str, Any]]:
    """The first `count` events of a watch (the stream is chunked, one JSON object a line)."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    events = []
    while len(events) < count:
        line = response.readline()
        if not line:
            break
        events.append(json.loads(line))
    conn.close()
    return events


def pod(name: str, labels: dict[str, str] | None = None, node: str = "n1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {}}, "spec": {"nodeName": node}, "status": {"podIP": "10.0.0.1"}}


def test_list_carries_the_resource_version_and_watch_replays_later_changes(api: KubeAPIFake) -> None:
    api.put("pods", pod("a"))
    status, body = get(api, "/api/v1/pods")
    assert status == 200 and body["kind"] == "PodList" and body["apiVersion"] == "v1"
    version = body["metadata"]["resourceVersion"]
    assert [p["metadata"]["name"] for p in body["items"]] == ["a"]
    api.put("pods", pod("b"))
    api.put("pods", pod("a", {"x": "1"}))
    api.delete("pods", "b", "ns")
    events = watch(api, f"/api/v1/pods?watch=true&resourceVersion={version}", 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    assert events[0]["object"]["kind"] == "Pod"
    assert int(events[2]["object"]["metadata"]["resourceVersion"]) > int(events[1]["object"]["metadata"]["resourceVersion"]) > int(version)


def test_a_watch_from_a_compacted_version_is_expired(api: KubeAPIFake) -> None:
    api.put("pods", pod("a"))
    _, body = get(api, "/api/v1/pods")
    api.put("pods", pod("b"))
    api.compact()
    (event,) = watch(api, f"/api/v1/pods?watch=true&resourceVersion={body['metadata']['resourceVersion']}", 1)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_selectors_namespaces_and_single_objects(api: KubeAPIFake) -> None:
    api.put("pods", pod("a", {"app": "web"}))
    api.put("pods", pod("b", {"app": "db"}, node="n2"))
    api.put("nodes", {"metadata": {"name": "n1", "uid": "u-n1"}})
    names = lambda path: [p["metadata"]["name"] for p in get(api, path)[1]["items"]]  # noqa: E731
    assert names("/api/v1/pods?labelSelector=app%3Dweb") == ["a"]
    assert names("/api/v1/pods?labelSelector=app!%3Dweb") == ["b"]
    assert names("/api/v1/pods?labelSelector=!app") == []
    assert names("/api/v1/pods?fieldSelector=spec.nodeName%3Dn2") == ["b"]
    assert names("/api/v1/namespaces/other/pods") == []
    assert get(api, "/api/v1/nodes/n1")[1]["metadata"]["uid"] == "u-n1"
    status, body = get(api, "/api/v1/nodes/n9")
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"


def test_requests_without_the_token_are_unauthorized(api: KubeAPIFake) -> None:
    status, body = get(api, "/api/v1/pods", token="wrong")
    assert status == 401 and body["reason"] == "Unauthorized"
