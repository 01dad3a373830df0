"""The k8s_attributes processor's configuration: otelcol's keys (contrib processor/k8sattributesprocessor/config.go)
and its Validate rules, each refusal naming the key it is about."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from ...config import Duration, Invalid, option
from ...kubeapi import APIConfig

# config.go's Validate: the metadata fields extract.metadata accepts.
METADATA_FIELDS = (
    "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.hostname", "k8s.pod.start_time", "k8s.pod.ip",
    "k8s.deployment.name", "k8s.deployment.uid", "k8s.replicaset.name", "k8s.replicaset.uid",
    "k8s.daemonset.name", "k8s.daemonset.uid", "k8s.statefulset.name", "k8s.statefulset.uid",
    "k8s.job.name", "k8s.job.uid", "k8s.cronjob.name", "k8s.node.name", "k8s.node.uid",
    "k8s.container.name", "container.id", "container.image.name", "container.image.tag", "k8s.cluster.uid",
    "service.namespace", "service.name", "service.version", "service.instance.id",
)
# metadata.yaml's resource attributes enabled by default (what an empty extract.metadata extracts).
DEFAULT_METADATA = (
    "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.start_time", "k8s.deployment.name", "k8s.node.name",
    "container.image.name", "container.image.tag",
)
# Fields this daemon cannot fill (they need objects or runtimes it does not watch).
_UNSUPPORTED = {"container.image.repo_digests": "needs the container runtime's image digests"}


@dataclass
class FieldExtract:
    tag_name: str = option("", "Resource attribute to write; default `k8s.<from>.labels.<key>` (or `.annotations.`). With `key_regex`, `$1` / `${name}` refer to its groups.")
    key: str = option("", "Label or annotation name, exactly.")
    key_regex: str = option("", "Regular expression (anchored) the label or annotation name must match; set this or `key`.")
    from_: Literal["", "pod", "namespace", "node"] = option("", "Whose labels or annotations: `pod` (default), `namespace` or `node`.", key="from")


@dataclass
class ExtractConfig:
    metadata: list[str] = option(factory=list, doc="Metadata to add (otelcol's list: k8s.pod.name, k8s.pod.uid, k8s.namespace.name, k8s.deployment.name, k8s.node.name, k8s.pod.start_time, container.image.name, ...). Empty means otelcol's defaults: " + ", ".join(DEFAULT_METADATA) + ".")
    labels: list[FieldExtract] = option(factory=list, doc="Labels to copy into resource attributes.")
    annotations: list[FieldExtract] = option(factory=list, doc="Annotations to copy into resource attributes.")
    otel_annotations: bool = option(False, "Copy every pod annotation `resource.opentelemetry.io/<attribute>` to `<attribute>`.")


@dataclass
class FieldFilter:
    key: str = option("", "Label or field name.")
    value: str = option("", "Value to compare with.")
    op: Literal["", "equals", "not-equals", "exists", "does-not-exist"] = option("", "`equals` (default), `not-equals`; labels also `exists`, `does-not-exist`.")


@dataclass
class FilterConfig:
    node: str = option("", "Only pods on this node (fieldSelector spec.nodeName).")
    node_from_env_var: str = option("", "Environment variable holding the node name (the Downward API's spec.nodeName); must be set.")
    namespace: str = option("", "Only pods of this namespace (watched through the namespaced path).")
    fields: list[FieldFilter] = option(factory=list, doc="Field selectors (equals, not-equals).")
    labels: list[FieldFilter] = option(factory=list, doc="Label selectors (equals, not-equals, exists, does-not-exist).")

    def validate(self) -> None:
        if self.node_from_env_var and self.node_from_env_var not in os.environ:
            raise Invalid(f'`node_from_env_var` is configured but envvar "{self.node_from_env_var}" is not set', "node_from_env_var")
        for i, f in enumerate(self.fields):
            if f.op not in ("", "equals", "not-equals"):
                raise Invalid(f"'{f.op}' is not a valid field filter operation (equals, not-equals)", ("fields", i, "op"))


@dataclass
class AssociationSource:
    from_: Literal["resource_attribute", "connection"] = option(doc="`resource_attribute` (the resource attribute `name`) or `connection` (the sender's IP address).", key="from")
    name: str = option("", "With `resource_attribute`: the attribute, e.g. `k8s.pod.ip`, `k8s.pod.uid`, `host.name`.")


@dataclass
class PodAssociation:
    sources: list[AssociationSource] = option(factory=list, doc="Values that together identify the pod (at most 4); the first association whose sources are all present is used.")

    def validate(self) -> None:
        if len(self.sources) > 4:
            raise Invalid("too many association sources. limit is 4", "sources")
        for i, s in enumerate(self.sources):
            if s.from_ == "resource_attribute" and not s.name:
                raise Invalid("a resource_attribute source needs a name", ("sources", i, "name"))


@dataclass
class ExcludePod:
    name: str = option(doc="Regular expression on pod names (unanchored, as otelcol's).")


@dataclass
class ExcludeConfig:
    pods: list[ExcludePod] = option(factory=lambda: [ExcludePod("jaeger-agent"), ExcludePod("jaeger-collector")], doc="Pods never associated; default jaeger-agent and jaeger-collector.")


@dataclass
class K8sAttributesConfig(APIConfig):
    passthrough: bool = option(False, "Only add `k8s.pod.ip` (the connection's address); no Kubernetes API access.")
    extract: ExtractConfig = option(factory=ExtractConfig, doc="What to add.")
    filter: FilterConfig = option(factory=FilterConfig, doc="Which pods to watch.")
    pod_association: list[PodAssociation] = option(factory=list, doc="How telemetry finds its pod. Empty: k8s.pod.ip, then `ip`, then the connection's address, then host.name if it is an IP.")
    exclude: ExcludeConfig = option(factory=ExcludeConfig, doc="Pods to ignore.")
    wait_for_metadata: bool = option(False, "Start only once the pods are listed (fails after wait_for_metadata_timeout).")
    wait_for_metadata_timeout: Duration = option(Duration(10.0), "How long start-up waits for the pod list.")

    def validate(self) -> None:
        APIConfig.validate(self)
        for i, field in enumerate(self.extract.metadata):
            if field in _UNSUPPORTED:
                raise Invalid(f'"{field}" is not supported here: it {_UNSUPPORTED[field]}', ("extract", "metadata", i))
            if field not in METADATA_FIELDS:
                raise Invalid(f'"{field}" is not a supported metadata field', ("extract", "metadata", i))
        for section in ("labels", "annotations"):
            for i, f in enumerate(getattr(self.extract, section)):
                if f.key and f.key_regex:
                    raise Invalid(f"Out of Key or KeyRegex only one option is expected to be configured at a time, currently Key:{f.key} and KeyRegex:{f.key_regex}", ("extract", section, i))
                if not f.key and not f.key_regex:
                    raise Invalid("set key or key_regex", ("extract", section, i))
                if f.key_regex:
                    try:
                        re.compile(f"^(?:{f.key_regex})$")
                    except re.error as exc:
                        raise Invalid(f"invalid regular expression: {exc}", ("extract", section, i, "key_regex")) from None
        for i, pod in enumerate(self.exclude.pods):
            try:
                re.compile(pod.name)
            except re.error as exc:
                raise Invalid(f"invalid regular expression: {exc}", ("exclude", "pods", i, "name")) from None
