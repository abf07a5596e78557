"""Exceptions of the core, each saying what the caller should do next."""

from __future__ import annotations


class CommsError(Exception):
    """Base of every error the core raises on purpose."""


class InvalidEvent(CommsError):
    """The event breaks the contract: record it as rejected, keep it, do not retry."""

    def __init__(
        self, errors: list[FieldError], *, event_id: str | None = None, doc_type: str | None = None
    ) -> None:
        self.errors = errors
        self.event_id = event_id  # only a well-formed id: a malformed one may hold a name
        self.doc_type = doc_type  # only a known type
        super().__init__("; ".join(str(e) for e in errors))


class FieldError:
    """One field-level problem, phrased without the offending value (it may be personal)."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class RenderRefused(CommsError):
    """The letter may not go out as it is (fail closed): record the reason, tell staff, never send."""

    def __init__(self, reason: str, *, template: str | None = None) -> None:
        self.reason = reason
        self.template = template
        super().__init__(f"{template}: {reason}" if template else reason)


class MissingTemplate(RenderRefused):
    """No template for this language and type: never fall back to another language."""


class MissingMention(RenderRefused):
    """A mandatory legal mention (reasons, appeal, payment block) is absent from the rendering."""


class SettingsProblem(CommsError):
    """A setting is missing or unusable where it is used (a key file): fix the environment.

    The message names the variable, never its value: it may be a secret.
    """


class RemoteContent(RenderRefused):
    """The email would make the member's mail client fetch something from the web: never send."""


class IncoherentLetter(RenderRefused):
    """The letter's dates, sums or references contradict each other (docs/letters.md): the rule
    and the field are named, never the value; upstream corrects the event."""

    def __init__(self, broken: list[tuple[str, str]]) -> None:
        self.broken = broken
        reasons = "; ".join(f"{rule} ({field})" for rule, field in broken)
        super().__init__(f"incoherent letter: {reasons}")


class DuplicateEvent(CommsError):
    """The same event id arrived with different content: refuse it as a conflict."""


def field_error(
    path: list[int | str], kind: str, message: str, ctx: dict[str, object]
) -> FieldError:
    """A pydantic error as a FieldError that never quotes the rejected value.

    Pydantic's own message for an unknown discriminator ("Input tag '…' found …") quotes it; the
    others name only what was expected.
    """
    if kind == "union_tag_invalid":
        path = [*path, str(ctx.get("discriminator", "")).strip("'")]
        message = f"must be one of {ctx.get('expected_tags', 'the known values')}"
    field = ".".join(str(p) for p in path if p != "") or "(event)"
    return FieldError(field, message.removeprefix("Value error, "))
