"""k8s_attributes as a user runs it: the real daemon with `auth_type: serviceAccount` against a fake Kubernetes API
server (tests/fakes/kube_api.py; TLS, bearer token, list + watch), spans sent with the OpenTelemetry SDK over OTLP,
the file exporter's output read back. Each behaviour follows contrib's processor/k8sattributesprocessor: which
function is cited where it is checked."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from collector.testing import wait_for
from tests.conftest import daemon_yaml
from tests.fakes.kube_api import KubeAPIFake
from tests.processors.k8s_helpers import TOKEN, daemon_env, pod, resources, send_spans, service_account

RS_UID = "rs-uid-1"
DEPLOY_UID = "deploy-uid-1"


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    sa_dir, tls = service_account(tmp_path / "sa")
    api = KubeAPIFake(token=TOKEN, tls=tls).start()
    api.put("namespaces", {"metadata": {"name": "kube-system", "uid": "cluster-uid-42"}})
    api.put("namespaces", {"metadata": {"name": "shop", "labels": {"team": "payments"}}})
    api.put("nodes", {"metadata": {"name": "node-1", "uid": "node-uid-1", "labels": {"zone": "eu-1a"}}})
    api.put("replicasets", {"metadata": {"name": "checkout-5d8f7c9b6f", "namespace": "shop", "uid": RS_UID,
                                         "ownerReferences": [{"kind": "Deployment", "name": "checkout", "uid": DEPLOY_UID, "controller": True}]}})
    api.put("pods", pod("checkout-5d8f7c9b6f-x2x9q", "10.1.2.3", owner=("ReplicaSet", "checkout-5d8f7c9b6f", RS_UID),
                        labels={"app": "checkout", "app.kubernetes.io/version": "1.4.2"}, annotations={"resource.opentelemetry.io/team.owner": "alice"},
                        image="registry.example.com/shop/checkout:1.4.2", container="checkout", uid="pod-uid-checkout"))
    # The pod the test's own connections come from (127.0.0.1), for association by connection.
    api.put("pods", pod("loadgen-7b9", "127.0.0.1", namespace="tools", owner=("Job", "loadgen-28000000", "job-uid"), uid="pod-uid-loadgen"))
    yield api, sa_dir
    api.stop()


def config(processor: str = "k8s_attributes", body: str = "", auth: str = "serviceAccount") -> str:
    """`body`: the processor's keys after auth_type, plain YAML (no placeholders)."""
    body = body.replace("{", "{{").replace("}", "}}")
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      grpc: {{{{endpoint: "127.0.0.1:{{grpc}}"}}}}
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
processors:
  {processor}:
    auth_type: {auth}
{body}
exporters:
  file: {{{{path: "{{data}}/traces.jsonl"}}}}
""", f"traces: {{{{receivers: [otlp], processors: [{processor}], exporters: [file]}}}}")


FULL = """\
    wait_for_metadata: true
    extract:
      metadata: [k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.node.name, k8s.node.uid, k8s.pod.start_time, k8s.deployment.name,
                 k8s.replicaset.name, k8s.job.name, k8s.cronjob.name, k8s.container.name, container.id, container.image.name,
                 container.image.tag, k8s.cluster.uid, service.version, service.instance.id]
      otel_annotations: true
      labels:
        - {tag_name: app.label.app, key: app}
        - {key_regex: "app.kubernetes.io/(.*)", tag_name: "kube.$1"}
        - {key: team, from: namespace}
        - {key: zone, from: node}
    pod_association:
      - sources: [{from: resource_attribute, name: k8s.pod.ip}]
      - sources: [{from: resource_attribute, name: k8s.pod.uid}]
      - sources: [{from: connection}]
"""


def test_metadata_of_the_pod_found_by_resource_ip_and_by_connection(daemon_factory: Any, cluster: Any) -> None:
    api, sa_dir = cluster
    daemon = daemon_factory(config(body=FULL), env=daemon_env(api, sa_dir))
    send_spans(daemon, {"service.name": "checkout", "k8s.pod.ip": "10.1.2.3"}, "by-ip")
    send_spans(daemon, {"service.name": "loadgen"}, "by-connection", transport="grpc")
    send_spans(daemon, {"service.name": "loadgen"}, "by-connection-http")
    got = wait_for(lambda: (r := resources(daemon.data / "traces.jsonl")) and len(r) == 3 and r, what="3 spans written")
    by_ip = got["by-ip"]
    # client.go extractPodAttributes, in the order it writes them.
    expected = {
        "k8s.namespace.name": "shop", "k8s.pod.name": "checkout-5d8f7c9b6f-x2x9q", "k8s.pod.uid": "pod-uid-checkout",
        "k8s.node.name": "node-1", "k8s.pod.start_time": "2026-12-01T10:00:00Z", "k8s.deployment.name": "checkout",
        "k8s.replicaset.name": "checkout-5d8f7c9b6f", "k8s.cluster.uid": "cluster-uid-42", "service.version": "1.4.2",
        "app.label.app": "checkout", "kube.version": "1.4.2", "team.owner": "alice",
        # processor.go: namespace and node labels, k8s.node.uid; addContainerAttributes for the pod's only container.
        "k8s.namespace.labels.team": "payments", "k8s.node.labels.zone": "eu-1a", "k8s.node.uid": "node-uid-1",
        "k8s.container.name": "checkout", "container.image.name": "registry.example.com/shop/checkout", "container.image.tag": "1.4.2",
        "container.id": "0123abcd",
    }
    assert {k: by_ip.get(k) for k in expected} == expected
    # Kept: setResourceAttribute never overwrites a non-empty value (the SDK sets its own service.instance.id).
    assert by_ip["service.name"] == "checkout" and by_ip["service.instance.id"] != "shop.checkout-5d8f7c9b6f-x2x9q.checkout"
    for name in ("by-connection", "by-connection-http"):
        conn = got[name]
        assert conn["k8s.pod.name"] == "loadgen-7b9" and conn["k8s.namespace.name"] == "tools"
        assert conn["k8s.job.name"] == "loadgen-28000000" and conn["k8s.cronjob.name"] == "loadgen"  # client.go cronJobRegex
        assert "k8s.deployment.name" not in conn
    # Every request carried the service account's token (the fake refuses others with 401).
    assert api.watch_count("pods") >= 1
    assert daemon.metric("otelcol_otelsvc_k8s_pod_association", status="success") == 3


def test_pod_changes_arrive_through_the_watch_and_an_expired_watch_lists_again(daemon_factory: Any, cluster: Any) -> None:
    api, sa_dir = cluster
    body = """\
    wait_for_metadata: true
    extract:
      metadata: [k8s.pod.name]
      labels: [{key: version}]
"""
    daemon = daemon_factory(config(body=body), env=daemon_env(api, sa_dir))
    api.put("pods", pod("web-1", "10.9.0.1", labels={"version": "v1"}, uid="pod-web-1"))
    # A new pod (ADDED on the watch) is found as soon as the event arrives.
    wait_for(lambda: (send_spans(daemon, {"k8s.pod.ip": "10.9.0.1"}, "added"), resources(daemon.data / "traces.jsonl").get("added", {}).get("k8s.pod.name"))[1],
             what="the added pod's metadata")
    # MODIFIED: the label changes.
    api.put("pods", pod("web-1", "10.9.0.1", labels={"version": "v2"}, uid="pod-web-1"))
    wait_for(lambda: (send_spans(daemon, {"k8s.pod.ip": "10.9.0.1"}, "modified"),
                      resources(daemon.data / "traces.jsonl").get("modified", {}).get("k8s.pod.labels.version") == "v2")[1], what="the new label")
    # The watch ends, changes happen while it is down and the history is compacted: the next watch gets
    # 410 Expired, the informer lists again and sees the change.
    lists_before = sum(1 for r in api.requests if r.startswith("/api/v1/pods") and "watch=true" not in r)
    api.end_watches(hold=True)
    api.put("pods", pod("web-2", "10.9.0.2", uid="pod-web-2"))
    api.compact()
    api.release_watches()
    wait_for(lambda: (send_spans(daemon, {"k8s.pod.ip": "10.9.0.2"}, "relisted"), resources(daemon.data / "traces.jsonl").get("relisted", {}).get("k8s.pod.name") == "web-2")[1],
             what="the pod added while the watch was down")
    assert sum(1 for r in api.requests if r.startswith("/api/v1/pods") and "watch=true" not in r) > lists_before
    # DELETED: the pod stays associated during client.go's delete grace period (telemetry it sent just before).
    api.delete("pods", "web-1", "shop")
    send_spans(daemon, {"k8s.pod.ip": "10.9.0.1"}, "after-delete")
    assert wait_for(lambda: resources(daemon.data / "traces.jsonl").get("after-delete"), what="span")["k8s.pod.name"] == "web-1"


def test_passthrough_only_adds_the_connection_ip_and_never_calls_the_api(daemon_factory: Any, cluster: Any) -> None:
    api, sa_dir = cluster
    daemon = daemon_factory(config(body="    passthrough: true\n"), env=daemon_env(api, sa_dir))
    before = len(api.requests)
    send_spans(daemon, {"service.name": "a"}, "pass", transport="grpc")
    got = wait_for(lambda: resources(daemon.data / "traces.jsonl").get("pass"), what="span")
    assert got["k8s.pod.ip"] == "127.0.0.1" and "k8s.pod.name" not in got  # processor.go processResource, passthrough
    assert len(api.requests) == before


def test_filters_excludes_and_the_older_type_name(daemon_factory: Any, cluster: Any) -> None:
    api, sa_dir = cluster
    api.put("pods", pod("jaeger-agent-abc", "10.5.0.1", uid="pod-jaeger"))
    api.put("pods", pod("ignored", "10.5.0.2", annotations={"opentelemetry.io/k8s-processor/ignore": "true"}, uid="pod-ignored"))
    api.put("pods", pod("elsewhere", "10.5.0.3", node="node-2", uid="pod-elsewhere"))
    body = """\
    wait_for_metadata: true
    filter: {node_from_env_var: K8S_NODE_NAME, namespace: shop, labels: [{key: skip, op: does-not-exist}]}
"""
    daemon = daemon_factory(config("k8sattributes", body), env=daemon_env(api, sa_dir, K8S_NODE_NAME="node-1"))
    for ip in ("10.5.0.1", "10.5.0.2", "10.5.0.3", "10.1.2.3"):
        send_spans(daemon, {"k8s.pod.ip": ip}, ip)
    got = wait_for(lambda: (r := resources(daemon.data / "traces.jsonl")) and len(r) == 4 and r, what="4 spans")
    # client.go shouldIgnorePod (default excludes jaeger-agent, jaeger-collector; the ignore annotation) and
    # selectorsFromFilters (spec.nodeName from the env var, the namespace's path, the label selector).
    assert "k8s.pod.name" not in got["10.5.0.1"] and "k8s.pod.name" not in got["10.5.0.2"] and "k8s.pod.name" not in got["10.5.0.3"]
    assert got["10.1.2.3"]["k8s.pod.name"] == "checkout-5d8f7c9b6f-x2x9q"
    pod_lists = [unquote(r) for r in api.requests if "/pods" in r]
    assert pod_lists and all(r.startswith("/api/v1/namespaces/shop/pods?labelSelector=!skip&fieldSelector=spec.nodeName=node-1") for r in pod_lists)
    assert any(r.get("event") == '"k8sattributes" alias is deprecated; use "k8s_attributes" instead' for r in daemon.log_records())


def test_wait_for_metadata_fails_start_up_when_the_api_is_unreachable(daemon_factory: Any, cluster: Any) -> None:
    api, sa_dir = cluster
    env = daemon_env(api, sa_dir)
    env["KUBERNETES_SERVICE_PORT"] = "1"
    daemon = daemon_factory(config(body="    wait_for_metadata: true\n    wait_for_metadata_timeout: 1s\n"), env=env, start=False)
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(30) != 0
    assert "failed to wait for caches to sync" in daemon.logs()


def test_kubeconfig_auth_reads_the_current_context(daemon_factory: Any, cluster: Any, tmp_path: Path) -> None:
    api, sa_dir = cluster
    kubeconfig = tmp_path / "kubeconfig"
    ca = base64.b64encode((sa_dir / "ca.crt").read_bytes()).decode()
    kubeconfig.write_text(f"""\
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster: {{server: "https://127.0.0.1:{api.port}", certificate-authority-data: "{ca}"}}
users:
- name: dev-user
  user: {{token: "{TOKEN}"}}
contexts:
- name: other
  context: {{cluster: nowhere, user: nobody}}
- name: dev
  context: {{cluster: local, user: dev-user}}
""")
    daemon = daemon_factory(config(body="    wait_for_metadata: true\n", auth="kubeConfig"), env={"KUBECONFIG": str(kubeconfig)})
    send_spans(daemon, {"k8s.pod.ip": "10.1.2.3"}, "s")
    assert wait_for(lambda: resources(daemon.data / "traces.jsonl").get("s"), what="span")["k8s.deployment.name"] == "checkout"
