"""The `move`, `remove` and `add` operators (stanza's operator/transformer/move, remove, add)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ....config import Invalid, option
from ..entry import Entry, Field, FieldError
from .base import Operator, OperatorConfig, OperatorError, check_field


@dataclass
class MoveConfig(OperatorConfig):
    from_: str = option("", "Field to move (required).", key="from")
    to: str = option("", "Where it goes (required).")

    def validate(self) -> None:
        super().validate()
        check_field(self.from_, "from")
        check_field(self.to, "to")


class Move(Operator):
    def __init__(self, config: MoveConfig, log: Any):
        super().__init__(config, log)
        self.source, self.target = Field.parse(config.from_), Field.parse(config.to)

    def apply(self, entry: Entry) -> list[Entry]:
        value, found = self.source.delete(entry)
        if not found:
            raise OperatorError(f"move: field {self.source} does not exist")
        try:
            self.target.set(entry, value)
        except FieldError as exc:
            raise OperatorError(str(exc)) from None
        return [entry]


@dataclass
class RemoveConfig(OperatorConfig):
    field: str = option("", "Field to remove (required); `attributes` or `resource` removes them all.")

    def validate(self) -> None:
        super().validate()
        check_field(self.field, "field")


class Remove(Operator):
    def __init__(self, config: RemoveConfig, log: Any):
        super().__init__(config, log)
        self.field = Field.parse(config.field)

    def apply(self, entry: Entry) -> list[Entry]:
        _, found = self.field.delete(entry)
        if not found:
            raise OperatorError(f"remove: field {self.field} does not exist")
        return [entry]


@dataclass
class AddConfig(OperatorConfig):
    field: str = option("", "Field to set (required).")
    value: Any = option(None, "The value (string, number, boolean, list or mapping); required. `EXPR(...)` expressions are refused.")

    def validate(self) -> None:
        super().validate()
        check_field(self.field, "field")
        if self.value is None:
            raise Invalid("missing required key", "value")
        if isinstance(self.value, str) and self.value.startswith("EXPR(") and self.value.endswith(")"):
            raise Invalid("EXPR() values (expr-lang expressions) are not supported; give a literal value", "value")


class Add(Operator):
    def __init__(self, config: AddConfig, log: Any):
        super().__init__(config, log)
        self.field, self.value = Field.parse(config.field), config.value

    def apply(self, entry: Entry) -> list[Entry]:
        try:
            self.field.set(entry, copy.deepcopy(self.value))
        except FieldError as exc:
            raise OperatorError(str(exc)) from None
        return [entry]
