"""What the k8s_attributes processor knows about the cluster: pods (and the replicasets, namespaces and nodes their
metadata needs) turned into resource attributes and indexed by the identifiers telemetry can carry, as contrib's
processor/k8sattributesprocessor/internal/kube/client.go does (extractPodAttributes, getIdentifiersFromAssoc,
addOrUpdatePod, shouldIgnorePod, extractPodContainersAttributes)."""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .config import DEFAULT_METADATA, FieldExtract, K8sAttributesConfig

CONNECTION = "connection"
RESOURCE = "resource_attribute"
POD_IP = "k8s.pod.ip"
IGNORE_ANNOTATION = "opentelemetry.io/k8s-processor/ignore"
OTEL_ANNOTATION_PREFIX = "resource.opentelemetry.io/"
# A deleted pod stays associated this long, for telemetry it sent just before (client.go's podDeleteGracePeriod).
DELETE_GRACE_SECONDS = 120.0

# (from, name, value) per source; connection sources have no name.
Identifier = tuple[tuple[str, str, str], ...]

_CRONJOB_FROM_JOB = re.compile(r"^(.*)-\d+$")


@dataclass
class Rule:
    """One labels/annotations extraction rule (options.go extractFieldRules)."""

    name: str
    key: str
    key_regex: re.Pattern[str] | None
    source: str  # pod | namespace | node
    kind: str  # labels | annotations

    @classmethod
    def of(cls, f: FieldExtract, kind: str) -> Rule:
        source = f.from_ or "pod"
        name = f.tag_name or (f"k8s.{source}.{kind}.{f.key}" if f.key else "")
        return cls(name, f.key, re.compile(f"^(?:{f.key_regex})$") if f.key_regex else None, source, kind)

    def extract(self, values: dict[str, str], out: dict[str, str]) -> None:
        if self.key_regex is None:
            if self.key in values:
                out[self.name] = values[self.key]
            return
        for key, value in values.items():
            m = self.key_regex.match(key)
            if m is None:
                continue
            if not self.name:
                out[f"k8s.{self.source}.{self.kind}.{key}"] = value
            elif self.key_regex.groups:
                out[_go_expand(self.name, m)] = value
            else:
                out[self.name] = value


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's regexp Expand: `$1`, `${1}`, `$name`, `${name}`; `$$` is a dollar; an unknown group is empty."""
    def sub(t: re.Match[str]) -> str:
        if t.group(0) == "$$":
            return "$"
        ref = t.group(1) or t.group(2)
        try:
            return m.group(int(ref) if ref.isdigit() else ref) or ""
        except IndexError:
            return ""
    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", sub, template)


def service_version(image: str) -> str:
    """client.go parseServiceVersionFromImage: the tag, the digest, or `tag@digest`."""
    name, _, digest = image.partition("@")
    tag = name.rpartition(":")[2] if name.rfind(":") > name.rfind("/") else ""
    if digest:
        return f"{tag}@{digest}" if tag else digest
    return tag


_DIGEST = re.compile(r"sha(?:256|512):[0-9a-f]+")


def parse_image(image: str) -> tuple[str, str] | None:
    """(repository, tag) of a container image reference, as contrib's internal/common/docker ParseImageName: the tag
    defaults to `latest` (a digest does not change that); None for what it refuses (empty, `name:`, spaces)."""
    if not image or any(c.isspace() for c in image):
        return None
    name, at, digest = image.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        repository, tag = name[:colon], name[colon + 1:]
        return (repository, tag) if repository and tag else None
    return (name, "latest") if name else None


@dataclass
class Container:
    name: str = ""
    image_name: str = ""
    image_tag: str = ""
    service_version: str = ""
    service_instance_id: str = ""
    ids: dict[int, str] = field(default_factory=dict)  # restart count -> container id


@dataclass
class Pod:
    name: str
    namespace: str
    uid: str
    address: str
    host_network: bool
    node: str
    start_time: str
    replicaset_uid: str
    attributes: dict[str, str]
    containers: dict[str, Container]
    ignore: bool = False


class Rules:
    """Which metadata the config extracts."""

    def __init__(self, config: K8sAttributesConfig):
        self.metadata = frozenset(config.extract.metadata or DEFAULT_METADATA)
        rules = [Rule.of(f, "labels") for f in config.extract.labels] + [Rule.of(f, "annotations") for f in config.extract.annotations]
        if config.extract.otel_annotations:
            rules.append(Rule("$1", "", re.compile("^" + re.escape(OTEL_ANNOTATION_PREFIX) + "(.+)$"), "pod", "annotations"))
        self.pod_rules = [r for r in rules if r.source == "pod"]
        self.namespace_rules = [r for r in rules if r.source == "namespace"]
        self.node_rules = [r for r in rules if r.source == "node"]
        m = self.metadata
        self.containers = bool(m & {"k8s.container.name", "container.id", "container.image.name", "container.image.tag",
                                    "service.version", "service.instance.id"})
        self.deployment = bool(m & {"k8s.deployment.name", "k8s.deployment.uid", "service.name"})
        self.watch_namespaces = bool(self.namespace_rules) or "k8s.cluster.uid" in m
        self.all_namespaces = bool(self.namespace_rules)
        self.watch_nodes = bool(self.node_rules) or "k8s.node.uid" in m


def _labels(obj: dict[str, Any], kind: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in (obj.get("metadata", {}).get(kind) or {}).items()}


class Cluster:
    """The cache the informers feed and the processor reads."""

    def __init__(self, config: K8sAttributesConfig):
        self.rules = Rules(config)
        self.associations: list[tuple[tuple[str, str], ...]] = [tuple((s.from_, s.name if s.from_ == RESOURCE else "") for s in a.sources) for a in config.pod_association]
        self.exclude = [re.compile(p.name) for p in config.exclude.pods]
        self.pods: dict[Identifier, Pod] = {}
        self.replicasets: dict[str, tuple[str, str]] = {}  # uid -> (deployment name, deployment uid)
        self.namespaces: dict[str, dict[str, Any]] = {}  # name -> {"uid", "attributes"}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pending_deletes: list[tuple[float, Identifier, str]] = []

    # --- informer callbacks ----------------------------------------------------------------------

    def on_pod(self, kind: str, obj: dict[str, Any]) -> None:
        pod = self.pod_from_api(obj)
        if kind == "DELETED":
            now = time.monotonic()
            for ident in self.identifiers(pod):
                current = self.pods.get(ident)
                if current is not None and current.uid == pod.uid:
                    self.pending_deletes.append((now + DELETE_GRACE_SECONDS, ident, pod.uid))
            return
        for ident in self.identifiers(pod):
            current = self.pods.get(ident)
            # An IP reused by a newer pod: an update of the older one arriving late must not take it back.
            if current is not None and current.uid != pod.uid and pod.start_time and current.start_time and pod.start_time < current.start_time:
                continue
            self.pods[ident] = pod

    def expire_deleted(self) -> None:
        now = time.monotonic()
        keep = []
        for due, ident, uid in self.pending_deletes:
            if due > now:
                keep.append((due, ident, uid))
            elif (pod := self.pods.get(ident)) is not None and pod.uid == uid:
                del self.pods[ident]
        self.pending_deletes = keep

    def on_replicaset(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        uid = meta.get("uid", "")
        if kind == "DELETED":
            self.replicasets.pop(uid, None)
            return
        for owner in meta.get("ownerReferences") or []:
            if owner.get("kind") == "Deployment" and owner.get("controller"):
                self.replicasets[uid] = (owner.get("name", ""), owner.get("uid", ""))
                return
        self.replicasets[uid] = ("", "")

    def on_namespace(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        if kind == "DELETED":
            self.namespaces.pop(meta.get("name", ""), None)
            return
        attrs: dict[str, str] = {}
        for rule in self.rules.namespace_rules:
            rule.extract(_labels(obj, rule.kind), attrs)
        self.namespaces[meta.get("name", "")] = {"uid": meta.get("uid", ""), "attributes": attrs}

    def on_node(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        if kind == "DELETED":
            self.nodes.pop(meta.get("name", ""), None)
            return
        attrs: dict[str, str] = {}
        for rule in self.rules.node_rules:
            rule.extract(_labels(obj, rule.kind), attrs)
        self.nodes[meta.get("name", "")] = {"uid": meta.get("uid", ""), "attributes": attrs}

    # --- pods ------------------------------------------------------------------------------------

    def pod_from_api(self, obj: dict[str, Any]) -> Pod:
        meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
        rs_uid = next((o.get("uid", "") for o in meta.get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"), "")
        pod = Pod(name=meta.get("name", ""), namespace=meta.get("namespace", ""), uid=meta.get("uid", ""),
                  address=status.get("podIP", ""), host_network=bool(spec.get("hostNetwork")), node=spec.get("nodeName", ""),
                  start_time=status.get("startTime", ""), replicaset_uid=rs_uid, attributes={}, containers={})
        annotations = _labels(obj, "annotations")
        if annotations.get(IGNORE_ANNOTATION, "").strip().lower() == "true" or any(p.search(pod.name) for p in self.exclude):
            pod.ignore = True
            return pod
        pod.attributes = self.pod_attributes(obj, pod)
        if self.rules.containers:
            pod.containers = self.pod_containers(obj, pod)
        return pod

    def pod_attributes(self, obj: dict[str, Any], pod: Pod) -> dict[str, str]:
        m = self.rules.metadata
        meta = obj.get("metadata", {})
        tags: dict[str, str] = {}
        if "k8s.pod.name" in m:
            tags["k8s.pod.name"] = pod.name
        if "service.name" in m:
            tags["service.name"] = pod.name
        if "k8s.pod.hostname" in m:
            tags["k8s.pod.hostname"] = obj.get("spec", {}).get("hostname", "")
        if "k8s.pod.ip" in m:
            tags["k8s.pod.ip"] = pod.address
        if "k8s.namespace.name" in m:
            tags["k8s.namespace.name"] = pod.namespace
        if "service.namespace" in m:
            tags["service.namespace"] = pod.namespace
        if "k8s.pod.start_time" in m and meta.get("creationTimestamp"):
            tags["k8s.pod.start_time"] = meta["creationTimestamp"]
        if "k8s.pod.uid" in m:
            tags["k8s.pod.uid"] = pod.uid
        for ref in meta.get("ownerReferences") or []:
            kind, name, uid = ref.get("kind"), ref.get("name", ""), ref.get("uid", "")
            workload = {"ReplicaSet": "replicaset", "DaemonSet": "daemonset", "StatefulSet": "statefulset", "Job": "job"}.get(kind or "")
            if workload is None:
                continue
            if f"k8s.{workload}.uid" in m:
                tags[f"k8s.{workload}.uid"] = uid
            if f"k8s.{workload}.name" in m:
                tags[f"k8s.{workload}.name"] = name
            if "service.name" in m:
                tags["service.name"] = name
            if kind == "ReplicaSet":
                deployment, deployment_uid = self.replicasets.get(uid, ("", ""))
                if deployment and "k8s.deployment.name" in m:
                    tags["k8s.deployment.name"] = deployment
                if deployment and "service.name" in m:
                    tags["service.name"] = deployment
                if deployment_uid and "k8s.deployment.uid" in m:
                    tags["k8s.deployment.uid"] = deployment_uid
            elif kind == "Job" and (match := _CRONJOB_FROM_JOB.match(name)):
                if "k8s.cronjob.name" in m:
                    tags["k8s.cronjob.name"] = match.group(1)
                if "service.name" in m:
                    tags["service.name"] = match.group(1)
        if "k8s.node.name" in m:
            tags["k8s.node.name"] = pod.node
        if "k8s.cluster.uid" in m and "kube-system" in self.namespaces:
            tags["k8s.cluster.uid"] = self.namespaces["kube-system"]["uid"]
        labels = _labels(obj, "labels")
        for rule in self.rules.pod_rules:
            if rule.kind == "labels":
                rule.extract(labels, tags)
        if "service.name" in m:
            for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance"):  # instance wins over name
                if key in labels:
                    tags["service.name"] = labels[key]
        if "service.version" in m and "app.kubernetes.io/version" in labels:
            tags["service.version"] = labels["app.kubernetes.io/version"]
        annotations = _labels(obj, "annotations")
        for rule in self.rules.pod_rules:
            if rule.kind == "annotations":
                rule.extract(annotations, tags)
        return tags

    def pod_containers(self, obj: dict[str, Any], pod: Pod) -> dict[str, Container]:
        m = self.rules.metadata
        spec, status = obj.get("spec", {}), obj.get("status", {})
        containers: dict[str, Container] = {}
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            container = containers[c.get("name", "")] = Container()
            image = c.get("image", "")
            parsed = parse_image(image)
            if parsed is not None:
                container.image_name = parsed[0] if "container.image.name" in m else ""
                container.image_tag = parsed[1] if "container.image.tag" in m else ""
                if "service.version" in m:
                    container.service_version = service_version(image)
        for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
            name = s.get("name", "")
            container = containers.setdefault(name, Container())
            if "k8s.container.name" in m:
                container.name = name
            if "service.instance.id" in m:
                container.service_instance_id = f"{pod.namespace}.{pod.name}.{name}"
            container_id = s.get("containerID", "")
            container.ids[int(s.get("restartCount", 0))] = container_id.split("://", 1)[1] if "://" in container_id else container_id
        return containers

    def identifiers(self, pod: Pod) -> list[Identifier]:
        """Every identifier this pod answers to: one per association whose sources it has, then its uid and IP."""
        out: list[Identifier] = []
        for association in self.associations:
            values: list[tuple[str, str, str]] = []
            container_slot = -1
            for from_, name in association:
                if from_ == CONNECTION:
                    if not pod.address or pod.host_network:
                        break
                    values.append((CONNECTION, "", pod.address))
                    continue
                value = {"k8s.namespace.name": pod.namespace, "k8s.pod.name": pod.name, "k8s.pod.uid": pod.uid,
                         "host.name": pod.address, POD_IP: pod.address}.get(name)
                if name == "container.id":
                    container_slot = len(values)
                    values.append((RESOURCE, name, ""))
                    continue
                if value is None:
                    value = pod.attributes.get(name, "")
                if not value:
                    break
                values.append((RESOURCE, name, value))
            else:
                if container_slot == -1:
                    out.append(tuple(values))
                else:
                    for c in pod.containers.values():
                        for cid in c.ids.values():
                            with_id = list(values)
                            with_id[container_slot] = (RESOURCE, "container.id", cid)
                            out.append(tuple(with_id))
        if pod.uid:
            out.append(((RESOURCE, "k8s.pod.uid", pod.uid),))
        if pod.address and not pod.host_network:
            out.append(((CONNECTION, "", pod.address),))
            out.append(((RESOURCE, POD_IP, pod.address),))
        return out

    def lookup(self, attrs: dict[str, Any], connection_ip: str) -> Identifier:
        """The identifier telemetry with resource attributes `attrs` (key -> string value) carries (pod_association.go
        extractPodID): the first association whose sources are all present; without associations k8s.pod.ip, then
        `ip`, then the connection, then host.name when it is an IP address."""
        if not self.associations:
            for value in (attrs.get(POD_IP), attrs.get("ip"), connection_ip):
                if value:
                    return ((CONNECTION, "", value),)
            host = attrs.get("host.name")
            if host and _is_ip(host):
                return ((CONNECTION, "", host),)
            return ()
        for association in self.associations:
            values: list[tuple[str, str, str]] = []
            for from_, name in association:
                if from_ == CONNECTION:
                    if not connection_ip:
                        break
                    values.append((CONNECTION, "", connection_ip))
                    continue
                value = attrs.get(name)
                if not value or (name == "host.name" and not _is_ip(value)):
                    break
                values.append((RESOURCE, name, value))
            else:
                return tuple(values)
        return ()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
