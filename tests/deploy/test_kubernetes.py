"""deploy/kubernetes/: every manifest is valid against the Kubernetes schemas (offline, with the
`kubernetes-validate` package, strict: unknown fields refused), and agrees with the configs it runs:
each container's --config files (the image's, from the Dockerfile's COPY lines, and the ConfigMap mounted
over them) validate with `llm-collector validate` under the container's env; ports, probes, memory limits,
grace periods, the headless Service the agents resolve and the RBAC the k8s resolver needs all line up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from collector.config.source import expand_string, load_file, merge
from collector.config.typed import Duration
from tests.conftest import REPO

from .promtools import DEPLOY

MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.33.0"


def documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict:
    (doc,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def image_files() -> dict[str, Path]:
    """Where the image puts each repo file, from the final stage's COPY lines of the Dockerfile."""
    final = (REPO / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    out: dict[str, Path] = {}
    for source, target in re.findall(r"^COPY\s+(?!--from)(\S+)\s+(\S+)$", final, re.M):
        src = REPO / source
        if src.is_dir():
            out.update({f"{target}/{p.relative_to(src)}": p for p in src.rglob("*.yaml")})
        else:
            out[target] = src
    return out


def workloads() -> list[tuple[str, dict, dict]]:
    """(name, pod spec, the llm-collector container) of every workload running the daemon."""
    found = []
    for kind in ("Deployment", "DaemonSet"):
        for doc in of_kind(kind):
            spec = doc["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                if "llm-collector" in container["image"]:
                    found.append((doc["metadata"]["name"], spec, container))
    return found


def config_files(spec: dict, container: dict, tmp: Path) -> list[Path]:
    """The container's --config paths as files here: the image's from the repo, mounted ConfigMaps' data."""
    args = container["args"]
    paths = [args[i + 1] for i, a in enumerate(args) if a == "--config"]
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    baked = image_files()
    files = []
    for path in paths:
        if path in baked:
            files.append(baked[path])
            continue
        directory, name = path.rsplit("/", 1)
        volume = volumes[mounts[directory]]
        data = named("ConfigMap", volume["configMap"]["name"])["data"]
        out = tmp / f"{volume['configMap']['name']}-{name}"
        out.write_text(data[name])
        files.append(out)
    return files


def merged(files: list[Path]) -> dict:
    document = load_file(files[0])
    for f in files[1:]:
        document = merge(document, load_file(f))
    return document.data


def validate(files: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "collector.cli", "validate"]
    for f in files:
        argv += ["--config", str(f)]
    return subprocess.run(argv, cwd=REPO, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w[0])
def test_each_daemon_runs_a_config_that_validates(workload, tmp_path: Path) -> None:
    _, spec, container = workload
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    files = config_files(spec, container, tmp_path)
    result = validate(files, env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_commented_k8s_resolver_override_validates(tmp_path: Path) -> None:
    """The agent ConfigMap's example (dns switched off, the k8s resolver on), uncommented, is a working config."""
    (_, spec, container) = [w for w in workloads() if w[0] == "llm-collector-agent"][0]
    files = config_files(spec, container, tmp_path)
    lines = files[-1].read_text().splitlines()
    start = lines.index("# exporters:")
    example = tmp_path / "k8s-resolver.yaml"
    example.write_text("\n".join(line[2:] for line in lines[start:] if line.startswith("# ")))
    resolver = merged(files[:-1] + [example])["exporters"]["load_balancing"]["resolver"]
    assert resolver["dns"] is None
    assert resolver["k8s"]["service"].split(".")[0] == named("Service", "llm-collector-gateway-headless")["metadata"]["name"]
    result = validate(files[:-1] + [example], {})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w[0])
def test_ports_probes_memory_and_grace_match_the_config(workload, tmp_path: Path) -> None:
    name, spec, container = workload
    config = merged(config_files(spec, container, tmp_path))
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    health = int(config["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])
    for probe in ("readinessProbe", "livenessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == health, f"{name} {probe}"
    for protocol in config["receivers"]["otlp"]["protocols"].values():
        host, port = protocol["endpoint"].rsplit(":", 1)
        # A receiver reachable from outside the pod is declared; a loopback one (the sidecar's) is not needed.
        assert host == "127.0.0.1" or int(port) in ports.values(), f"{name} does not declare port {port}"
    limiter = config["processors"]["memory_limiter"]
    assert "limit_percentage" in limiter and "limit_mib" not in limiter, "memory_limiter follows the container limit"
    assert container["resources"]["limits"]["memory"]
    shutdown = Duration.parse(expand_string(config["service"].get("shutdown_timeout", "5s")))
    assert spec["terminationGracePeriodSeconds"] > shutdown, f"{name} is killed before it drains"


def test_agents_resolve_the_headless_gateway_service(tmp_path: Path) -> None:
    gateway = named("Deployment", "llm-collector-gateway")
    headless = named("Service", "llm-collector-gateway-headless")
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert headless["spec"]["clusterIP"] == "None" and not headless["spec"].get("publishNotReadyAddresses")
    assert headless["spec"]["selector"].items() <= labels.items()
    assert named("PodDisruptionBudget", "llm-collector-gateway")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    gateway_grpc = int(merged([image_files()["/etc/llm-collector/gateway.yaml"]])["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].rsplit(":", 1)[1])
    assert [p["port"] for p in headless["spec"]["ports"]] == [gateway_grpc]
    for name, spec, container in workloads():
        if name == "llm-collector-gateway":
            continue
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        files = config_files(spec, container, tmp_path)
        # The hostname as written (load_file expands ${env:...}): the variable the container sets.
        written = [yaml.safe_load(f.read_text()) or {} for f in files]
        hostname = [w["exporters"]["load_balancing"]["resolver"]["dns"]["hostname"] for w in written
                    if "load_balancing" in w.get("exporters", {})][-1]
        variable = re.fullmatch(r"\$\{env:(\w+):-[^}]*\}", hostname)
        assert variable and env[variable.group(1)] == headless["metadata"]["name"], name
        assert merged(files)["exporters"]["load_balancing"]["resolver"]["dns"]["port"] == gateway_grpc


def test_the_k8s_resolver_may_list_and_watch_endpointslices() -> None:
    role = named("Role", "llm-collector-k8s-resolver")
    assert any("discovery.k8s.io" in r["apiGroups"] and "endpointslices" in r["resources"] and {"list", "watch"} <= set(r["verbs"])
               for r in role["rules"])
    binding = named("RoleBinding", "llm-collector-k8s-resolver")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    agent = named("DaemonSet", "llm-collector-agent")
    assert {"kind": "ServiceAccount", "name": agent["spec"]["template"]["spec"]["serviceAccountName"]} in binding["subjects"]
