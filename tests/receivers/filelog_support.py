"""What the file_log receiver's tests share: a daemon config tailing files into the file exporter's
OTLP JSON, and the records read back from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.testing import wait_for
from tests.conftest import Daemon


def config(receiver: dict[str, Any], *, storage: bool = False) -> str:
    """A Daemon config: `receiver` as the file_log receiver (a mapping), the file exporter appending to
    {data}/logs.jsonl (so a daemon restarted in the same directory adds to what the first one wrote),
    and (with `storage`) a file_storage extension keeping the offsets in {data}/storage."""
    if storage:
        receiver = {**receiver, "storage": "file_storage"}
    body = json.dumps(receiver).replace("{", "{{").replace("}", "}}")
    ext = '  file_storage: {{directory: "{data}/storage", create_directory: true}}\n' if storage else ""
    return f"""
receivers:
  file_log: {body}
exporters:
  file: {{{{path: "{{data}}/logs.jsonl", append: true}}}}
extensions:
  health_check: {{{{endpoint: "127.0.0.1:{{health}}"}}}}
{ext}service:
  extensions: [health_check{", file_storage" if storage else ""}]
  telemetry:
    metrics: {{{{address: "127.0.0.1:{{metrics}}"}}}}
  pipelines:
    logs: {{{{receivers: [file_log], exporters: [file]}}}}
"""


def _value(v: dict[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return v["boolValue"]
    if "bytesValue" in v:
        return ("bytes", v["bytesValue"])
    if "kvlistValue" in v:
        return {kv["key"]: _value(kv["value"]) for kv in v["kvlistValue"].get("values", [])}
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def records(daemon: Daemon) -> list[dict[str, Any]]:
    """Every log record written so far, flattened: body, attributes, resource, time, severity."""
    path = daemon.data / "logs.jsonl"
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        for rl in json.loads(line).get("resourceLogs", []):
            resource = {kv["key"]: _value(kv["value"]) for kv in rl.get("resource", {}).get("attributes", [])}
            for sl in rl.get("scopeLogs", []):
                for r in sl.get("logRecords", []):
                    out.append({
                        "body": _value(r["body"]) if "body" in r else None,
                        "attributes": {kv["key"]: _value(kv["value"]) for kv in r.get("attributes", [])},
                        "resource": resource,
                        "time": int(r.get("timeUnixNano", 0)),
                        "severity": r.get("severityNumber", 0),
                        "severity_text": r.get("severityText", ""),
                    })
    return out


def bodies(daemon: Daemon) -> list[Any]:
    return [r["body"] for r in records(daemon)]


def wait_bodies(daemon: Daemon, count: int, timeout: float = 15.0) -> list[Any]:
    """The bodies once at least `count` records were written."""
    def enough() -> list[Any] | None:
        found = bodies(daemon)
        return found if len(found) >= count else None

    return wait_for(enough, timeout, f"{count} log records")


def append(path: Path, text: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(text.encode() if isinstance(text, str) else text)
