"""What the deploy/ tests share: where deploy/ is, and Debian's `prometheus` package's binaries (`promtool`,
`prometheus`), which .ci/run installs. A test that needs one fails when it is missing, naming the package,
rather than skipping: a skipped check of shipped rules would pass unseen."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yaml"
RULE_TESTS = sorted((DEPLOY / "prometheus" / "tests").glob("*.yaml"))
DASHBOARD = DEPLOY / "grafana" / "llm-collector.json"


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: install Debian's prometheus package (apt-get install -y prometheus; .ci/run does)"
    return path


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alerts() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
