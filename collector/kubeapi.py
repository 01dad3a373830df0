"""A small Kubernetes API client over aiohttp, for the components that read cluster metadata (the k8s_attributes
processor, resource_detection's k8s_api detector): otelcol's `auth_type` settings (internal/k8sconfig), GET of
one object, and list + watch of a collection kept as a local cache, the way client-go's informers do it.

`auth_type: serviceAccount` reads the pod's token and CA from /var/run/secrets/kubernetes.io/serviceaccount and
the API server's address from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, as client-go's
rest.InClusterConfig does; `kubeConfig` reads the current context of ~/.kube/config (or $KUBECONFIG): server,
CA, bearer token or client certificate; `none` talks to the server in KUBERNETES_SERVICE_HOST/PORT without
credentials. A watch is `GET <collection>?watch=true&resourceVersion=<rv>&allowWatchBookmarks=true`, answered
with newline-delimited JSON events (ADDED / MODIFIED / DELETED / BOOKMARK / ERROR); a `410 Gone` (an expired
resourceVersion) makes the cache list again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import yaml

from .config import Invalid, option
from .lazyimport import lazy

if TYPE_CHECKING:
    import aiohttp
else:  # imported by start(), not by `validate` (collector/lazyimport.py)
    aiohttp = lazy("aiohttp")

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
AuthType = Literal["serviceAccount", "kubeConfig", "none", "tls"]


class KubeAPIError(Exception):
    """The API server could not be reached or answered an error; the message names the request, never a token."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass
class APIConfig:
    """otelcol's k8sconfig.APIConfig keys (squashed into the component's config)."""

    auth_type: AuthType = option("serviceAccount", "How to authenticate to the Kubernetes API server: `serviceAccount` (the pod's token and CA), `kubeConfig` (the current context of ~/.kube/config or $KUBECONFIG) or `none`. otelcol's `tls` is refused.")
    context: str = option("", "With `kubeConfig`: the context to use instead of the current one.")

    def validate(self) -> None:
        if self.auth_type == "tls":
            raise Invalid('auth_type "tls" (client certificates given as files) is not supported here; use serviceAccount or kubeConfig', "auth_type")


@dataclass
class Connection:
    base_url: str
    headers: dict[str, str]
    ssl: ssl.SSLContext | bool


def _service_env() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeAPIError("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def connection(config: APIConfig) -> Connection:
    """Where and how to reach the API server for `config` (otelcol's k8sconfig.CreateRestConfig)."""
    if config.auth_type == "none":
        return Connection(f"http://{_service_env()}", {}, False)
    if config.auth_type == "serviceAccount":
        address = _service_env()
        directory = Path(os.environ.get("LLM_COLLECTOR_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR))
        try:
            token = (directory / "token").read_text().strip()
        except OSError as exc:
            raise KubeAPIError(f"cannot read the service account token {directory / 'token'}: {exc.strerror}") from None
        context = ssl.create_default_context(cafile=str(directory / "ca.crt")) if (directory / "ca.crt").exists() else ssl.create_default_context()
        return Connection(f"https://{address}", {"Authorization": f"Bearer {token}"}, context)
    return _from_kubeconfig(config.context)


def _from_kubeconfig(context_name: str) -> Connection:
    path = Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KubeAPIError(f"cannot read kubeconfig {path}: {exc}") from None
    name = context_name or doc.get("current-context", "")
    ctx = next((c.get("context", {}) for c in doc.get("contexts") or [] if c.get("name") == name), None)
    if ctx is None:
        raise KubeAPIError(f'kubeconfig {path} has no context "{name}"')
    cluster: dict[str, Any] = next((c.get("cluster", {}) for c in doc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
    user: dict[str, Any] = next((u.get("user", {}) for u in doc.get("users") or [] if u.get("name") == ctx.get("user")), {})
    server = str(cluster.get("server", "")).rstrip("/")
    if not server:
        raise KubeAPIError(f'kubeconfig {path}: cluster "{ctx.get("cluster")}" has no server')
    headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
    if not server.startswith("https://"):
        return Connection(server, headers, False)
    context = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cluster.get("certificate-authority-data"):
        context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        context.load_verify_locations(cafile=cluster["certificate-authority"])
    cert, key = user.get("client-certificate"), user.get("client-key")
    if user.get("client-certificate-data") and user.get("client-key-data"):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = str(Path(tmp) / "cert.pem"), str(Path(tmp) / "key.pem")
            Path(cert).write_bytes(base64.b64decode(user["client-certificate-data"]))
            Path(key).write_bytes(base64.b64decode(user["client-key-data"]))
            context.load_cert_chain(cert, key)
    elif cert and key:
        context.load_cert_chain(cert, key)
    return Connection(server, headers, context)


class KubeClient:
    """One session to the API server."""

    def __init__(self, config: APIConfig):
        self.conn = connection(config)
        self.session = aiohttp.ClientSession(headers={"Accept": "application/json", **self.conn.headers})

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, params: dict[str, str] | None = None, timeout: float = 10.0) -> dict[str, Any]:
        url = self.conn.base_url + path + (f"?{urlencode(params)}" if params else "")
        try:
            async with self.session.get(url, ssl=self.conn.ssl, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                if response.status != 200:
                    raise KubeAPIError(f"GET {path}: {response.status} {await _reason(response)}", response.status)
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeAPIError(f"GET {path}: {exc!r}") from None

    async def watch(self, path: str, params: dict[str, str]) -> Any:
        """The events of one watch request, as parsed JSON objects, until the server ends it."""
        query = {**params, "watch": "true", "allowWatchBookmarks": "true"}
        url = f"{self.conn.base_url}{path}?{urlencode(query)}"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=10)
        try:
            async with self.session.get(url, ssl=self.conn.ssl, timeout=timeout) as response:
                if response.status != 200:
                    raise KubeAPIError(f"watch {path}: {response.status} {await _reason(response)}", response.status)
                async for line in response.content:
                    if line.strip():
                        yield json.loads(line)
        except (aiohttp.ClientError, ValueError) as exc:
            raise KubeAPIError(f"watch {path}: {exc!r}") from None


async def _reason(response: aiohttp.ClientResponse) -> str:
    try:
        body = await response.json(content_type=None)
        return str(body.get("message") or body.get("reason") or "")[:200]
    except (ValueError, aiohttp.ClientError):
        return response.reason or ""


class Informer:
    """A collection kept current by list + watch: `on_event(kind, object)` with kind ADDED / MODIFIED / DELETED
    for each change (and ADDED for each item of every list). `synced` is set after the first list."""

    def __init__(self, client: KubeClient, path: str, params: dict[str, str], on_event: Callable[[str, dict[str, Any]], None],
                 log: Any, retry_delay: float = 1.0):
        self.client = client
        self.path = path
        self.params = params
        self.on_event = on_event
        self.log = log
        self.retry_delay = retry_delay
        self.synced = asyncio.Event()
        self.known: dict[str, dict[str, Any]] = {}  # uid -> object, to tell DELETED for items gone between lists
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _list(self) -> str:
        body = await self.client.get(self.path, self.params)
        items = body.get("items") or []
        seen = set()
        for item in items:
            uid = item.get("metadata", {}).get("uid", "")
            seen.add(uid)
            self.known[uid] = item
            self.on_event("ADDED", item)
        for uid in [u for u in self.known if u not in seen]:
            self.on_event("DELETED", self.known.pop(uid))
        self.synced.set()
        return str(body.get("metadata", {}).get("resourceVersion", ""))

    async def _run(self) -> None:
        version = ""
        while True:
            try:
                if not version:
                    version = await self._list()
                async for event in self.client.watch(self.path, {**self.params, "resourceVersion": version}):
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            self.log.info("watch expired; listing again", path=self.path)
                            version = ""
                            break
                        raise KubeAPIError(f"watch {self.path}: {obj.get('message', 'error event')}")
                    version = str(obj.get("metadata", {}).get("resourceVersion", version))
                    if kind == "BOOKMARK":
                        continue
                    uid = obj.get("metadata", {}).get("uid", "")
                    if kind == "DELETED":
                        self.known.pop(uid, None)
                    else:
                        self.known[uid] = obj
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        self.on_event(str(kind), obj)
            except asyncio.CancelledError:
                raise
            except KubeAPIError as exc:
                if exc.status == 410:
                    version = ""
                    continue
                self.log.warning("Kubernetes API request failed; retrying", path=self.path, error=str(exc))
                await asyncio.sleep(self.retry_delay)
