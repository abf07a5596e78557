"""Which channels carry an event, in which order, and why: the policy is a TOML file, not code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comms.events import AnyEvent
from comms.models import ChannelName


@dataclass(frozen=True)
class TypePolicy:
    """The routing rules of one document type."""

    order: tuple[ChannelName, ...]
    registered: bool = False
    email_attach_document: bool = True
    post_when_no_digital_user: bool = True


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

    def after(self, channel: ChannelName) -> tuple[Route, ...]:
        names = [r.channel for r in self.routes]
        return self.routes[names.index(channel) + 1 :] if channel in names else ()

    def route_for(self, channel: ChannelName, reason: str) -> Route:
        for route in self.routes:
            if route.channel == channel:
                return route
        return Route(channel, reason)


class Router:
    """Applies the policy to one recipient: their eBox, their email consent, the legal constraints."""

    def __init__(self, policies: dict[str, TypePolicy], default: TypePolicy) -> None:
        self._policies = policies
        self._default = default

    @classmethod
    def from_file(cls, path: Path) -> Router:
        with path.open("rb") as f:
            raw = tomllib.load(f)
        default = _policy(raw.get("default", {}), None)
        types = {name: _policy(body, default) for name, body in raw.get("types", {}).items()}
        return cls(types, default)

    def policy(self, doc_type: str) -> TypePolicy:
        return self._policies.get(doc_type, self._default)

    def plan(self, event: AnyEvent) -> Plan:
        policy = self.policy(event.type)
        recipient = event.recipient
        routes: list[Route] = []
        skipped: list[str] = []
        for channel in policy.order:
            if channel is ChannelName.EBOX:
                if recipient.ebox.has_ebox:
                    routes.append(Route(channel, "recipient has an eBox"))
                else:
                    skipped.append("ebox: no eBox known for the recipient")
            elif channel is ChannelName.EMAIL:
                if recipient.ebox.exclusively_ebox and recipient.ebox.has_ebox:
                    skipped.append("email: recipient chose eBox only")
                elif recipient.email and recipient.consents.email:
                    routes.append(
                        Route(
                            channel,
                            "recipient gave an email address and consented to email",
                            attach_document=policy.email_attach_document,
                        )
                    )
                else:
                    skipped.append("email: no address or no consent")
            else:
                reason = (
                    "registered post required for this document type"
                    if policy.registered
                    else "paper by post"
                )
                routes.append(Route(channel, reason, registered=policy.registered))
        if not any(r.channel is ChannelName.POST for r in routes):
            # Paper is the last resort for every member: nobody is left without the letter.
            routes.append(
                Route(ChannelName.POST, "fallback: paper by post", registered=policy.registered)
            )
        return Plan(tuple(routes), tuple(skipped), policy.post_when_no_digital_user)


def _policy(body: dict[str, Any], default: TypePolicy | None) -> TypePolicy:
    base = default or TypePolicy(order=(ChannelName.EBOX, ChannelName.EMAIL, ChannelName.POST))
    return TypePolicy(
        order=tuple(ChannelName(c) for c in body.get("order", [c.value for c in base.order])),
        registered=bool(body.get("registered", False)),
        email_attach_document=bool(body.get("email_attach_document", base.email_attach_document)),
        post_when_no_digital_user=bool(
            body.get("post_when_no_digital_user", base.post_when_no_digital_user)
        ),
    )
