"""deploy/grafana/llm-collector.json checked against the structure of Grafana's dashboard schema (the
dashboard kind, schemaVersion 39: Grafana publishes it as CUE in its own repository, not as a JSON schema on
PyPI or npm, so these are its documented required fields and types, checked here by hand): top-level fields,
panels with a type, a unique id and a gridPos inside the 24-column grid, no two panels overlapping, targets
with a refId and an expr, every data source reference the templated `${datasource}` Prometheus variable,
template variables that exist for every `$name` a query uses. And the provisioning files point at it."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy.promtools import DASHBOARD, DEPLOY

BUILTIN_VARIABLES = {"__range", "__rate_interval", "__interval", "__range_s", "__interval_ms"}
PANEL_TYPES = {"row", "stat", "timeseries", "bargauge", "table", "gauge", "piechart", "text", "heatmap"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    out = []
    for panel in dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_top_level_fields() -> None:
    d = dashboard()
    assert isinstance(d["title"], str) and d["title"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", d["uid"])
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36  # data source refs as {type, uid} objects
    assert set(d["time"]) == {"from", "to"}
    assert isinstance(d["panels"], list) and d["panels"]
    assert isinstance(d["templating"]["list"], list)
    assert d["graphTooltip"] in (0, 1, 2)
    assert isinstance(d["tags"], list) and all(isinstance(t, str) for t in d["tags"])
    assert isinstance(d["annotations"]["list"], list)


def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping() -> None:
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    taken: set[tuple[int, int]] = set()
    for panel in panels():
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert isinstance(panel["title"], str) and panel["title"]
        pos = panel["gridPos"]
        assert set(pos) >= {"h", "w", "x", "y"} and all(isinstance(v, int) for v in pos.values()), panel["title"]
        assert pos["w"] >= 1 and pos["h"] >= 1 and 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["y"] >= 0, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_targets_query_the_templated_prometheus_datasource() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels():
        if panel["type"] == "row":
            assert not panel.get("targets")
            continue
        assert panel["datasource"] == ref, panel["title"]
        assert panel["targets"], panel["title"]
        refids = [t["refId"] for t in panel["targets"]]
        assert len(refids) == len(set(refids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref, panel["title"]
            assert isinstance(target["expr"], str) and target["expr"].strip(), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == ref, variable["name"]


def test_every_variable_a_query_uses_is_defined() -> None:
    variables = {v["name"] for v in dashboard()["templating"]["list"]}
    queries = [t["expr"] for p in panels() for t in p.get("targets", [])]
    queries += [v["definition"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    for query in queries:
        for name in re.findall(r"\$\{?(\w+)", query):
            assert name in variables or name in BUILTIN_VARIABLES, f"${name} in {query}"


def test_provisioning_points_at_the_dashboard() -> None:
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "llm-collector.yaml").read_text())
    assert provider["apiVersion"] == 1
    [entry] = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    source = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "llm-collector.yaml").read_text())
    [datasource] = source["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"].startswith("http")
