"""The file_log receiver's log entry (stanza's entry.Entry: body, attributes, resource, timestamp,
severity) and its field paths (`body`, `body.key`, `attributes.key`, `attributes["dotted.key"]`,
`resource["k8s.pod.name"]`), which operators read and write; and the entries' conversion to OTLP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from ...pdata import set_any as pdata_set_any

ROOTS = ("body", "attributes", "resource")
_PART = re.compile(r"""\.?(?:\[(?:"([^"]*)"|'([^']*)')\]|([^.\[\]]+))""")


@dataclass
class Entry:
    body: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    timestamp: int = 0  # ns since the epoch; 0: not parsed
    observed: int = 0
    severity: int = 0
    severity_text: str = ""


class FieldError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    """A place in an entry: a root (body, attributes or resource) and the keys below it."""

    root: str
    keys: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Field:
        text = text.strip()
        if text.startswith("$"):  # stanza's older `$body`, `$attributes` spellings
            text = text[1:]
        root = next((r for r in ROOTS if text == r or text.startswith((r + ".", r + "["))), None)
        if root is None:
            raise FieldError(f"field {text!r} must start with body, attributes or resource")
        rest, keys, pos = text[len(root):], [], 0
        while pos < len(rest):
            m = _PART.match(rest, pos)
            if m is None or m.end() == pos:
                raise FieldError(f"cannot read field {text!r}: expected .key or [\"key\"] at character {len(root) + pos}")
            keys.append(next(g for g in m.groups() if g is not None))
            pos = m.end()
        return cls(root, tuple(keys))

    def __str__(self) -> str:
        return self.root + "".join(f'["{k}"]' if "." in k else f".{k}" for k in self.keys)

    def _container(self, entry: Entry) -> tuple[Any, tuple[str, ...]]:
        if self.root == "body":
            return entry.body, self.keys
        return (entry.attributes if self.root == "attributes" else entry.resource), self.keys

    def get(self, entry: Entry) -> tuple[Any, bool]:
        node, keys = self._container(entry)
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return None, False
            node = node[key]
        return node, True

    def set(self, entry: Entry, value: Any) -> None:
        """Sets the value; a mapping written to attributes or resource (or a key of them holding a mapping)
        is merged in, as stanza's AttributeField.Set does."""
        if self.root == "body" and not self.keys:
            entry.body = value
            return
        if self.root == "body":
            if not isinstance(entry.body, dict):
                entry.body = {}
            node = entry.body
        else:
            node = entry.attributes if self.root == "attributes" else entry.resource
            if not self.keys:
                if not isinstance(value, dict):
                    raise FieldError(f"cannot set {self.root} to a {type(value).__name__}: it takes a mapping")
                node.update(value)
                return
        for key in self.keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        last = self.keys[-1]
        if self.root != "body" and isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last].update(value)
        else:
            node[last] = value

    def delete(self, entry: Entry) -> tuple[Any, bool]:
        if self.root == "body" and not self.keys:
            value, entry.body = entry.body, None
            return value, True
        node, keys = self._container(entry)
        if not keys:  # attributes or resource as a whole
            value = dict(node)
            node.clear()
            return value, True
        for key in keys[:-1]:
            if not isinstance(node, dict) or key not in node:
                return None, False
            node = node[key]
        if not isinstance(node, dict) or keys[-1] not in node:
            return None, False
        return node.pop(keys[-1]), True


def set_any(target: AnyValue, value: Any) -> None:
    """A parsed value into an attribute or the body: an int beyond int64 (JSON allows it) keeps its digits as
    a string, and an unknown type its str()."""
    pdata_set_any(target, value, big_int="string", other="string")


def fill_record(record: LogRecord, entry: Entry) -> None:
    if entry.body is not None:
        set_any(record.body, entry.body)
    for key, value in entry.attributes.items():
        set_any(record.attributes.add(key=key).value, value)
    record.time_unix_nano = entry.timestamp
    record.observed_time_unix_nano = entry.observed
    record.severity_number = entry.severity  # type: ignore[assignment]
    if entry.severity_text:
        record.severity_text = entry.severity_text
