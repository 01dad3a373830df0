"""deploy/prometheus/rules.yaml: promtool's own checks and unit tests (deploy/prometheus/tests/), and what
those cannot see: every alert annotated and given a severity, every alert's unit tests covering it both
firing and quiet, and no expression naming a metric the daemon does not emit."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.deploy.promtools import RULE_TESTS, RULES, alerts, binary, load, rule_groups

SEVERITIES = {"info", "warning", "critical"}
# The self-metric families the rules may read: those the daemon registers (collector/telemetry.py,
# collector/processors/cost.py, collector/exporterhelper/exporter.py).
EMITTED = re.compile(r"^(llm_(cost_usd|requests|unpriced_requests)_total|llm_latency_seconds_bucket|"
                     r"otelcol_receiver_refused_(spans|log_records|metric_points)|"
                     r"otelcol_exporter_(send_failed|enqueue_failed)_(spans|log_records|metric_points)|"
                     r"otelcol_exporter_queue_(size|capacity))$")


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    found = alerts()
    assert {a["alert"] for a in found} >= {"HighLatency", "HighErrorRate", "LLMAPIFailures", "HighLLMCost", "LLMSpendBudgetBurn1h",
                                          "LLMSpendBudgetBurn24h", "LLMSpendBudgetBurn30d", "LLMUnpricedModels", "LLMCollectorRefusingData",
                                          "LLMCollectorDroppingData", "LLMCollectorExporterQueueNearFull"}
    for alert in found:
        assert alert["labels"]["severity"] in SEVERITIES, alert["alert"]
        assert alert["annotations"]["summary"].strip() and alert["annotations"]["description"].strip(), alert["alert"]


def test_budgets_are_set_in_one_group() -> None:
    budgets = [rule for group in rule_groups() for rule in group["rules"] if rule.get("record") == "llm:spend_budget_usd"]
    assert sorted(rule["labels"]["window"] for rule in budgets) == ["1h", "24h", "30d"]
    assert {group["name"] for group in rule_groups() if any(rule.get("record") == "llm:spend_budget_usd" for rule in group["rules"])} == {"llm-collector-budgets"}
    for rule in budgets:
        assert re.fullmatch(r"vector\(\d+(\.\d+)?\)", rule["expr"]), rule


def test_rules_read_only_metrics_the_daemon_emits() -> None:
    recorded = {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}
    for group in rule_groups():
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]):
                assert name in recorded or EMITTED.match(name), f"{rule.get('alert') or rule.get('record')}: {name}"


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: its identifiers once strings, label matchers, ranges and
    grouping clauses are removed, less functions (followed by `(`) and keywords."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\(|[a-zA-Z0-9_:])", expr))
    return names - {"and", "or", "unless", "bool", "offset"}


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


@pytest.mark.slow
def test_promtool_check_rules() -> None:
    result = subprocess.run([binary("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path", RULE_TESTS, ids=[p.stem for p in RULE_TESTS])
def test_promtool_test_rules(path) -> None:
    result = subprocess.run([binary("promtool"), "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "FAILED" not in result.stdout
