"""k8s_attributes processor (otelcol's `k8sattributes`): adds the Kubernetes metadata of the pod that sent the
telemetry (pod, namespace, node, owning deployment/replicaset/job..., container image, labels and annotations) to
each resource, reading the pods from the Kubernetes API with list + watch (collector/kubeapi.py).

A resource finds its pod through `pod_association` (contrib's pod_association.go): resource attributes such as
`k8s.pod.ip` or `k8s.pod.uid`, or the connection's peer address (the OTLP receiver records it for every request).
Attributes already on the resource are kept (unless empty). Put it before `batch`: a batch mixes senders, so the
connection's address is gone after it, as in otelcol. In `passthrough` mode it only writes `k8s.pod.ip` from the
connection (an agent's job), and never calls the API.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ...client import client_address
from ...component import Capabilities, ComponentID, Processor, Rejected
from ...envelope import Envelope
from ...kubeapi import Informer, KubeClient
from ...registry import register
from .config import K8sAttributesConfig
from .pods import CONNECTION, POD_IP, Cluster, Container, Pod

_RESOURCES = {"traces": "resource_spans", "logs": "resource_logs", "metrics": "resource_metrics"}


class _Watcher:
    """The informers of one configured processor id, shared by its instances in each pipeline (one cache, one
    set of watches, as otelcol's shared watch client)."""

    def __init__(self, config: K8sAttributesConfig, log: Any):
        self.config = config
        self.log = log
        self.cluster = Cluster(config)
        self.users = 0
        self.client: KubeClient | None = None
        self.informers: list[Informer] = []
        self.started: asyncio.Task[None] | None = None
        self.sweeper: asyncio.Task[None] | None = None

    def _selectors(self) -> dict[str, str]:
        f = self.config.filter
        node = os.environ.get(f.node_from_env_var, "") if f.node_from_env_var else f.node
        fields = [f"{x.key}{'!=' if x.op == 'not-equals' else '='}{x.value}" for x in f.fields]
        if node:
            fields.append(f"spec.nodeName={node}")
        ops = {"": "=", "equals": "=", "not-equals": "!="}
        labels = [f"{x.key}{ops[x.op]}{x.value}" if x.op in ops else (x.key if x.op == "exists" else f"!{x.key}") for x in f.labels]
        params = {}
        if labels:
            params["labelSelector"] = ",".join(labels)
        if fields:
            params["fieldSelector"] = ",".join(fields)
        return params

    async def start(self) -> None:
        self.client = KubeClient(self.config)
        cluster, rules, ns = self.cluster, self.cluster.rules, self.config.filter.namespace
        scope = f"/namespaces/{ns}" if ns else ""
        plan: list[tuple[str, dict[str, str], Any]] = []
        if rules.deployment:
            plan.append((f"/apis/apps/v1{scope}/replicasets", {}, cluster.on_replicaset))
        if rules.watch_namespaces:
            params = {} if rules.all_namespaces else {"fieldSelector": "metadata.name=kube-system"}
            plan.append(("/api/v1/namespaces", params, cluster.on_namespace))
        if rules.watch_nodes:
            node = os.environ.get(self.config.filter.node_from_env_var, "") if self.config.filter.node_from_env_var else self.config.filter.node
            plan.append(("/api/v1/nodes", {"fieldSelector": f"metadata.name={node}"} if node else {}, cluster.on_node))
        for path, params, handler in plan:
            self.informers.append(Informer(self.client, path, params, handler, self.log))
        pods = Informer(self.client, f"/api/v1{scope}/pods", self._selectors(), cluster.on_pod, self.log)
        for informer in self.informers:
            informer.start()
        self.informers.append(pods)
        self.started = asyncio.get_running_loop().create_task(self._start_pods(pods))
        self.sweeper = asyncio.get_running_loop().create_task(self._sweep())
        if self.config.wait_for_metadata:
            try:
                await asyncio.wait_for(pods.synced.wait(), timeout=float(self.config.wait_for_metadata_timeout))
            except TimeoutError:
                raise RuntimeError(f"failed to wait for caches to sync: no pod list within wait_for_metadata_timeout ({self.config.wait_for_metadata_timeout})") from None

    async def _start_pods(self, pods: Informer) -> None:
        # As client.go: the pods are handled once the objects their metadata refers to are listed.
        await asyncio.gather(*(i.synced.wait() for i in self.informers if i is not pods))
        pods.start()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            self.cluster.expire_deleted()

    async def stop(self) -> None:
        for task in (self.started, self.sweeper):
            if task is not None:
                task.cancel()
        for informer in self.informers:
            await informer.stop()
        if self.client is not None:
            await self.client.close()


_WATCHERS: dict[ComponentID, _Watcher] = {}


@register
class K8sAttributesProcessor(Processor):
    type_name = "k8s_attributes"
    deprecated_type_names = ("k8sattributes",)
    description = "Adds the sending pod's Kubernetes metadata (pod, namespace, node, deployment, container image, labels, annotations) read from the Kubernetes API."
    config_class = K8sAttributesConfig
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: K8sAttributesConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.field = _RESOURCES[str(self.signal)]
        self.write_pod_ip = config.passthrough or "k8s.pod.ip" in (config.extract.metadata or ())
        self.watcher: _Watcher | None = None
        self.cluster = Cluster(config)
        self.m_assoc = self.telemetry.counter("otelcol_otelsvc_k8s_pod_association", "Resources looked up by pod association, by outcome.", ("processor", "status"))

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Kubernetes API access", (
            "With `auth_type: serviceAccount` the daemon reads the pod's token and CA from "
            "/var/run/secrets/kubernetes.io/serviceaccount (`LLM_COLLECTOR_SERVICE_ACCOUNT_DIR` names another "
            "directory) and finds the API server in KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, as client-go "
            "does. Its service account needs `get`, `list` and `watch` on `pods` (and on `replicasets` for "
            "k8s.deployment.*, `namespaces` for namespace labels or k8s.cluster.uid, `nodes` for node labels or "
            "k8s.node.uid): the same ClusterRole otelcol's README gives. The instances of one processor id in several "
            "pipelines share one cache and one set of watches. A deleted pod stays associated for 2 minutes, for "
            "telemetry it sent just before. The tests run against a fake API server (tests/fakes/kube_api.py), "
            "not a cluster."), None)]

    async def start(self, host: Any) -> None:
        if self.config.passthrough:
            return
        watcher = _WATCHERS.get(self.id)
        if watcher is None:
            watcher = _Watcher(self.config, self.log)
            try:
                await watcher.start()
            except BaseException:
                await watcher.stop()
                raise
            _WATCHERS[self.id] = watcher
        watcher.users += 1
        self.watcher = watcher
        self.cluster = watcher.cluster

    async def shutdown(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is None:
            return
        watcher.users -= 1
        if watcher.users == 0:
            _WATCHERS.pop(self.id, None)
            await watcher.stop()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        address = client_address.get()
        found = missed = 0
        for entry in getattr(envelope.request, self.field):
            hit = self._process(entry.resource.attributes, address)
            if hit is not None:
                found += hit
                missed += not hit
        if found:
            self.m_assoc.labels(str(self.id), "success").inc(found)
        if missed:
            self.m_assoc.labels(str(self.id), "error").inc(missed)
        return await self.next.consume(envelope)

    def _process(self, attrs: Any, address: str) -> bool | None:
        """Adds the pod's metadata to one resource; whether its pod was found (None in passthrough mode)."""
        index = {kv.key: kv for kv in attrs}
        strings = {k: kv.value.string_value for k, kv in index.items() if kv.value.WhichOneof("value") == "string_value"}
        cluster = self.cluster
        ident = cluster.lookup(strings, address)
        if self.write_pod_ip:
            ip = next((value for from_, _, value in ident if from_ == CONNECTION and value), "")
            if ip:
                _put(attrs, index, POD_IP, ip)
        if self.config.passthrough:
            return None
        pod = cluster.pods.get(ident) if ident else None
        if pod is not None and pod.ignore:
            pod = None
        if pod is not None:
            for key, value in pod.attributes.items():
                _put(attrs, index, key, value)
            self._containers(attrs, index, strings, pod)
        namespace = pod.namespace if pod is not None and pod.namespace else strings.get("k8s.namespace.name", "")
        if namespace and (ns := cluster.namespaces.get(namespace)) is not None:
            for key, value in ns["attributes"].items():
                _put(attrs, index, key, value)
        node_name = pod.node if pod is not None and pod.node else strings.get("k8s.node.name", "")
        if node_name and (node := cluster.nodes.get(node_name)) is not None:
            for key, value in node["attributes"].items():
                _put(attrs, index, key, value)
            if "k8s.node.uid" in cluster.rules.metadata and node["uid"]:
                _put(attrs, index, "k8s.node.uid", node["uid"])
        return pod is not None

    def _containers(self, attrs: Any, index: dict[str, Any], strings: dict[str, str], pod: Pod) -> None:
        """processor.go addContainerAttributes: the container named by k8s.container.name or container.id, or the
        pod's only one."""
        name, cid = strings.get("k8s.container.name", ""), strings.get("container.id", "")
        spec: Container | None
        if name:
            spec = pod.containers.get(name)
        elif cid:
            spec = next((c for c in pod.containers.values() if cid in c.ids.values()), None)
        else:
            spec = next(iter(pod.containers.values())) if len(pod.containers) == 1 else None
        if spec is None:
            return
        for key, value in (("k8s.container.name", spec.name), ("container.image.name", spec.image_name), ("container.image.tag", spec.image_tag),
                           ("service.instance.id", spec.service_instance_id), ("service.version", spec.service_version)):
            if value:
                _put(attrs, index, key, value)
        if "container.id" in self.cluster.rules.metadata and spec.ids:
            restart = index.get("k8s.container.restart_count")
            run = restart.value.int_value if restart is not None and restart.value.WhichOneof("value") == "int_value" else max(spec.ids)
            if run in spec.ids and spec.ids[run]:
                _put(attrs, index, "container.id", spec.ids[run])


def _put(attrs: Any, index: dict[str, Any], key: str, value: str) -> None:
    """processor.go setResourceAttribute: set unless the resource already has a non-empty value."""
    existing = index.get(key)
    if existing is None:
        kv = attrs.add()
        kv.key = key
        kv.value.string_value = value
        index[key] = kv
    elif _empty(existing.value):
        existing.value.string_value = value


def _empty(value: Any) -> bool:
    """Whether pcommon.Value.AsString would be "": an unset value or an empty string (other types never are)."""
    kind = value.WhichOneof("value")
    return kind is None or (kind == "string_value" and not value.string_value)
