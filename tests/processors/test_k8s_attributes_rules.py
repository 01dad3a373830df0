"""k8s_attributes' rules as tables, each following the contrib test (or function) it cites: image parsing, pod
association, label/annotation extraction, config validation. The daemon-level behaviour is in
test_k8s_attributes.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from collector.processors.k8sattributes.config import K8sAttributesConfig
from collector.processors.k8sattributes.pods import CONNECTION, RESOURCE, Cluster, parse_image, service_version
from collector.testing import BuildError, decode_config

DIGEST = "dbc66f8c46d4cf4793527ca0737d73527a2bb830019953c2371b5f45f515f1a8"


# contrib internal/common/docker/images_test.go TestParseImageName.
@pytest.mark.parametrize(("image", "expected"), [
    ("", None),
    ("aaa:", None),
    ("alpine", ("alpine", "latest")),
    ("alpine:v1.0.0", ("alpine", "v1.0.0")),
    ("alpine/alpine", ("alpine/alpine", "latest")),
    ("alpine/alpine:2.0.0", ("alpine/alpine", "2.0.0")),
    ("example.com/alpine/alpine", ("example.com/alpine/alpine", "latest")),
    ("example.com/alpine/alpine:1", ("example.com/alpine/alpine", "1")),
    ("example.com:3000/alpine/alpine", ("example.com:3000/alpine/alpine", "latest")),
    ("example.com:3000/alpine/alpine:test", ("example.com:3000/alpine/alpine", "test")),
    (f"alpine:test@sha256:{DIGEST}", ("alpine", "test")),
    (f"example.com/alpine/alpine@sha256:{DIGEST}", ("example.com/alpine/alpine", "latest")),
    (f"example.com/alpine/alpine:1.0.0@sha256:{DIGEST}", ("example.com/alpine/alpine", "1.0.0")),
])
def test_parse_image(image: str, expected: tuple[str, str] | None) -> None:
    assert parse_image(image) == expected


# client.go parseServiceVersionFromImage: tag, digest, or tag@digest.
@pytest.mark.parametrize(("image", "expected"), [
    ("example.com:3000/shop/app:1.4.2", "1.4.2"),
    (f"shop/app@sha256:{DIGEST}", f"sha256:{DIGEST}"),
    (f"shop/app:1.4.2@sha256:{DIGEST}", f"1.4.2@sha256:{DIGEST}"),
    ("example.com:3000/shop/app", ""),
])
def test_service_version_from_image(image: str, expected: str) -> None:
    assert service_version(image) == expected


def cluster(**config: Any) -> Cluster:
    _, decoded = decode_config("k8s_attributes", config)
    return Cluster(decoded)


HOST_ASSOC = [{"sources": [{"from": "resource_attribute", "name": "host.name"}]}]


# contrib pod_association_test.go and pod_association.go extractPodID / extractPodIDNoAssociations.
@pytest.mark.parametrize(("associations", "attrs", "connection", "expected"), [
    # TestExtractPodIDSkipsNonIPHostNameAssociation
    (HOST_ASSOC, {"host.name": "k8s-node-1"}, "", ()),
    # TestExtractPodIDFallsBackWhenHostNameIsNotIP
    (HOST_ASSOC + [{"sources": [{"from": "connection"}]}], {"host.name": "worker-node"}, "1.2.3.4", ((CONNECTION, "", "1.2.3.4"),)),
    # TestExtractPodIDKeepsHostNameWhenValueIsIP
    (HOST_ASSOC, {"host.name": "10.1.2.3"}, "", ((RESOURCE, "host.name", "10.1.2.3"),)),
    # every source of an association must be present
    ([{"sources": [{"from": "resource_attribute", "name": "k8s.pod.name"}, {"from": "resource_attribute", "name": "k8s.namespace.name"}]}],
     {"k8s.pod.name": "p"}, "", ()),
    ([{"sources": [{"from": "resource_attribute", "name": "k8s.pod.name"}, {"from": "resource_attribute", "name": "k8s.namespace.name"}]}],
     {"k8s.pod.name": "p", "k8s.namespace.name": "ns"}, "", ((RESOURCE, "k8s.pod.name", "p"), (RESOURCE, "k8s.namespace.name", "ns"))),
    # no associations: k8s.pod.ip, then ip, then the connection, then host.name when it is an IP
    ([], {"k8s.pod.ip": "10.0.0.1", "ip": "10.0.0.2"}, "10.0.0.3", ((CONNECTION, "", "10.0.0.1"),)),
    ([], {"ip": "10.0.0.2"}, "10.0.0.3", ((CONNECTION, "", "10.0.0.2"),)),
    ([], {"host.name": "10.0.0.4"}, "10.0.0.3", ((CONNECTION, "", "10.0.0.3"),)),
    ([], {"host.name": "10.0.0.4"}, "", ((CONNECTION, "", "10.0.0.4"),)),
    ([], {"host.name": "web-1"}, "", ()),
])
def test_pod_identifier_of_a_resource(associations: list[Any], attrs: dict[str, str], connection: str, expected: tuple[Any, ...]) -> None:
    assert cluster(pod_association=associations).lookup(attrs, connection) == expected


POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "labels": {"app.kubernetes.io/component": "db", "app.kubernetes.io/version": "5.7", "git": "abc"},
                    "annotations": {"resource.opentelemetry.io/deployment.environment.name": "prod", "note": "x"}},
       "spec": {"nodeName": "n1"}, "status": {"podIP": "10.0.0.9"}}


# client.go extractPodAttributes with options.go extractFieldRules (contrib client_test.go TestExtractionRules).
@pytest.mark.parametrize(("extract", "expected"), [
    ({"labels": [{"key": "git"}]}, {"k8s.pod.labels.git": "abc"}),
    ({"labels": [{"key": "git", "tag_name": "vcs.sha"}]}, {"vcs.sha": "abc"}),
    ({"labels": [{"key_regex": "app.kubernetes.io/(.*)", "tag_name": "$1"}]}, {"component": "db", "version": "5.7"}),
    ({"labels": [{"key_regex": "app.kubernetes.io/.*"}]}, {"k8s.pod.labels.app.kubernetes.io/component": "db", "k8s.pod.labels.app.kubernetes.io/version": "5.7"}),
    ({"annotations": [{"key": "note"}]}, {"k8s.pod.annotations.note": "x"}),
    ({"otel_annotations": True}, {"deployment.environment.name": "prod"}),
    ({"metadata": ["service.namespace", "service.name", "service.version"]}, {"service.namespace": "shop", "service.name": "web-1", "service.version": "5.7"}),
])
def test_extraction_rules(extract: dict[str, Any], expected: dict[str, str]) -> None:
    c = cluster(extract={"metadata": ["k8s.pod.uid"], **extract})
    pod = c.pod_from_api(POD)
    assert {k: v for k, v in pod.attributes.items() if k != "k8s.pod.uid"} == expected


def test_a_pod_answers_to_its_uid_and_ip_whatever_the_associations() -> None:
    # client.go getIdentifiersFromAssoc "Ensure backward compatibility"; hostNetwork pods have no IP identifiers.
    c = cluster(pod_association=[{"sources": [{"from": "resource_attribute", "name": "k8s.pod.name"}]}])
    pod = c.pod_from_api(POD)
    assert c.identifiers(pod) == [((RESOURCE, "k8s.pod.name", "web-1"),), ((RESOURCE, "k8s.pod.uid", "u1"),),
                                  ((CONNECTION, "", "10.0.0.9"),), ((RESOURCE, "k8s.pod.ip", "10.0.0.9"),)]
    host = c.pod_from_api({**POD, "spec": {"hostNetwork": True}})
    assert c.identifiers(host) == [((RESOURCE, "k8s.pod.name", "web-1"),), ((RESOURCE, "k8s.pod.uid", "u1"),)]


def test_an_ip_reused_by_a_newer_pod_is_not_taken_back_by_a_late_update_of_the_older() -> None:
    # client.go addOrUpdatePod: the newer startTime keeps the identifier.
    c = cluster()
    old = {**POD, "metadata": {**POD["metadata"], "uid": "old"}, "status": {"podIP": "10.0.0.9", "startTime": "2026-01-01T00:00:00Z"}}
    new = {**POD, "metadata": {**POD["metadata"], "name": "web-2", "uid": "new"}, "status": {"podIP": "10.0.0.9", "startTime": "2026-01-02T00:00:00Z"}}
    c.on_pod("ADDED", new)
    c.on_pod("MODIFIED", old)
    assert c.pods[((CONNECTION, "", "10.0.0.9"),)].uid == "new"


# config.go Validate.
@pytest.mark.parametrize(("config", "message"), [
    ({"extract": {"labels": [{"key": "a", "key_regex": "b"}]}}, "Out of Key or KeyRegex only one option is expected"),
    ({"extract": {"labels": [{"key": "a", "from": "deployment"}]}}, 'expected one of "", "pod", "namespace", "node"'),
    ({"extract": {"metadata": ["k8s.pod.bogus"]}}, '"k8s.pod.bogus" is not a supported metadata field'),
    ({"extract": {"metadata": ["container.image.repo_digests"]}}, "is not supported here"),
    ({"extract": {"annotations": [{"key_regex": "("}]}}, "invalid regular expression"),
    ({"pod_association": [{"sources": [{"from": "connection"}] * 5}]}, "too many association sources. limit is 4"),
    ({"pod_association": [{"sources": [{"from": "label"}]}]}, 'expected one of "resource_attribute", "connection"'),
    ({"filter": {"labels": [{"key": "a", "op": "in"}]}}, 'expected one of "", "equals", "not-equals", "exists", "does-not-exist"'),
    ({"filter": {"fields": [{"key": "a", "op": "exists"}]}}, "'exists' is not a valid field filter operation"),
    ({"filter": {"node_from_env_var": "SURELY_UNSET_NODE_VAR"}}, '`node_from_env_var` is configured but envvar "SURELY_UNSET_NODE_VAR" is not set'),
    ({"auth_type": "tls"}, 'auth_type "tls" (client certificates given as files) is not supported here'),
])
def test_config_validation(config: dict[str, Any], message: str) -> None:
    with pytest.raises(BuildError, match=re.escape(message)):
        decode_config("k8s_attributes", config)


def test_default_config_is_otelcols() -> None:
    _, config = decode_config("k8s_attributes", {})
    assert isinstance(config, K8sAttributesConfig)
    assert config.auth_type == "serviceAccount" and [p.name for p in config.exclude.pods] == ["jaeger-agent", "jaeger-collector"]
    assert float(config.wait_for_metadata_timeout) == 10.0
