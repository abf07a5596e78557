"""What a template may read: the shape of its context, taken from the pydantic event models."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from comms.doctypes.parts import Account, OpenItem
from comms.events import EVENT_TYPES

ShapeKind = Literal["any", "leaf", "record", "list", "macros", "macro"]


@dataclass(frozen=True)
class Shape:
    """A value a template can name; `path` is where it comes from (`data.appeal.court.name`).

    `record` fields map a name to a Python annotation (read lazily, models nest) or to a Shape.
    """

    path: str
    kind: ShapeKind
    label: str = ""  # how staff call it in messages: "the data of a decision"
    fields: Mapping[str, Any] = field(default_factory=dict)
    item: Any = None  # list: the annotation or Shape of one element
    leaf: tuple[type, ...] = ()  # leaf: the Python types a value may have
    node: Any = None  # macro: the jinja2 Macro node; macros: dict name -> macro Shape
    file: str = ""  # macro(s): the file that defines them

    def child(self, name: str) -> Shape | None:
        """The field `name` of a record, or None if it has none by that name."""
        if self.kind == "any":
            return ANY
        if self.kind == "record" and name in self.fields:
            return shape_of(self.fields[name], f"{self.path}.{name}")
        if self.kind == "macros" and name in self.fields:
            found: Shape = self.fields[name]
            return found
        if self.kind == "leaf" and any(hasattr(t, name) for t in self.leaf):
            return Shape(path="", kind="any")  # e.g. `date.year` or `str.upper`
        if self.kind == "list" and hasattr(list, name):
            return ANY
        return None

    def element(self) -> Shape:
        """One element, for `{% for x in … %}` and `…[0]`."""
        if self.kind == "list":
            return shape_of(self.item, f"{self.path}[]")
        return ANY

    def known_names(self) -> list[str]:
        return sorted(self.fields) if self.kind in ("record", "macros") else []


ANY = Shape(path="", kind="any")
_LEAVES: tuple[type, ...] = (str, int, float, bool, Decimal, date, datetime, type(None))


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def shape_of(annotation: Any, path: str) -> Shape:
    """A Shape for a type annotation; a union keeps every member's fields (person or company)."""
    if isinstance(annotation, Shape):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return shape_of(typing.get_args(annotation)[0], path)
    if origin is Literal:
        return Shape(path=path, kind="leaf", leaf=(str, int, bool))
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return Shape(path=path, kind="list", item=args[0] if args else Any)
    if _is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        shapes = [shape_of(a, path) for a in members]
        if len(shapes) == 1:
            return shapes[0]
        if all(s.kind == "record" for s in shapes):
            merged: dict[str, Any] = {}
            for s in shapes:
                merged.update(s.fields)
            return Shape(path=path, kind="record", label=shapes[0].label, fields=merged)
        if all(s.kind == "leaf" for s in shapes):
            return Shape(path=path, kind="leaf", leaf=tuple(t for s in shapes for t in s.leaf))
        return _with_path(ANY, path)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = {name: info.annotation for name, info in annotation.model_fields.items()}
        return Shape(path=path, kind="record", label=annotation.__name__, fields=fields)
    if isinstance(annotation, type) and issubclass(annotation, Enum | str):
        return Shape(path=path, kind="leaf", leaf=(str,))
    if isinstance(annotation, type) and issubclass(annotation, _LEAVES):
        return Shape(path=path, kind="leaf", leaf=(annotation,))
    return _with_path(ANY, path)


def _with_path(shape: Shape, path: str) -> Shape:
    return Shape(
        path=path,
        kind=shape.kind,
        label=shape.label,
        fields=shape.fields,
        item=shape.item,
        leaf=shape.leaf,
        node=shape.node,
        file=shape.file,
    )


def mapping_shape(path: str, value: Mapping[str, Any], label: str) -> Shape:
    """A record whose fields are the keys of a plain mapping (`fund.toml`), nested tables too."""
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            fields[key] = mapping_shape(f"{path}.{key}", item, label)
        elif isinstance(item, list):
            fields[key] = Shape(path=f"{path}.{key}", kind="list", item=Any)
        else:
            fields[key] = Shape(path=f"{path}.{key}", kind="leaf", leaf=(type(item),))
    return Shape(path=path, kind="record", label=label, fields=fields)


def _record(path: str, label: str, fields: Mapping[str, Any]) -> Shape:
    return Shape(path=path, kind="record", label=label, fields=dict(fields))


# What `Composer.context()` hands every template besides `data`, `recipient` and `fund`
# (docs/templates.md, "What a template can use"); a test holds the two together.
EVENT_FIELDS: dict[str, Any] = {
    "event_id": str,
    "type": str,
    "dossier": str,
    "occurred_at": datetime,
}
LETTER_FIELDS: dict[str, Any] = {
    "date": date,
    "registered": bool,
    "language": str,
    "reference": str,
}
PAYABLE_FIELDS: dict[str, Any] = {
    "amount": Decimal,
    "due_date": date,
    "beneficiary": str,
    "iban": str,
    "bic": str,
    "structured_communication": str,
    "qr": str,
    "debt": OpenItem | None,
}


def payload_model(doc_type: str) -> type[BaseModel]:
    """The pydantic model of `data` for a document type, read from the event's `payload` field."""
    annotation = EVENT_TYPES[doc_type].model_fields["payload"].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


NOTHING = Shape(path="", kind="leaf", leaf=(type(None),))


def context_shapes(doc_type: str, fund: Mapping[str, Any]) -> dict[str, Shape]:
    """Every name a template of this type may use, with its shape.

    `payments` is always empty and `payable` None for a type without a payment (a tax certificate).
    """
    envelope = EVENT_TYPES[doc_type]
    payable = has_payment(doc_type)
    return {
        "event": _record("event", "the event", EVENT_FIELDS),
        "recipient": shape_of(envelope.model_fields["recipient"].annotation, "recipient"),
        "data": shape_of(payload_model(doc_type), "data"),
        "fund": mapping_shape("fund", fund, "fund.toml"),
        "letter": _record("letter", "the letter", LETTER_FIELDS),
        "payable": _record("payable", "the payment block", PAYABLE_FIELDS)
        if payable
        else _with_path(NOTHING, "payable"),
        "payments": Shape(
            path="payments",
            kind="list",
            item=_record("payments[]", "a payment block", PAYABLE_FIELDS) if payable else NOTHING,
        ),
    }


def has_payment(doc_type: str) -> bool:
    """A payload that holds an `Account` (a `Payment`) may be payable: its letter must carry the payment block.

    The payment is the notice's own field (`data.payment`) or a nested one (a recovery decision's
    `data.recovery.payment`).
    """
    pending: list[type[BaseModel]] = [payload_model(doc_type)]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if issubclass(model, Account):
            return True
        if model not in seen:
            seen.add(model)
            for info in model.model_fields.values():
                pending += _models_in(info.annotation)
    return False


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation names, through `Annotated`, unions and lists."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) is Literal:
        return []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
