"""The Message Registry v2 and v3 publication rules the simulator enforces, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = frozenset({"fr", "nl", "de"})
MAX_ATTACHMENTS = 6  # "up to 6 documents" per publication
MAX_SUBJECT = 400
MAX_FILENAME = 255
MAX_BUSINESS_VALUE = 256
MAX_LABEL = 100


class RegistryError(Exception):
    """An eBox error answer: `{"id", "code", "message"}` with an HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        super().__init__(f"{code}: {message}")


def invalid(message: str) -> RegistryError:
    """INVALID_INPUT, the registry's answer to most malformed publications."""
    return RegistryError("INVALID_INPUT", message)


@dataclass(frozen=True)
class Part:
    """One uploaded file part of the multipart request."""

    filename: str
    content_type: str
    content: bytes


def valid_enterprise_number(value: str) -> bool:
    """KBO/BCE (domain §1): 10 digits, 0 or 1 first, last two = 97 - (first eight mod 97)."""
    if len(value) != 10 or not value.isdigit() or value[0] not in "01":
        return False
    return 97 - int(value[:8]) % 97 == int(value[8:])


def valid_ssin(value: str) -> bool:
    """INSZ/NISS (domain §1): 97 - (first nine mod 97); born 2000+: computed on "2" + first nine."""
    if len(value) != 11 or not value.isdigit():
        return False
    check = int(value[9:])
    return check in (97 - int(value[:9]) % 97, 97 - int("2" + value[:9]) % 97)


def check_publication(message: Any, parts: Mapping[str, Part], *, sender: str | None) -> str:
    """Raises a RegistryError for the first rule broken; returns the recipient's eBox id."""
    if not isinstance(message, dict):
        raise invalid("messageToPublish must be a JSON object")
    try:
        return _check(message, parts, sender)
    except (AttributeError, TypeError, KeyError):
        raise invalid("messageToPublish is malformed") from None


def check_publication_v2(message: Any, parts: Mapping[str, Part], *, sender: str | None) -> str:
    """rest-2.1 `MessageToPublish`: as v3's rules, in v2's field names; returns the eBox id."""
    if not isinstance(message, dict):
        raise invalid("messageToPublish must be a JSON object")
    try:
        return _check_v2(message, parts, sender)
    except (AttributeError, TypeError, KeyError):
        raise invalid("messageToPublish is malformed") from None


def _check_v2(message: dict[str, Any], parts: Mapping[str, Part], sender: str | None) -> str:
    _no_nulls(message, "messageToPublish")
    # rest-2.1 MessageToPublish.required: recipient, subject, bodyMainContent, replyAuthorized
    for name in ("bodyMainContent", "replyAuthorized"):
        if not isinstance(message.get(name), bool):
            raise invalid(f"{name} is required")
    _one_language(message)
    if not isinstance(message.get("messageTypeId"), str) or not isinstance(
        message.get("senderApplicationId"), str
    ):
        raise invalid("messageTypeId and senderApplicationId are required")
    number = str(message.get("senderOrganizationId", ""))
    if not valid_enterprise_number(number):
        raise invalid("senderOrganizationId is not valid")
    if sender is not None and number != sender:
        raise RegistryError("INVALID_SENDER", "sender does not match the client's certificate")
    recipient = message.get("recipient")
    if not isinstance(recipient, dict):
        raise invalid("recipient is required")
    kind, value = recipient.get("eboxType"), str(recipient.get("eboxIdValue", ""))
    valid = {"citizen": valid_ssin, "enterprise": valid_enterprise_number}.get(str(kind))
    if valid is None or not valid(value):
        raise invalid("recipient is not a valid citizen or enterprise eBox id")
    _attachments(message, parts, main="mainContent", body_main="bodyMainContent")
    attention = message.get("forTheAttentionOf")
    if attention is not None and (
        not isinstance(attention, dict) or set(attention) - {"id", "type", "name"}
    ):
        raise invalid("forTheAttentionOf takes id, type and name")
    return value


def _check(message: dict[str, Any], parts: Mapping[str, Part], sender: str | None) -> str:
    _no_nulls(message, "messageToPublish")
    _one_language(message)
    if not isinstance(message.get("messageTypeId"), str) or not isinstance(
        message.get("senderApplicationId"), str
    ):
        raise invalid("messageTypeId and senderApplicationId are required")
    _sender(message.get("sender"), sender)
    recipient = _recipient(message.get("recipient"))
    _attachments(message, parts)
    attention = message.get("forTheAttentionOf")
    if attention is not None:
        if len(str(attention.get("label", ""))) > MAX_LABEL:
            raise RegistryError(
                "INVALID_INPUT", f"forTheAttentionOf label over {MAX_LABEL} characters"
            )
        if "ssin" in attention and not valid_ssin(str(attention["ssin"])):
            raise invalid("forTheAttentionOf ssin is not valid")
    return recipient


def _no_nulls(value: Any, where: str) -> None:
    """v3 accepts no null values: an absent property is written by leaving it out."""
    if value is None:
        raise invalid(f"null value at {where}")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nulls(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nulls(item, f"{where}[{index}]")


def _one_language(message: dict[str, Any]) -> None:
    """Exactly one of fr/nl/de across subject, body and business data; several: NOT_IMPLEMENTED."""
    subject = message.get("subject")
    if not isinstance(subject, dict) or not subject:
        raise invalid("subject is required")
    texts: list[dict[str, Any]] = [subject]
    if isinstance(message.get("bodyContent"), dict):
        texts.append(message["bodyContent"])
    for data in message.get("businessDataList", []):
        texts.extend(v for v in data.get("values", []) if isinstance(v, dict))
        for value in data.get("values", []):
            if any(len(str(text)) > MAX_BUSINESS_VALUE for text in value.values()):
                raise invalid("business data value over 256 characters")
    languages = {language for text in texts for language in text}
    if len(languages) > 1:
        raise RegistryError("NOT_IMPLEMENTED", "publication in several languages is not supported")
    if not languages <= LANGUAGES:
        raise invalid("language must be fr, nl or de")
    if any(len(str(text)) > MAX_SUBJECT for text in subject.values()):
        raise invalid(f"subject over {MAX_SUBJECT} characters")


def _sender(sender: Any, expected: str | None) -> None:
    if not isinstance(sender, dict) or sender.get("eboxType") != "enterprise":
        raise invalid("sender must be an enterprise")
    number = str(sender.get("enterpriseNumber", ""))
    if not valid_enterprise_number(number):
        raise invalid("sender enterprise number is not valid")
    if expected is not None and number != expected:
        raise RegistryError("INVALID_SENDER", "sender does not match the client's certificate")


def _recipient(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        raise invalid("recipient is required")
    kind = recipient.get("eboxType")
    if kind == "citizen":
        ssin = str(recipient.get("ssin", ""))
        if not valid_ssin(ssin):
            raise invalid("recipient ssin is not valid")
        return ssin
    if kind == "enterprise":
        number = str(recipient.get("enterpriseNumber", ""))
        if not valid_enterprise_number(number):
            raise invalid("recipient enterprise number is not valid")
        return number
    raise invalid("recipient eboxType must be citizen or enterprise")


def _attachments(
    message: dict[str, Any],
    parts: Mapping[str, Part],
    *,
    main: str = "isMainContent",
    body_main: str = "isBodyMainContent",
) -> None:
    """Exactly one main content; declared parts and uploads match one to one; PDF only."""
    attachments = message.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
        raise RegistryError(
            "INVALID_INPUT", f"attachments must be a list of at most {MAX_ATTACHMENTS}"
        )
    declared = [str(a.get("httpPartName", "")) for a in attachments if isinstance(a, dict)]
    if len(declared) != len(attachments) or sorted(declared) != sorted(parts):
        raise invalid("attachments and uploaded parts do not match")
    mains = sum(1 for a in attachments if a.get(main) is True)
    mains += 1 if message.get(body_main) is True else 0
    if mains != 1:
        raise invalid("exactly one main content is required")
    if message.get(body_main) is True and "bodyContent" not in message:
        raise invalid(f"{body_main} without bodyContent")
    for name in declared:
        part = parts[name]
        if not part.filename or len(part.filename) > MAX_FILENAME:
            raise RegistryError(
                "INVALID_INPUT", f"{name}: file name missing or over {MAX_FILENAME}"
            )
        if part.content_type != "application/pdf" or not part.content.startswith(b"%PDF"):
            raise invalid(f"{name}: only PDF documents are accepted")
