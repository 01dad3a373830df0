"""Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`) with Prometheus's semantics
(prometheus/model/relabel/relabel.go): regexes are fully anchored, `$1` / `${name}` replacements are
expanded the way Go's regexp.Expand does, and a label set to an empty value is removed."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from ...config import Invalid, option

ACTIONS = ("replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# A target_label of `replace` may hold `$1`-style references (Prometheus checks it after expansion).
_TEMPLATE_LABEL = re.compile(r"^(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*(?:\$(?:\{\w+\}|\w+)\w*)*$")


def compile_regex(text: str) -> re.Pattern[str]:
    """Prometheus's relabel.NewRegexp: `^(?s:<regex>)$`."""
    return re.compile(f"^(?s:{text})$")


@dataclass
class RelabelConfig:
    source_labels: list[str] = option(factory=list, doc="Labels whose values, joined with separator, are matched.")
    separator: str = option(";", "Joins the source label values.")
    regex: str = option("(.*)", "RE2-style regular expression, anchored at both ends.")
    modulus: int = option(0, "hashmod: the modulus of the hash.")
    target_label: str = option("", "The label written by replace, hashmod, lowercase and uppercase (compared by keepequal and dropequal).")
    replacement: str = option("$1", "What replace writes (and labelmap renames to); `$1`, `$name`, `${1}` and `${name}` are groups of regex. In an otelcol config write `$$1` or `$${1}` (a `${` starts an ${env:VAR}).")
    action: str = option("replace", f"One of {', '.join(ACTIONS)}.")
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False, default=re.compile(""))

    def validate(self) -> None:
        action = self.action.lower()
        if action not in ACTIONS:
            raise Invalid(f'unknown relabel action "{self.action}" (valid: {", ".join(ACTIONS)})', "action")
        self.action = action
        try:
            self.compiled = compile_regex(self.regex)
        except re.error as exc:
            raise Invalid(f"invalid regular expression: {exc}", "regex") from None
        if self.modulus == 0 and action == "hashmod":
            raise Invalid("relabel configuration for hashmod requires non-zero modulus", "modulus")
        if action in ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal") and not self.target_label:
            raise Invalid(f"relabel configuration for {action} action requires 'target_label' value", "target_label")
        if action == "replace" and not _TEMPLATE_LABEL.match(self.target_label):
            raise Invalid(f'"{self.target_label}" is invalid \'target_label\' for replace action', "target_label")
        if action in ("hashmod", "lowercase", "uppercase", "keepequal", "dropequal") and not _LABEL_NAME.match(self.target_label):
            raise Invalid(f'"{self.target_label}" is invalid \'target_label\' for {action} action', "target_label")
        if action in ("keepequal", "dropequal") and (self.regex != "(.*)" or self.replacement != "$1" or self.modulus):
            raise Invalid(f"{action} action requires only 'source_labels' and 'target_label', and no other fields")
        if action in ("labeldrop", "labelkeep") and (self.source_labels or self.target_label or self.modulus
                                                     or self.separator != ";" or self.replacement != "$1"):
            raise Invalid(f"{action} action requires only 'regex', and no other fields")
        for i, name in enumerate(self.source_labels):
            if not _LABEL_NAME.match(name):
                raise Invalid(f'"{name}" is not a valid label name', ("source_labels", i))


_EXPAND = re.compile(r"\$(\$|\{([^}]*)\}|([a-zA-Z0-9_]+))")


def expand(template: str, match: re.Match[str]) -> str:
    """Go's regexp.Expand: `$$` is `$`, `$name` takes the longest run of word characters, a group that
    does not exist (or did not take part) expands to nothing."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        name = m.group(2) if m.group(2) is not None else m.group(3)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _EXPAND.sub(one, template)


def _hashmod(value: str, modulus: int) -> int:
    # Prometheus's sum64(md5.Sum(value)): the digest's last 8 bytes, big-endian.
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


def relabel(labels: dict[str, str], configs: list[RelabelConfig]) -> dict[str, str] | None:
    """The labels after `configs`, or None when one drops them. `labels` is not changed."""
    out = dict(labels)
    for cfg in configs:
        if not _apply(out, cfg):
            return None
    return out


def _apply(labels: dict[str, str], cfg: RelabelConfig) -> bool:
    action = cfg.action
    value = cfg.separator.join(labels.get(name, "") for name in cfg.source_labels)
    if action == "drop":
        return cfg.compiled.match(value) is None
    if action == "keep":
        return cfg.compiled.match(value) is not None
    if action == "dropequal":
        return labels.get(cfg.target_label, "") != value
    if action == "keepequal":
        return labels.get(cfg.target_label, "") == value
    if action == "replace":
        m = cfg.compiled.match(value)
        if m is None:
            return True
        target = expand(cfg.target_label, m)
        if not _LABEL_NAME.match(target):
            return True
        _set(labels, target, expand(cfg.replacement, m))
    elif action == "lowercase":
        _set(labels, cfg.target_label, value.lower())
    elif action == "uppercase":
        _set(labels, cfg.target_label, value.upper())
    elif action == "hashmod":
        _set(labels, cfg.target_label, str(_hashmod(value, cfg.modulus)))
    elif action == "labelmap":
        for name, label_value in list(labels.items()):
            m = cfg.compiled.match(name)
            if m is not None:
                _set(labels, expand(cfg.replacement, m), label_value)
    elif action == "labeldrop":
        for name in [n for n in labels if cfg.compiled.match(n) is not None]:
            del labels[name]
    elif action == "labelkeep":
        for name in [n for n in labels if cfg.compiled.match(n) is None]:
            del labels[name]
    return True


def _set(labels: dict[str, str], name: str, value: str) -> None:
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)

