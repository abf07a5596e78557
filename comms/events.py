"""The contract with upstream: one envelope, one payload model per event type, discriminated by `type`.

The event models live with their document types (`comms.doctypes`); the union here is built from
that registry, so a new type is known to validation, the JSON Schema and every caller at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union, cast

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import from_json

from comms.doctypes import DOC_TYPES
from comms.doctypes.parts import (
    EVENT_ID_PATTERN,
    SCHEMA_VERSION,
    CompanyRecipient,
    Envelope,
    Payment,
    PersonRecipient,
    PostalAddress,
)
from comms.errors import FieldError, InvalidEvent, field_error

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AnyEvent",
    "CompanyRecipient",
    "Payment",
    "PersonRecipient",
    "PostalAddress",
    "event_id_of",
    "event_json_schema",
    "parse_event",
    "to_json",
]

# Any event of a registered type; its `payload` is that type's model.
AnyEvent = Envelope

EVENT_TYPES: dict[str, type[Envelope]] = {name: t.event for name, t in DOC_TYPES.items()}

# The discriminated union of every registered event model (pydantic picks the model by `type`).
_UNION: Any = Annotated[
    Union[tuple(EVENT_TYPES.values())],  # noqa: UP007
    Field(discriminator="type"),
]
_ADAPTER = cast(TypeAdapter[AnyEvent], TypeAdapter(_UNION))


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors without `input`: the offending value may be a national number or a name."""
    return _unique(
        field_error(_public_path(err["loc"]), err["type"], err["msg"], err.get("ctx", {}))
        for err in exc.errors(include_input=False, include_url=False)
    )


def _unique(errors: Iterable[FieldError]) -> list[FieldError]:
    seen: dict[str, FieldError] = {}
    for e in errors:
        seen.setdefault(str(e), e)
    return list(seen.values())


def _public_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The path with the contract's own names only: a name upstream made up may be personal.

    An unknown field (`recipient.85073003328`) is reported on its parent, the name replaced by
    UNKNOWN_FIELD; the discriminator values pydantic puts in paths are dropped
    (`decision.payload.x` → `payload.x`).
    """
    parts = list(loc)
    if parts and parts[0] in EVENT_TYPES:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "recipient" and parts[1] in ("person", "company"):
        del parts[1]
    return [p if isinstance(p, int) or p in _CONTRACT_NAMES else UNKNOWN_FIELD for p in parts]


def _contract_names() -> frozenset[str]:
    """Every property name the event JSON Schema declares, at any depth."""
    names: set[str] = set()
    stack: list[Any] = [_ADAPTER.json_schema(mode="validation")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)


UNKNOWN_FIELD = "(unknown field)"  # stands for a field name that is not in the contract
_CONTRACT_NAMES = _contract_names()


def parse_event(raw: str | bytes | dict[str, Any]) -> AnyEvent:
    """Validates one event; raises InvalidEvent with field-level errors and no personal values.

    Text a database or an encoder cannot hold (NUL, unpaired surrogates) is refused here, by
    field, so that no door stores or answers it.
    """
    try:
        data: Any = raw if isinstance(raw, dict) else from_json(raw)
    except ValueError:
        data = None  # not JSON (or nested beyond jiter's limit): pydantic says so below
    try:
        unsafe = _unsafe_text(data)
        if unsafe:
            raise InvalidEvent(unsafe)
        if isinstance(raw, dict):
            return _ADAPTER.validate_python(raw)
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        errors = _field_errors(exc)
    except InvalidEvent as exc:
        errors = exc.errors
    event_id, doc_type = envelope_of(raw)
    raise InvalidEvent(errors, event_id=event_id, doc_type=doc_type) from None


def _unsafe_text(data: Any) -> list[FieldError]:
    """Keys and strings holding NUL or an unpaired surrogate, by field (PostgreSQL refuses NUL)."""
    found: list[FieldError] = []
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, str):
            if not is_storable_text(node):
                found.append(field_error(_public_path(loc), "text", UNSAFE_TEXT, {}))
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and not is_storable_text(key):
                    found.append(field_error(_public_path(loc), "text", UNSAFE_NAME, {}))
                else:
                    stack.append((value, (*loc, key)))
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
    return _unique(found)


UNSAFE_TEXT = "holds a NUL character or an unpaired surrogate"
UNSAFE_NAME = "has a field name holding a NUL character or an unpaired surrogate"


def is_storable_text(text: str) -> bool:
    """False for text no database column or UTF-8 encoder takes as it is (NUL, lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_EVENT_ID = re.compile(EVENT_ID_PATTERN)
# One JSON token: a string (escapes kept) or a structural character; scanned without recursion.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def envelope_of(raw: str | bytes | Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The event id and type of an invalid event when both are well-formed, else None.

    A malformed id is not kept: it may hold a name, and would enter the chained log. The text is
    scanned token by token, so no nesting depth can exhaust the stack.
    """
    top: Mapping[str, Any]
    if isinstance(raw, Mapping):
        top = raw
    else:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        top = _top_level_strings(text)
    event_id, doc_type = top.get("event_id"), top.get("type")
    if not (isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id.strip())):
        event_id = None
    if not (isinstance(doc_type, str) and doc_type in EVENT_TYPES):
        doc_type = None
    return (event_id.strip() if event_id else None), doc_type


def _top_level_strings(text: str) -> dict[str, str]:
    """The string-valued members of the outermost JSON object, however deep the rest goes."""
    found: dict[str, str] = {}
    depth = 0
    recent: list[str] = []  # the last three tokens at depth 1: key, colon, value
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in "{[":
            depth += 1
            recent.clear()
        elif piece in "}]":
            depth -= 1
            recent.clear()
        elif depth == 1:
            recent = [*recent[-2:], piece]
            if len(recent) == 3 and recent[1] == ":" and recent[0][0] == recent[2][0] == '"':
                try:
                    key, value = json.loads(recent[0]), json.loads(recent[2])
                except ValueError:
                    continue
                found.setdefault(key, value)
    return found


def event_id_of(raw: str | bytes | dict[str, Any]) -> str | None:
    """Best-effort event id of an invalid event, so its rejection can still be found."""
    return envelope_of(raw)[0]


def sealable_text(raw: str | bytes | Mapping[str, Any]) -> str:
    """A rejected input as text to seal, whatever it holds (bytes that are not UTF-8, surrogates)."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")
    return json.dumps(dict(raw), default=str)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema upstream developers validate against (`comms schema`)."""
    return _ADAPTER.json_schema(mode="validation")


def to_json(event: AnyEvent) -> str:
    """Canonical JSON of an event, the form snapshots and content hashes are made of."""
    return event.model_dump_json()
