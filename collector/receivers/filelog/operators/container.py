"""The `container` operator (stanza's operator/parser/container): parses the lines container runtimes
write under /var/log/pods: Docker's JSON (`{"log":..,"stream":..,"time":..}`), CRI-O's and containerd's
`<time> <stream> <P|F> <text>`, whose partial (`P`) lines are joined up to the final (`F`) one. The
text becomes the body, the stream `log.iostream`, the time the timestamp, and the pod's namespace, name,
uid, container name and restart count come from the file's path into resource attributes."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ....config import ByteSize, option
from ..entry import Entry, Field
from .base import OperatorError, Parser, ParserConfig
from .parsers import match_values

_DOCKER = re.compile(r"^\{")
_CRIO = re.compile(r"^(?P<time>[^ Z]+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$", re.S)
_CONTAINERD = re.compile(r"^(?P<time>[^ ^Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$", re.S)
_LOG_PATH = re.compile(r"^.*(/|\\)(?P<namespace>[^_]+)_(?P<pod_name>[^_]+)_(?P<uid>[a-f0-9\-]+)(/|\\)(?P<container_name>[^._]+)(/|\\)(?P<restart_count>\d+)\.log$")
_K8S = {"container_name": "k8s.container.name", "namespace": "k8s.namespace.name", "pod_name": "k8s.pod.name",
        "restart_count": "k8s.container.restart_count", "uid": "k8s.pod.uid"}
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
_PATH = Field("attributes", ("log.file.path",))
_FLUSH_AFTER = 5.0  # seconds a partial line waits for its end (stanza's recombine force_flush_period)


def parse_rfc3339(text: Any) -> int:
    m = _RFC3339.match(text) if isinstance(text, str) else None
    if m is None:
        raise OperatorError("failed to parse time: not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    nanos = int((m.group(7) or "").ljust(9, "0"))
    zone = m.group(8)
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    seconds = int(moment.timestamp())
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 1_000_000_000 + nanos


@dataclass
class ContainerConfig(ParserConfig):
    format: Literal["", "docker", "crio", "containerd"] = option("", "The runtime's format; empty: detected from each line.")
    add_metadata_from_filepath: bool = option(True, "Set k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.container.name and k8s.container.restart_count from the "
                                                    "`/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log` path in `log.file.path` (include_file_path: true).")
    max_log_size: ByteSize = option(ByteSize(0), "Largest body when joining CRI partial lines; 0: no limit.")


@dataclass
class _Pending:
    entries: list[Entry] = field(default_factory=list)
    size: int = 0
    since: float = 0.0


class Container(Parser):
    def __init__(self, config: ContainerConfig, log: Any):
        super().__init__(config, log)
        self.format = config.format
        self.metadata = config.add_metadata_from_filepath
        self.max_log_size = int(config.max_log_size)
        self.pending: dict[Any, _Pending] = {}

    def apply(self, entry: Entry) -> list[Entry]:
        value, found = self.parse_from.get(entry)
        if not found or not isinstance(value, str):
            raise OperatorError("entry cannot be parsed as container logs")
        fmt = self.format or _detect(value)
        if fmt == "docker":
            self.parse_with(entry, _parse_docker)
            self._finish(entry)
            return [entry]
        self.parse_with(entry, lambda v: match_values(v, _CONTAINERD if fmt == "containerd" else _CRIO))
        self._finish(entry)
        return self._recombine(entry)

    def _finish(self, entry: Entry) -> None:
        """stanza's handleTimeAndAttributeMappings: time, body, log.iostream, then the path's metadata."""
        attrs = entry.attributes
        if "time" not in attrs:
            raise OperatorError("failed to get the time")
        entry.timestamp = parse_rfc3339(attrs.pop("time"))  # the `time` attribute goes (removeOriginalTimeField, beta)
        if "log" not in attrs:
            raise OperatorError("move: field log does not exist")
        entry.body = attrs.pop("log")
        if "stream" not in attrs:
            raise OperatorError("move: field stream does not exist")
        attrs["log.iostream"] = attrs.pop("stream")
        if self.metadata:
            path = attrs.get("log.file.path")
            if not isinstance(path, str):
                raise OperatorError("no log.file.path attribute to read the pod's metadata from (set include_file_path: true)")
            m = _LOG_PATH.match(path)
            if m is None:
                raise OperatorError("failed to detect a valid log path")
            for group, key in _K8S.items():
                entry.resource[key] = m.group(group)

    def _recombine(self, entry: Entry) -> list[Entry]:
        """The internal recombine: partial lines of one file are held until its final line, whose fields
        (overwrite_with: newest) carry the joined body."""
        source, _ = _PATH.get(entry)
        key = source if isinstance(source, str) else None
        pending = self.pending.get(key)
        if pending is None:
            pending = self.pending[key] = _Pending(since=time.monotonic())
        pending.entries.append(entry)
        pending.size += len(entry.body) if isinstance(entry.body, str) else 0
        last = entry.attributes.get("logtag") == "F"
        if last or (self.max_log_size and pending.size >= self.max_log_size):
            del self.pending[key]
            return [_joined(pending.entries)]
        return []

    def flush(self, force: bool) -> list[Entry]:
        now = time.monotonic()
        due = [k for k, p in self.pending.items() if force or now - p.since >= _FLUSH_AFTER]
        return [_joined(self.pending.pop(k).entries) for k in due]


def _joined(entries: list[Entry]) -> Entry:
    newest = entries[-1]
    if len(entries) > 1:
        newest.body = "".join(e.body if isinstance(e.body, str) else "" for e in entries)
    return newest


def _detect(value: str) -> str:
    if _DOCKER.match(value):
        return "docker"
    if _CRIO.match(value):
        return "crio"
    if _CONTAINERD.match(value):
        return "containerd"
    raise OperatorError("failed to detect a valid container log format")


def _parse_docker(value: Any) -> dict[str, Any]:
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError("docker log line is not a JSON object")
    return parsed
