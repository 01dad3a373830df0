"""The detectors that ask a daemon: `docker` (the Docker Engine API's GET /info, as contrib's
internal/metadataproviders/docker does through the Docker client) and `k8s_api` (this node and the cluster from the
Kubernetes API, as internal/k8sapi/k8s.go with metadataproviders/k8snode)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...kubeapi import KubeAPIError, KubeClient
from ...lazyimport import lazy
from .config import DOCKER_ATTRIBUTES, K8S_API_ATTRIBUTES, DockerConfig, K8sAPIConfig, enabled
from .host import Attributes, DetectionError, os_type

if TYPE_CHECKING:
    import aiohttp
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp = lazy("aiohttp")

SCHEMA_1_6_1 = "https://opentelemetry.io/schemas/1.6.1"
SCHEMA_1_40_0 = "https://opentelemetry.io/schemas/1.40.0"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_OS_TYPES = {"windows": "windows", "linux": "linux"}


def _docker_connector() -> tuple[aiohttp.BaseConnector, str]:
    """The Docker client's FromEnv: $DOCKER_HOST (unix:// or tcp://), default unix:///var/run/docker.sock."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    url = urlsplit(host)
    if url.scheme == "unix":
        return aiohttp.UnixConnector(path=url.path), "http://docker"
    if url.scheme in ("tcp", "http"):
        return aiohttp.TCPConnector(), f"http://{url.netloc}"
    raise DetectionError(f"unsupported DOCKER_HOST scheme {url.scheme!r} (unix:// or tcp://)")


async def detect_docker(config: DockerConfig, timeout: float) -> tuple[Attributes, str]:
    """docker.go Detect: host.name and os.type of the Docker daemon (`Name`, `OSType` of GET /info), after the API
    version negotiation the Docker client does with GET /_ping."""
    wanted = enabled(config.resource_attributes, DOCKER_ATTRIBUTES)
    connector, base = _docker_connector()
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
            async with session.get(f"{base}/_ping") as ping:
                version = ping.headers.get("API-Version", "")
            async with session.get(f"{base}/v{version}/info" if version else f"{base}/info") as response:
                if response.status != 200:
                    raise DetectionError(f"failed getting OS type: Docker GET /info answered {response.status}")
                info = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise DetectionError(f"failed getting OS type: cannot reach the Docker daemon at {os.environ.get('DOCKER_HOST') or DEFAULT_DOCKER_HOST}: {exc!r}") from None
    attrs: Attributes = {"host.name": str(info.get("Name", "")), "os.type": _OS_TYPES.get(str(info.get("OSType", "")).lower(), os_type())}
    return {k: v for k, v in attrs.items() if k in wanted}, SCHEMA_1_6_1


async def detect_k8s_api(config: K8sAPIConfig, log: Any) -> tuple[Attributes, str]:
    """k8s.go Detect: the node named by node_from_env_var (GET /api/v1/nodes/<name>) and the cluster's uid (the
    kube-system namespace's; skipped with a warning when the service account may not read it)."""
    wanted = enabled(config.resource_attributes, K8S_API_ATTRIBUTES)
    node_name = os.environ.get(config.node_from_env_var or "K8S_NODE_NAME", "")
    if not node_name:
        raise DetectionError("node name can't be found. Check the readme on how to set the required env variable")
    attrs: Attributes = {}
    try:
        client = KubeClient(config)
    except KubeAPIError as exc:
        raise DetectionError(f"failed creating k8snode detector: {exc}") from None
    try:
        if "k8s.node.uid" in wanted:
            try:
                node = await client.get(f"/api/v1/nodes/{node_name}")
            except KubeAPIError as exc:
                raise DetectionError(f"failed getting k8s node UID: {exc}") from None
            attrs["k8s.node.uid"] = node.get("metadata", {}).get("uid", "")
        if "k8s.node.name" in wanted:
            attrs["k8s.node.name"] = node_name
        if "k8s.cluster.uid" in wanted:
            try:
                namespace = await client.get("/api/v1/namespaces/kube-system")
                attrs["k8s.cluster.uid"] = namespace.get("metadata", {}).get("uid", "")
            except KubeAPIError as exc:
                if exc.status not in (401, 403):
                    raise DetectionError(f"failed getting k8s cluster UID: {exc}") from None
                log.warning("no permission to get kube-system namespace, skipping k8s.cluster.uid; grant 'get' on namespaces/kube-system to fix", error=str(exc))
    finally:
        await client.close()
    return attrs, SCHEMA_1_40_0
