"""The resource_detection processor's configuration (contrib processor/resourcedetectionprocessor/config.go and each
detector's config.go / metadata.yaml): the detectors this daemon implements, and the refusal of those it does not."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from ...config import Duration, Invalid, option
from ...kubeapi import APIConfig

# Each implemented detector's resource attributes and whether metadata.yaml enables them by default.
SYSTEM_ATTRIBUTES = {
    "host.name": True, "os.type": True, "host.id": False, "host.arch": False, "host.ip": False, "host.mac": False,
    "host.interface": False, "os.description": False, "host.cpu.vendor.id": False, "host.cpu.family": False,
    "host.cpu.model.id": False, "host.cpu.model.name": False, "host.cpu.stepping": False, "host.cpu.cache.l2.size": False,
    "os.name": False, "os.version": False, "os.build.id": False,
}
DOCKER_ATTRIBUTES = {"host.name": True, "os.type": True}
K8S_API_ATTRIBUTES = {"k8s.node.name": True, "k8s.node.uid": True, "k8s.cluster.uid": True}

# otelcol detectors this daemon does not have: what each detects, for the refusal.
UNSUPPORTED: dict[str, str] = {
    "ec2": "AWS EC2 instance metadata (IMDS)", "ecs": "AWS ECS task metadata", "eks": "AWS EKS cluster metadata",
    "elasticbeanstalk": "AWS Elastic Beanstalk environment metadata", "lambda": "AWS Lambda function metadata",
    "azure": "Azure VM instance metadata", "aks": "Azure AKS cluster metadata", "azurecontainerapps": "Azure Container Apps metadata",
    "gcp": "Google Cloud (GCE, GKE, Cloud Run, Cloud Functions) metadata", "consul": "Consul agent metadata",
    "digitalocean": "DigitalOcean droplet metadata", "heroku": "Heroku dyno metadata", "hetzner": "Hetzner Cloud server metadata",
    "ibmcloud_classic": "IBM Cloud classic infrastructure metadata", "ibmcloud_vpc": "IBM Cloud VPC instance metadata",
    "openshift": "OpenShift cluster metadata", "nova": "OpenStack Nova instance metadata", "oraclecloud": "Oracle Cloud instance metadata",
    "kubeadm": "the kubeadm cluster name", "akamai": "Akamai (Linode) instance metadata", "scaleway": "Scaleway instance metadata",
    "tencent_cvm": "Tencent Cloud CVM instance metadata", "upcloud": "UpCloud server metadata", "vultr": "Vultr instance metadata",
    "alibaba_ecs": "Alibaba Cloud ECS instance metadata",
}
CLOSEST = ("set those attributes with OTEL_RESOURCE_ATTRIBUTES (the `env` detector reads it) or the `resource` processor, "
           "or run an OpenTelemetry SDK resource detector in the application")


@dataclass
class Toggle:
    enabled: bool | None = option(None, "Whether the detector writes this attribute; unset keeps otelcol's default for it.")


def enabled(toggles: dict[str, Toggle], defaults: dict[str, bool]) -> frozenset[str]:
    return frozenset(k for k, default in defaults.items() if (toggles[k].enabled if k in toggles and toggles[k].enabled is not None else default))


def _check_toggles(toggles: dict[str, Toggle], defaults: dict[str, bool], detector: str) -> None:
    for key in toggles:
        if key not in defaults:
            raise Invalid(f'the {detector} detector has no resource attribute "{key}" (it has {", ".join(defaults)})', ("resource_attributes", key))


@dataclass
class EnvConfig:
    allow_list: list[str] | None = option(None, "Only these keys of OTEL_RESOURCE_ATTRIBUTES; unset keeps all.")


@dataclass
class SystemConfig:
    hostname_sources: list[Literal["os", "dns", "cname", "lookup"]] = option(factory=list, doc="Where host.name comes from, first that works wins: `os` (the kernel's hostname), `dns` (its FQDN), `cname` (its DNS CNAME), `lookup` (reverse DNS of its addresses). Default [dns, os].")
    resource_attributes: dict[str, Toggle] = option(factory=dict, doc="Attributes on or off (`host.arch: {enabled: true}`); enabled by default: host.name, os.type.")

    def validate(self) -> None:
        _check_toggles(self.resource_attributes, SYSTEM_ATTRIBUTES, "system")
        off = sorted(enabled(self.resource_attributes, SYSTEM_ATTRIBUTES) & {"os.name", "os.version", "os.build.id"})
        if off:
            raise Invalid(f"{', '.join(off)}: not detected by this daemon (otelcol reads them through gopsutil); os.description carries the OS name and version",
                          ("resource_attributes", off[0]))


@dataclass
class DockerConfig:
    resource_attributes: dict[str, Toggle] = option(factory=dict, doc="host.name, os.type (both enabled by default).")

    def validate(self) -> None:
        _check_toggles(self.resource_attributes, DOCKER_ATTRIBUTES, "docker")


@dataclass
class K8sAPIConfig(APIConfig):
    node_from_env_var: str = option("K8S_NODE_NAME", "Environment variable holding this node's name (the Downward API's spec.nodeName).")
    resource_attributes: dict[str, Toggle] = option(factory=dict, doc="k8s.node.name, k8s.node.uid, k8s.cluster.uid (all enabled by default).")

    def validate(self) -> None:
        APIConfig.validate(self)
        _check_toggles(self.resource_attributes, K8S_API_ATTRIBUTES, "k8s_api")


def _cloud(name: str) -> Any:
    return option(None, f"Settings of otelcol's `{name}` detector ({UNSUPPORTED[name]}); accepted without effect, as this daemon has no such detector.",
                  key=name if name == "lambda" else None)


@dataclass
class ResourceDetectionConfig:
    detectors: list[str] = option(factory=lambda: ["env"], doc="Detectors to run, in order of precedence (the first to set an attribute wins): `env`, `system`, `docker`, `k8s_api` (`k8snode`, its older name). otelcol's cloud detectors are refused.")
    override: bool = option(True, "Replace attributes the telemetry already has; false keeps them.")
    timeout: Duration = option(Duration(5.0), "How long detection may take, retries included; a detector still failing then stops start-up.")
    refresh_interval: Duration = option(Duration(0.0), "Run detection again this often (0: only at start-up); a failed refresh keeps the previous result.")
    fail_on_missing_metadata: bool = option(False, "otelcol's switch for its cloud detectors' metadata services; the detectors here always fail when their source cannot be read.")
    env: EnvConfig = option(factory=EnvConfig, doc="The `env` detector: OTEL_RESOURCE_ATTRIBUTES (or the older OTEL_RESOURCE).")
    system: SystemConfig = option(factory=SystemConfig, doc="The `system` detector: the host's name, OS, architecture, CPU and network interfaces.")
    docker: DockerConfig = option(factory=DockerConfig, doc="The `docker` detector: the Docker daemon's host name and OS (GET /info on $DOCKER_HOST, default unix:///var/run/docker.sock).")
    k8s_api: K8sAPIConfig = option(factory=K8sAPIConfig, doc="The `k8s_api` detector: this node's name and uid and the cluster's uid from the Kubernetes API.")
    k8snode: K8sAPIConfig = option(factory=K8sAPIConfig, doc="Settings of `k8snode`, k8s_api's older name.")
    # The settings blocks of otelcol's cloud detectors: accepted with a warning (a config may keep one for a
    # detector it does not list); listing such a detector is refused by validate.
    alibaba_ecs: dict[str, Any] | None = _cloud("alibaba_ecs")
    ec2: dict[str, Any] | None = _cloud("ec2")
    ecs: dict[str, Any] | None = _cloud("ecs")
    eks: dict[str, Any] | None = _cloud("eks")
    elasticbeanstalk: dict[str, Any] | None = _cloud("elasticbeanstalk")
    lambda_: dict[str, Any] | None = _cloud("lambda")
    azure: dict[str, Any] | None = _cloud("azure")
    aks: dict[str, Any] | None = _cloud("aks")
    azurecontainerapps: dict[str, Any] | None = _cloud("azurecontainerapps")
    consul: dict[str, Any] | None = _cloud("consul")
    digitalocean: dict[str, Any] | None = _cloud("digitalocean")
    gcp: dict[str, Any] | None = _cloud("gcp")
    heroku: dict[str, Any] | None = _cloud("heroku")
    hetzner: dict[str, Any] | None = _cloud("hetzner")
    ibmcloud_classic: dict[str, Any] | None = _cloud("ibmcloud_classic")
    ibmcloud_vpc: dict[str, Any] | None = _cloud("ibmcloud_vpc")
    openshift: dict[str, Any] | None = _cloud("openshift")
    nova: dict[str, Any] | None = _cloud("nova")
    oraclecloud: dict[str, Any] | None = _cloud("oraclecloud")
    kubeadm: dict[str, Any] | None = _cloud("kubeadm")
    akamai: dict[str, Any] | None = _cloud("akamai")
    scaleway: dict[str, Any] | None = _cloud("scaleway")
    tencent_cvm: dict[str, Any] | None = _cloud("tencent_cvm")
    upcloud: dict[str, Any] | None = _cloud("upcloud")
    vultr: dict[str, Any] | None = _cloud("vultr")

    def cloud_settings(self) -> list[str]:
        """The cloud detectors whose settings block the config has."""
        return [name for name in UNSUPPORTED if getattr(self, "lambda_" if name == "lambda" else name) is not None]

    def validate(self) -> None:
        known = {"env", "system", "docker", "k8s_api", "k8snode"}
        for i, name in enumerate(self.detectors):
            if name in UNSUPPORTED:
                raise Invalid(f'detector "{name}" (otelcol detects {UNSUPPORTED[name]}) is not available in this daemon; {CLOSEST}', ("detectors", i))
            if name not in known:
                raise Invalid(f"invalid detector key: {name}", ("detectors", i))
            if self.detectors.index(name) != i:
                raise Invalid(f'detector "{name}" is listed twice', ("detectors", i))
        if self.timeout <= 0:
            raise Invalid("must be greater than 0", "timeout")
        if self.refresh_interval < 0:
            raise Invalid("must not be negative", "refresh_interval")
        for name in ("k8s_api", "k8snode"):
            if name in self.detectors:
                var = getattr(self, name).node_from_env_var or "K8S_NODE_NAME"
                if not os.environ.get(var):
                    raise Invalid(f"node name can't be found: set the environment variable {var} (the Downward API's spec.nodeName)", ("detectors", self.detectors.index(name)))
