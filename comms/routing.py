"""Which channels carry an event, in which order, and why: the policy is a TOML file, not code."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from channels.base import PermanentError, PreferencesLookup, TransientError
from comms.doctypes import DOC_TYPES, DocType
from comms.events import AnyEvent, CompanyRecipient, PostalAddress
from comms.models import ChannelName

log = logging.getLogger(__name__)

POST = ChannelName.POST
_TYPE_KEYS = frozenset(
    {"order", "registered", "email_attach_document", "post_when_no_digital_user"}
    | {"never", "legal", "post_to_flagged_address", "fallback"}
)
# The channel each fallback trigger comes from: a chain never leads back to it.
_TRIGGER_SOURCES = {
    "bounced": ChannelName.EMAIL,
    "no_digital_user": ChannelName.EBOX,
    "published_no_id": ChannelName.EBOX,
    "unread": ChannelName.EBOX,
    "returned": POST,
}
_TRIGGERS = tuple(_TRIGGER_SOURCES)
_FALLBACK_KEYS = frozenset({*_TRIGGERS, "unread_after_days"})
NO_DIGITAL_USER_REASON = "eBox answered NO_DIGITAL_USER: paper as well"
PUBLISHED_NO_ID_REASON = "eBox publication replayed, its message id unknown: paper as well"


class PolicyError(ValueError):
    """The routing policy file is wrong; the service refuses to start rather than guess."""


@dataclass(frozen=True)
class Fallbacks:
    """Where a letter goes next when tracking learns it did not arrive (`[….fallback]`)."""

    bounced: tuple[ChannelName, ...] = (POST,)  # email hard bounce
    no_digital_user: tuple[ChannelName, ...] = (POST,)  # eBox: the person never opened an eBox
    # eBox 409 replay without the first answer: no message id, so no read and no NO_DIGITAL_USER
    published_no_id: tuple[ChannelName, ...] = (POST,)
    unread: tuple[ChannelName, ...] = ()  # eBox still unread `unread_after_days` after publication
    unread_after_days: int = 0  # 0: unread messages are never re-sent
    returned: tuple[ChannelName, ...] = ()  # returned mail: by default staff look for an address

    def chain(self, trigger: str) -> tuple[ChannelName, ...]:
        """The channels for `bounced`, `no_digital_user`, `published_no_id`, `unread`, `returned`."""
        if trigger not in _TRIGGERS:
            raise ValueError(f"unknown fallback trigger {trigger}")
        chain: tuple[ChannelName, ...] = getattr(self, trigger)
        return chain


@dataclass(frozen=True)
class TypePolicy:
    """The routing rules of one document type."""

    order: tuple[ChannelName, ...]
    registered: bool = False
    email_attach_document: bool = True
    never: frozenset[ChannelName] = frozenset()  # legal constraints: channels this type never uses
    legal: str = ""  # why, cited in the recorded reason (no personal data: it is policy text)
    post_to_flagged_address: bool = False  # send paper even after returned mail (legal domicile)
    fallback: Fallbacks = field(default_factory=Fallbacks)

    @property
    def post_when_no_digital_user(self) -> bool:
        return POST in self.fallback.no_digital_user


@dataclass(frozen=True)
class Route:
    """One channel to try, with the reason it was chosen (recorded in the ledger)."""

    channel: ChannelName
    reason: str
    registered: bool = False
    attach_document: bool = True


@dataclass(frozen=True)
class Plan:
    """The routes to try in order; the first is the choice, the rest the fallback chain."""

    routes: tuple[Route, ...]
    skipped: tuple[str, ...]
    post_when_no_digital_user: bool
    fallback: Fallbacks = field(default_factory=Fallbacks)

    def after(self, channel: ChannelName) -> tuple[Route, ...]:
        names = [r.channel for r in self.routes]
        return self.routes[names.index(channel) + 1 :] if channel in names else ()

    def route_for(self, channel: ChannelName, reason: str) -> Route:
        for route in self.routes:
            if route.channel == channel:
                return route
        return Route(channel, reason)

    def fallback_routes(self, channels: Iterable[ChannelName], reason: str) -> tuple[Route, ...]:
        """The planned routes of `channels`, each carrying `reason`; unplanned channels are left out.

        A channel routing left out (no eBox, no consent, a flagged address, a legal constraint) is
        not tried as a fallback either: the same rules hold whatever the trigger.
        """
        planned = {r.channel: r for r in self.routes}
        return tuple(replace(planned[c], reason=reason) for c in channels if c in planned)


@dataclass(frozen=True)
class Facts:
    """What routing learns beyond the event: the fund's own records and the eBox preferences."""

    address_flagged: bool = False  # returned mail came back from this dossier's address
    ebox_known: bool | None = None  # company eBox in the federation's preferences; None: unknown
    exclusively_ebox: bool | None = None  # the company gave up paper
    notes: tuple[str, ...] = ()  # lookups that failed, so the reason says what routing knew


class FactSource(Protocol):
    """Looks up the facts of one event's recipient; must not raise for an unavailable service."""

    async def facts(self, event: AnyEvent) -> Facts: ...


class Router:
    """Applies the policy to one recipient: their eBox, their email consent, the legal constraints."""

    def __init__(
        self,
        policies: Mapping[str, TypePolicy],
        default: TypePolicy,
        *,
        facts: FactSource | None = None,
    ) -> None:
        self._policies = dict(policies)
        self._default = default
        self._facts = facts

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        facts: FactSource | None = None,
        doc_types: Mapping[str, DocType] = DOC_TYPES,
    ) -> Router:
        """Each type's routing from the registry, with the file's `[types.X]` laid over it.

        The file may not contradict what the law fixes in the registry (registered mail, channels
        a type never uses); a type the registry does not know is refused, as a typo would
        silently route a decision by the default (email included).
        """
        with path.open("rb") as f:
            raw = tomllib.load(f)
        unknown = set(raw) - {"default", "types"}
        if unknown:
            raise PolicyError(f"{path.name}: unknown sections {sorted(unknown)}")
        default = _policy(raw.get("default", {}), None, "default")
        overrides: dict[str, Any] = raw.get("types", {})
        strangers = sorted(set(overrides) - set(doc_types))
        if strangers:
            raise PolicyError(f"{path.name}: unknown document type {', '.join(strangers)}")
        types = {
            name: _policy(_laid_over(t, overrides.get(name, {}), path.name), default, name)
            for name, t in doc_types.items()
        }
        return cls(types, default, facts=facts)

    def policy(self, doc_type: str) -> TypePolicy:
        return self._policies.get(doc_type, self._default)

    async def decide(self, event: AnyEvent) -> Plan:
        """The plan, after looking up what the event cannot tell (flags, eBox preferences)."""
        facts = await self._facts.facts(event) if self._facts is not None else Facts()
        return self.plan(event, facts)

    def plan(self, event: AnyEvent, facts: Facts | None = None) -> Plan:
        """The routes in the policy's order, each channel judged by its rule in `_RULES`."""
        facts = facts or Facts()
        policy = self.policy(event.type)
        seen = _Recipient.of(event, facts)
        routes: list[Route] = []
        skipped: list[str] = []
        for channel in policy.order:
            decided = _RULES[channel](seen, policy, facts)
            if isinstance(decided, Route):
                routes.append(decided)
            else:
                skipped.append(decided)
        if not any(r.channel is POST for r in routes) and POST not in policy.never:
            # Paper is the last resort for every member: nobody is left without the letter,
            # unless the address is known to be wrong (staff then find the right one).
            post = _post(policy, facts, fallback=True)
            if post is not None:
                routes.append(post)
            elif POST not in policy.order:  # else its rule said so already
                skipped.append(_FLAGGED)
        skipped.extend(f"{c.value}: never for {event.type} ({policy.legal})" for c in policy.never)
        if routes:
            # The first route's reason carries the whole decision, so one ledger row explains it.
            routes[0] = replace(
                routes[0], reason=_explained(routes[0].reason, skipped, facts.notes)
            )
        return Plan(
            tuple(routes), tuple(skipped), policy.post_when_no_digital_user, policy.fallback
        )


@dataclass(frozen=True)
class _Recipient:
    """What the channel rules ask of a recipient, with the looked-up facts taken into account."""

    has_ebox: bool
    exclusively_ebox: bool
    email: bool  # an address and the consent to use it
    looked_up: str  # " (eBox preferences)" when the federation's answer counted

    @classmethod
    def of(cls, event: AnyEvent, facts: Facts) -> _Recipient:
        r = event.recipient
        exclusively = (
            facts.exclusively_ebox
            if facts.exclusively_ebox is not None
            else r.ebox.exclusively_ebox
        )
        return cls(
            has_ebox=r.ebox.has_ebox or bool(facts.ebox_known),
            exclusively_ebox=bool(exclusively),
            email=bool(r.email and r.consents.email),
            looked_up=" (eBox preferences)" if facts.ebox_known else "",
        )


_FLAGGED = "post: the dossier's address is flagged (returned mail)"


def _ebox(r: _Recipient, _policy: TypePolicy, _facts: Facts) -> Route | str:
    if r.has_ebox:
        return Route(ChannelName.EBOX, "recipient has an eBox" + r.looked_up)
    return "ebox: no eBox known for the recipient"


def _email(r: _Recipient, policy: TypePolicy, _facts: Facts) -> Route | str:
    if r.exclusively_ebox and r.has_ebox:
        return "email: recipient chose eBox only" + r.looked_up
    if r.email:
        return Route(
            ChannelName.EMAIL,
            "recipient gave an email address and consented to email",
            attach_document=policy.email_attach_document,
        )
    return "email: no address or no consent"


def _post_rule(_r: _Recipient, policy: TypePolicy, facts: Facts) -> Route | str:
    return _post(policy, facts, fallback=False) or _FLAGGED


def _post(policy: TypePolicy, facts: Facts, *, fallback: bool) -> Route | None:
    if facts.address_flagged and not policy.post_to_flagged_address:
        return None
    if policy.registered:
        reason = "registered post required for this document type"
    else:
        reason = "fallback: paper by post" if fallback else "paper by post"
    if facts.address_flagged:
        reason += " (address flagged after returned mail; sent to the legal address anyway)"
    return Route(POST, reason, registered=policy.registered)


# Which rule judges each channel for one recipient: a route, or the reason it was skipped.
_RULES: dict[ChannelName, Callable[[_Recipient, TypePolicy, Facts], Route | str]] = {
    ChannelName.EBOX: _ebox,
    ChannelName.EMAIL: _email,
    ChannelName.POST: _post_rule,
}


def _explained(reason: str, skipped: list[str], notes: tuple[str, ...]) -> str:
    if skipped:
        reason += f"; skipped: {'; '.join(skipped)}"
    if notes:
        reason += f"; noted: {'; '.join(notes)}"
    return reason


def _laid_over(doc_type: DocType, body: dict[str, Any], file: str) -> dict[str, Any]:
    """The type's registry routing with the file's table over it; legal facts must agree."""
    where = f"{file}: types.{doc_type.name}"
    if "registered" in body and bool(body["registered"]) != doc_type.registered:
        raise PolicyError(
            f"{where}.registered disagrees with the document type (comms/doctypes/), "
            f"which says {str(doc_type.registered).lower()}"
        )
    kept = set(doc_type.routing.get("never", ())) - set(
        body.get("never", doc_type.routing.get("never", ()))
    )
    if kept:
        raise PolicyError(f"{where}.never drops {sorted(kept)}, which the document type forbids")
    merged = {**doc_type.routing, **body, "registered": doc_type.registered}
    fallback = {**doc_type.routing.get("fallback", {}), **body.get("fallback", {})}
    if fallback:
        merged["fallback"] = fallback
    return merged


def _channels(value: Any, where: str) -> tuple[ChannelName, ...]:
    if not isinstance(value, list):
        raise PolicyError(f"{where}: a list of channels is expected")
    try:
        channels = tuple(ChannelName(c) for c in value)
    except ValueError:
        raise PolicyError(f"{where}: unknown channel in {value}") from None
    if len(set(channels)) != len(channels):
        raise PolicyError(f"{where}: a channel appears twice")
    return channels


def _fallbacks(body: Any, base: Fallbacks, where: str) -> Fallbacks:
    if not isinstance(body, dict):
        raise PolicyError(f"{where}: a table is expected")
    unknown = set(body) - _FALLBACK_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    days = body.get("unread_after_days", base.unread_after_days)
    if not isinstance(days, int) or days < 0:
        raise PolicyError(f"{where}.unread_after_days: a whole number of days, 0 for never")
    chains = {
        key: _channels(body[key], f"{where}.{key}") if key in body else getattr(base, key)
        for key in _TRIGGERS
    }
    if chains["unread"] and days == 0:
        raise PolicyError(f"{where}: unread has a chain but unread_after_days is 0")
    return Fallbacks(unread_after_days=days, **chains)


def _policy(body: dict[str, Any], default: TypePolicy | None, name: str) -> TypePolicy:
    unknown = set(body) - _TYPE_KEYS
    if unknown:
        raise PolicyError(f"{name}: unknown keys {sorted(unknown)}")
    base = default or TypePolicy(order=(ChannelName.EBOX, ChannelName.EMAIL, POST))
    order = _channels(body["order"], f"{name}.order") if "order" in body else base.order
    never = frozenset(_channels(body.get("never", []), f"{name}.never"))
    fallback = _fallbacks(body.get("fallback", {}), base.fallback, f"{name}.fallback")
    if "post_when_no_digital_user" in body:  # the older spelling of fallback.no_digital_user
        fallback = replace(
            fallback, no_digital_user=(POST,) if body["post_when_no_digital_user"] else ()
        )
    policy = TypePolicy(
        order=order,
        registered=bool(body.get("registered", False)),
        email_attach_document=bool(body.get("email_attach_document", base.email_attach_document)),
        never=never,
        legal=str(body.get("legal", "")),
        post_to_flagged_address=bool(body.get("post_to_flagged_address", False)),
        fallback=fallback,
    )
    _check(policy, name)
    return policy


def _check(policy: TypePolicy, name: str) -> None:
    """Contradictions in the policy are errors at start-up, not surprises in the ledger."""
    if not policy.order:
        raise PolicyError(f"{name}: order is empty")
    if policy.never & set(policy.order):
        raise PolicyError(f"{name}: a channel is both in order and in never")
    if policy.never and not policy.legal:
        raise PolicyError(f"{name}: never needs a legal reason (legal = …)")
    if policy.registered and POST not in policy.order:
        raise PolicyError(f"{name}: registered mail needs post in the order")
    for trigger, source in _TRIGGER_SOURCES.items():
        chain = set(policy.fallback.chain(trigger))
        if policy.never & chain:
            raise PolicyError(f"{name}.fallback.{trigger}: uses a channel this type never uses")
        if source in chain:
            raise PolicyError(f"{name}.fallback.{trigger}: {source.value} cannot follow itself")


# --- facts looked up for routing --------------------------------------------------------------

EVIDENCE_ADDRESS_FLAG = "address_flag"  # evidence key of a `returned` row that flags an address
PREFERENCES_TTL_S = 3600.0  # the federation's answer is reused for an hour per company
PREFERENCES_TIMEOUT_S = 5.0  # routing waits no longer for it; without it, upstream's word counts


def address_flag(secret: bytes, dossier: str, address: PostalAddress) -> str:
    """Keyed hash of one dossier's postal address: what a returned letter flags, never the address.

    A corrected address hashes differently, so the flag lifts by itself when upstream sends it.
    """
    parts = (
        dossier,
        address.street,
        address.number,
        address.box or "",
        address.postcode,
        address.municipality,
        address.country,
    )
    text = "\0".join(" ".join(p.casefold().split()) for p in parts)
    return hmac.new(secret, b"address-flag\0" + text.encode("utf-8"), hashlib.sha256).hexdigest()


class LookedUpFacts:
    """Facts from the ledger (flagged addresses) and the eBox federation (company preferences)."""

    def __init__(
        self,
        *,
        find_evidence: Callable[[str, str], object | None],
        secret: bytes,
        preferences: PreferencesLookup | None = None,
        ttl_s: float = PREFERENCES_TTL_S,
        timeout_s: float = PREFERENCES_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._find = find_evidence
        self._secret = secret
        self._preferences = preferences
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def facts(self, event: AnyEvent) -> Facts:
        key = address_flag(self._secret, event.dossier, event.recipient.address)
        flagged = await asyncio.to_thread(self._find, EVIDENCE_ADDRESS_FLAG, key) is not None
        r = event.recipient
        if not isinstance(r, CompanyRecipient) or self._preferences is None:
            return Facts(address_flagged=flagged)
        try:
            known = await self._company(r.enterprise_number)
        except (TransientError, PermanentError, ValueError, TimeoutError):
            log.warning("ebox preferences unavailable", extra={"event_id": event.event_id})
            return Facts(address_flagged=flagged, notes=("eBox preferences unavailable",))
        if known is None:
            return Facts(address_flagged=flagged, ebox_known=False)
        return Facts(
            address_flagged=flagged,
            ebox_known=True,
            exclusively_ebox=bool(known.get("exclusivelyEbox", False)),
        )

    async def _company(self, number: str) -> dict[str, Any] | None:
        """The company's preferences if it has an eBox; None if the federation does not know it."""
        cached = self._cache.get(number)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        assert self._preferences is not None
        found = await asyncio.wait_for(self._preferences.preferences([number]), self._timeout_s)
        self._cache[number] = (self._clock() + self._ttl_s, found.get(number))
        return found.get(number)
