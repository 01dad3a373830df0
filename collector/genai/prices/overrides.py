"""The user's price overrides file (config/prices.yaml documents the format): validated on the composed YAML
node tree, so that every error names the file, line and key path, into per-model-name overrides and
per-provider markups."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from .names import provider_key
from .rates import _TOKEN_KEYS, PriceValue


class PriceConfigError(Exception):
    """A problem in a price overrides file, rendered as ``file:line: key.path: problem``."""


_PRICE_KEYS = _TOKEN_KEYS
_MODEL_KEYS = ("name", "aliases", "provider", *_PRICE_KEYS, "multiplier")
_TOP_KEYS = ("models", "markups")


@dataclass(frozen=True)
class _Override:
    name: str
    provider: str | None  # provider_key() of the entry's provider, or None for any provider
    prices: dict[str, PriceValue]  # empty -> scale the bundled price by `multiplier`
    multiplier: Decimal


class _Overrides:
    def __init__(self) -> None:
        self.by_name: dict[str, list[_Override]] = {}
        self.markups: dict[str, Decimal] = {}  # provider_key -> multiplier; "*" for all
        self.path: str | None = None

    def find(self, names: list[str], pkey: str | None) -> _Override | None:
        for name in names:
            entries = self.by_name.get(name)
            if not entries:
                continue
            generic = None
            for e in entries:
                if e.provider is not None and e.provider == pkey:
                    return e
                if e.provider is None and generic is None:
                    generic = e
            if generic is not None:
                return generic
            if pkey is None:
                return entries[0]
        return None

    def markup(self, pkey: str | None) -> Decimal:
        if pkey is not None and pkey in self.markups:
            return self.markups[pkey]
        return self.markups.get("*", Decimal(1))


def _load_overrides(path: str) -> _Overrides:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise PriceConfigError(f"{path}: cannot read price overrides file: {e.strerror or e}") from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise PriceConfigError(f"{where}: invalid YAML: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise PriceConfigError(f"{path}: invalid YAML: {e}") from e
    out = _Overrides()
    out.path = path
    if root is None:
        return out
    p = _NodeParser(path)
    top = p.mapping(root, "", _TOP_KEYS)
    if "models" in top:
        _, vnode = top["models"]
        if not isinstance(vnode, yaml.SequenceNode):
            p.fail(vnode, "models", "expected a list of model entries (- name: ...)")
        for i, item in enumerate(vnode.value):
            entry = p.model_entry(item, f"models[{i}]")
            for name in entry[0]:
                out.by_name.setdefault(name, []).append(entry[1])
        for name, entries in out.by_name.items():
            seen: set[str | None] = set()
            for override in entries:
                if override.provider in seen:
                    where = "any provider" if override.provider is None else f"provider {override.provider!r}"
                    raise PriceConfigError(f"{path}: models: {name!r} is defined twice for {where}")
                seen.add(override.provider)
    if "markups" in top:
        _, vnode = top["markups"]
        if not isinstance(vnode, yaml.MappingNode):
            p.fail(vnode, "markups", "expected a mapping of provider name -> multiplier (e.g. openai: 0.9)")
        for kn, vn in p.pairs(vnode, "markups"):
            key = p.string(kn, "markups", "a provider name")
            pkey = "*" if key.strip() == "*" else provider_key(key)
            if pkey is None:
                p.fail(kn, "markups", "expected a provider name, got an empty string")
            out.markups[pkey] = p.number(vn, f"markups.{key}", positive=True)
    return out


class _NodeParser:
    """Validates a composed YAML node tree, naming file, line and key path in every error."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: Any, key: str, message: str) -> NoReturn:
        line = node.start_mark.line + 1 if node is not None and node.start_mark is not None else 0
        where = f"{self.path}:{line}" if line else self.path
        raise PriceConfigError(f"{where}: {key}: {message}" if key else f"{where}: {message}")

    def pairs(self, node: Any, key: str) -> list[tuple[Any, Any]]:
        seen: dict[str, int] = {}
        out = []
        for kn, vn in node.value:
            k = self.string(kn, key, "a string key")
            if k in seen:
                self.fail(kn, f"{key}.{k}" if key else k, f"duplicate key (first defined on line {seen[k]})")
            seen[k] = kn.start_mark.line + 1
            out.append((kn, vn))
        return out

    def mapping(self, node: Any, key: str, allowed: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, f"expected a mapping with keys {', '.join(allowed)}, got {_node_kind(node)}")
        out = {}
        for kn, vn in self.pairs(node, key):
            k = kn.value
            if k not in allowed:
                self.fail(kn, f"{key}.{k}" if key else k, f"unknown key; expected one of: {', '.join(allowed)}")
            out[k] = (kn, vn)
        return out

    def string(self, node: Any, key: str, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.fail(node, key, f"expected {what}, got {_node_kind(node)}")
        return node.value

    def number(self, node: Any, key: str, *, positive: bool = False) -> Decimal:
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:str",
        ):
            text = node.value.replace("_", "") if node.tag != "tag:yaml.org,2002:str" else node.value
            # Plain scalars only: "0.15" in quotes is a string, 1e-3 (no dot) is a YAML 1.1 string.
            if node.tag != "tag:yaml.org,2002:str" or node.style is None:
                try:
                    d = Decimal(text.strip())
                except InvalidOperation:
                    d = None
                if d is not None and d.is_finite() and (d > 0 if positive else d >= 0):
                    return d
        want = "a positive number" if positive else "a non-negative number"
        got = repr(node.value) if isinstance(node, yaml.ScalarNode) else _node_kind(node)
        self.fail(node, key, f"expected {want}, got {got}")
        raise AssertionError  # unreachable

    def price(self, node: Any, key: str) -> PriceValue:
        import yaml

        if isinstance(node, yaml.MappingNode):
            m = self.mapping(node, key, ("base", "tiers"))
            if "base" not in m or "tiers" not in m:
                self.fail(node, key, "a tiered price needs both base: and tiers: [{start: N, price: P}, ...]")
            base = self.number(m["base"][1], f"{key}.base")
            tnode = m["tiers"][1]
            if not isinstance(tnode, yaml.SequenceNode) or not tnode.value:
                self.fail(tnode, f"{key}.tiers", "expected a non-empty list of {start: prompt_tokens, price: usd}")
            tiers: list[tuple[int, Decimal]] = []
            for i, t in enumerate(tnode.value):
                tk = f"{key}.tiers[{i}]"
                tm = self.mapping(t, tk, ("start", "price"))
                if "start" not in tm or "price" not in tm:
                    self.fail(t, tk, "a tier needs start: (prompt tokens above which it applies) and price:")
                sn = tm["start"][1]
                if not (isinstance(sn, yaml.ScalarNode) and sn.tag == "tag:yaml.org,2002:int"):
                    self.fail(sn, f"{tk}.start", f"expected a whole number of prompt tokens, got {sn.value!r}")
                try:
                    start = int(sn.value.replace("_", ""), 0)
                except ValueError:
                    start = int(sn.value.replace("_", ""))
                if start < 0:
                    self.fail(sn, f"{tk}.start", f"expected a non-negative number of tokens, got {start}")
                if tiers and start <= tiers[-1][0]:
                    self.fail(sn, f"{tk}.start", "tiers must be listed in increasing order of start")
                tiers.append((start, self.number(tm["price"][1], f"{tk}.price")))
            return (base, tuple(tiers))
        return self.number(node, key)

    def model_entry(self, node: Any, key: str) -> tuple[list[str], _Override]:
        import yaml

        m = self.mapping(node, key, _MODEL_KEYS)
        if "name" not in m:
            self.fail(node, key, "missing name: (the model name as it appears in spans)")
        name = self.string(m["name"][1], f"{key}.name", "a model name").strip().lower()
        if not name:
            self.fail(m["name"][1], f"{key}.name", "expected a non-empty model name")
        names = [name]
        if "aliases" in m:
            an = m["aliases"][1]
            if not isinstance(an, yaml.SequenceNode):
                self.fail(an, f"{key}.aliases", "expected a list of model names")
            for i, a in enumerate(an.value):
                alias = self.string(a, f"{key}.aliases[{i}]", "a model name").strip().lower()
                if alias and alias not in names:
                    names.append(alias)
        provider = None
        if "provider" in m:
            provider = provider_key(self.string(m["provider"][1], f"{key}.provider", "a provider name"))
        prices = {k: self.price(m[k][1], f"{key}.{k}") for k in _PRICE_KEYS if k in m}
        multiplier = self.number(m["multiplier"][1], f"{key}.multiplier", positive=True) if "multiplier" in m else None
        if prices:
            missing = [k for k in ("input_mtok", "output_mtok") if k not in prices]
            if missing:
                self.fail(
                    node,
                    key,
                    f"missing {' and '.join(missing)} (USD per million tokens; write 0 for a free direction)",
                )
        elif multiplier is None:
            self.fail(
                node,
                key,
                "expected prices (input_mtok, output_mtok, ...) or a multiplier: for the bundled price",
            )
        return names, _Override(name, provider, prices, multiplier if multiplier is not None else Decimal(1))


def _node_kind(node: Any) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null":
            return "nothing (null)"
        return repr(node.value)
    return type(node).__name__
