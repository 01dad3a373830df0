"""resource_detection processor (otelcol's `resourcedetection`): detects resource attributes of where the daemon runs
and adds them to every resource passing through, as contrib's processor/resourcedetectionprocessor does.

Detectors: `env` (OTEL_RESOURCE_ATTRIBUTES), `system` (host name, OS, architecture, host id, CPU, addresses),
`docker` (the Docker daemon's host name and OS, over its Engine API) and `k8s_api` (`k8snode`: this node and
cluster from the Kubernetes API). otelcol's cloud detectors (ec2, gcp, azure, eks, ...) are refused with what they
do and what to use instead (config.py). Detection runs at start-up, all detectors at once, each retried with
backoff until `timeout` (internal/resourcedetection.go); a detector still failing then stops start-up. The first
detector listed wins an attribute two of them detect; `override` decides between detected and existing values.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from ...component import Capabilities, ComponentID, Processor, Rejected
from ...envelope import Envelope
from ...registry import register
from .config import UNSUPPORTED, ResourceDetectionConfig
from .host import Attributes, DetectionError, detect_env, detect_system
from .remote import detect_docker, detect_k8s_api

_RESOURCES = {"traces": "resource_spans", "logs": "resource_logs", "metrics": "resource_metrics"}


class Provider:
    """The detected resource of one configured processor id, shared by its instances in each pipeline (otelcol's
    factory keeps one ResourceProvider per id)."""

    def __init__(self, config: ResourceDetectionConfig, log: Any):
        self.config = config
        self.log = log
        self.attributes: Attributes = {}
        self.schema_url = ""
        self.users = 0
        self._refresh: asyncio.Task[None] | None = None

    async def _detect_one(self, name: str) -> tuple[Attributes, str]:
        c = self.config
        if name == "env":
            return detect_env(c.env)
        if name == "system":
            return await asyncio.to_thread(detect_system, c.system, self.log)
        if name == "docker":
            return await detect_docker(c.docker, float(c.timeout))
        if name == "k8snode":
            self.log.warning("the k8snode detector name is deprecated, use k8s_api instead")
        return await detect_k8s_api(c.k8s_api if name == "k8s_api" else c.k8snode, self.log)

    async def _with_retries(self, name: str, deadline: float) -> tuple[Attributes, str]:
        # resourcedetection.go: exponential backoff from 1 s (x2, randomization 1.5) until the timeout.
        interval = 1.0
        while True:
            try:
                return await asyncio.wait_for(self._detect_one(name), timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                raise DetectionError(f"detector {name}: no answer within timeout ({self.config.timeout})") from None
            except DetectionError as exc:
                self.log.warning("failed to detect resource", detector=name, error=str(exc))
                delay = interval * random.uniform(max(0.0, 1 - 1.5), 1 + 1.5)
                if time.monotonic() + delay >= deadline:
                    raise DetectionError(f"detector {name}: {exc}") from None
                await asyncio.sleep(delay)
                interval *= 2

    async def detect(self) -> tuple[Attributes, str]:
        self.log.info("began detecting resource information")
        deadline = time.monotonic() + float(self.config.timeout)
        results = await asyncio.gather(*(self._with_retries(n, deadline) for n in self.config.detectors), return_exceptions=True)
        merged: Attributes = {}
        schema = ""
        errors = []
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, DetectionError):
                    raise result
                errors.append(str(result))
                continue
            attrs, url = result
            for key, value in attrs.items():
                merged.setdefault(key, value)  # MergeResource(res, detected, false): the earlier detector wins
            schema = schema or url
        if errors:
            raise DetectionError("; ".join(errors))
        self.log.info("detected resource information", resource=merged)
        return merged, schema

    async def start(self) -> None:
        self.attributes, self.schema_url = await self.detect()
        if self.config.refresh_interval > 0:
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(float(self.config.refresh_interval))
            try:
                attrs, schema = await self.detect()
            except DetectionError as exc:
                self.log.warning("resource refresh failed; keeping previous snapshot", error=str(exc))
                continue
            self.attributes, self.schema_url = attrs, schema

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()


_PROVIDERS: dict[ComponentID, Provider] = {}


@register
class ResourceDetectionProcessor(Processor):
    type_name = "resource_detection"
    deprecated_type_names = ("resourcedetection",)
    description = "Adds resource attributes detected where the daemon runs: OTEL_RESOURCE_ATTRIBUTES (env), the host (system), Docker, the Kubernetes node (k8s_api)."
    config_class = ResourceDetectionConfig
    capabilities = Capabilities(mutates_data=True)

    def __init__(self, settings: Any, config: ResourceDetectionConfig, next_consumer: Any):
        super().__init__(settings, config, next_consumer)
        self.field = _RESOURCES[str(self.signal)]
        self.provider: Provider | None = None

    @classmethod
    def ineffective_keys(cls, config: ResourceDetectionConfig) -> list[tuple[str, str]]:
        out = [(name, "settings of an otelcol cloud detector this daemon does not have (and the config does not list)") for name in config.cloud_settings()]
        if config.fail_on_missing_metadata:
            out.append(("fail_on_missing_metadata", "only otelcol's cloud detectors read metadata services; the detectors here always fail when their source cannot be read"))
        return out

    @classmethod
    def reference_sections(cls) -> list[tuple[str, str, type | None]]:
        return [("Detectors", (
            "`env`: every `key=value` of OTEL_RESOURCE_ATTRIBUTES (URL-decoded; a malformed value stops start-up). "
            "`system`: host.name, os.type (on by default) and host.id (/etc/machine-id), host.arch, host.ip, host.mac, "
            "host.interface, os.description, host.cpu.vendor.id / family / model.id / model.name / stepping / "
            "cache.l2.size (/proc/cpuinfo) when enabled; os.name, os.version and os.build.id are refused. "
            "`docker`: host.name and os.type of the Docker daemon on $DOCKER_HOST. `k8s_api` (older name `k8snode`): "
            "k8s.node.name from the variable node_from_env_var names, k8s.node.uid (GET /api/v1/nodes/<name>) and "
            "k8s.cluster.uid (the kube-system namespace's uid), with the auth_type settings of k8s_attributes. Not "
            "available, and refused by name: " + ", ".join(f"`{n}`" for n in UNSUPPORTED) + ". The docker and k8s_api "
            "detectors are tested against fakes of the Docker Engine API and the Kubernetes API (tests/fakes/)."), None)]

    async def start(self, host: Any) -> None:
        provider = _PROVIDERS.get(self.id)
        if provider is None:
            provider = Provider(self.config, self.log)
            await provider.start()
            _PROVIDERS[self.id] = provider
        provider.users += 1
        self.provider = provider

    async def shutdown(self) -> None:
        provider, self.provider = self.provider, None
        if provider is None:
            return
        provider.users -= 1
        if provider.users == 0:
            _PROVIDERS.pop(self.id, None)
            await provider.stop()

    async def consume(self, envelope: Envelope) -> Rejected | None:
        provider = self.provider
        if provider is not None and provider.attributes:
            detected, schema, override = provider.attributes, provider.schema_url, self.config.override
            for entry in getattr(envelope.request, self.field):
                if schema and not entry.schema_url:
                    entry.schema_url = schema  # MergeSchemaURL: an existing schema URL is kept
                merge(entry.resource.attributes, detected, override)
        return await self.next.consume(envelope)


def merge(attrs: Any, detected: Attributes, override: bool) -> None:
    """resourcedetection.go MergeResource(resource, detected, override)."""
    index = {kv.key: kv for kv in attrs}
    for key, value in detected.items():
        kv = index.get(key)
        if kv is None:
            kv = attrs.add()
            kv.key = key
        elif not override:
            continue
        else:
            kv.ClearField("value")
        if isinstance(value, bool) or not isinstance(value, (int, list)):
            kv.value.string_value = str(value)
        elif isinstance(value, int):
            kv.value.int_value = value
        else:
            values = kv.value.array_value.values
            for item in value:
                values.add().string_value = str(item)
