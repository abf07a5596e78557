"""EboxChannel against the eBox simulator over real HTTP on loopback."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from channels.base import Outgoing, PermanentError, StatusQuery, StatusUpdate, TransientError
from channels.ebox import IDEMPOTENCY_NAMESPACE, EboxChannel
from channels.ebox_simulator import SimulatorServer, generate_key_pair
from tests.net import HTTP

# Valid identifiers only (domain §1); SSIN_20XX is configured as NO_DIGITAL_USER in conftest.
SSIN_19XX = "85073003328"
SSIN_20XX = "01010122296"
KBO_FUND = "0406798006"
KBO_CLIENT = "0852093431"


def sim_post(sim: SimulatorServer, path: str, json: Any = None) -> None:
    HTTP.post(sim.base_url + path, json=json).raise_for_status()


def sim_messages(sim: SimulatorServer) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = HTTP.get(sim.base_url + "/_sim/messages").json()
    return answer


async def test_publication_reaches_the_registry_as_specified(
    ebox: EboxChannel,
    ebox_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
    pdf: bytes,
) -> None:
    """A citizen's reminder is published with one language, one PDF as main content, no nulls."""
    receipt = await ebox.send(make_outgoing())

    assert receipt.channel == "ebox"
    assert receipt.outcome == "delivered"
    assert receipt.also_by_post is False
    [published] = sim_messages(ebox_sim)
    assert receipt.evidence["ebox_message_id"] == published["messageId"]
    assert receipt.evidence["expiration_date"] == published["expirationDate"]
    assert published["messageToPublish"] == {
        "sender": {"eboxType": "enterprise", "enterpriseNumber": KBO_FUND},
        "recipient": {"eboxType": "citizen", "ssin": SSIN_19XX},
        "subject": {"nl": "Vervaldagbericht sociale bijdragen 1e kwartaal 2027"},
        "messageTypeId": "dev-message-type",
        "senderApplicationId": "dev-sender-application",
        "attachments": [
            {"httpPartName": "upfile1", "isMainContent": True, "isAttachmentSigned": False}
        ],
        "isBodyMainContent": False,
        "isReplyAuthorized": False,
    }
    part = published["parts"]["upfile1"]
    assert part["filename"] == "vervaldagbericht.pdf"
    assert part["contentType"] == "application/pdf"
    assert base64.b64decode(part["contentBase64"]) == pdf
    expected_key = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "c0ffee0123456789"))
    assert published["idempotencyKey"] == expected_key == receipt.evidence["idempotency_key"]


async def test_enterprise_recipient_for_the_attention_of(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A company's eBox, marked for the attention of its manager."""
    to = {"ebox_type": "enterprise", "ebox_id": KBO_CLIENT, "attention_of": "Anna Peeters"}
    await ebox.send(make_outgoing(to=to, language="fr", subject="Avis d'échéance"))

    [published] = sim_messages(ebox_sim)
    message = published["messageToPublish"]
    assert message["recipient"] == {"eboxType": "enterprise", "enterpriseNumber": KBO_CLIENT}
    assert message["forTheAttentionOf"] == {"label": "Anna Peeters"}
    assert message["subject"] == {"fr": "Avis d'échéance"}


async def test_a_retry_after_success_is_a_replay_not_a_second_letter(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """The ledger write failed after the 201 and the job ran again in the same worker: the 409
    gets the first answer back from memory (message id, NO_DIGITAL_USER), nothing published twice."""
    first = await ebox.send(make_outgoing(to={"ebox_id": SSIN_20XX}))
    again = await ebox.send(make_outgoing(to={"ebox_id": SSIN_20XX}))

    assert again.outcome == "delivered" and again.also_by_post
    assert again.evidence == {**first.evidence, "replay": "true"}
    assert len(sim_messages(ebox_sim)) == 1


async def test_a_replay_in_another_worker_is_published_with_its_id_unknown(
    make_ebox: Callable[..., EboxChannel],
    ebox_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
) -> None:
    """The first answer died with its worker: the 409 says published, never delivered."""
    async with make_ebox() as dead_worker:
        await dead_worker.send(make_outgoing(to={"ebox_id": SSIN_20XX}))
    async with make_ebox() as next_worker:
        again = await next_worker.send(make_outgoing(to={"ebox_id": SSIN_20XX}))

    assert again.outcome == "published_no_id" and not again.also_by_post
    assert "ebox_message_id" not in again.evidence
    assert again.evidence["replay"] == "true"
    assert len(sim_messages(ebox_sim)) == 1


async def test_503_is_transient_with_retry_after_then_succeeds(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """The registry is down for a moment: retry when it says, then publish."""
    sim_post(ebox_sim, "/_sim/fail", {"status": 503, "count": 1, "retry_after_s": 7})

    with pytest.raises(TransientError) as caught:
        await ebox.send(make_outgoing())
    assert caught.value.retry_after_s == 7
    receipt = await ebox.send(make_outgoing())

    assert "replay" not in receipt.evidence
    assert len(sim_messages(ebox_sim)) == 1


async def test_429_without_retry_after_uses_the_default(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Throttled without a hint: back off by the default minute."""
    sim_post(ebox_sim, "/_sim/fail", {"status": 429, "count": 1})

    with pytest.raises(TransientError) as caught:
        await ebox.send(make_outgoing())
    assert caught.value.retry_after_s == 60.0


async def test_slow_registry_times_out_as_transient(
    make_ebox: Callable[..., EboxChannel],
    ebox_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
) -> None:
    """No answer within the timeout: retry later (the key makes a late success harmless)."""
    sim_post(ebox_sim, "/_sim/fail", {"delay_s": 2.0, "count": 1})

    async with make_ebox(timeout_s=0.3) as channel:
        with pytest.raises(TransientError):
            await channel.send(make_outgoing())
        await channel.send(make_outgoing())
    assert len(sim_messages(ebox_sim)) == 1


async def test_token_is_cached_and_refreshed_once_on_401(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Tokens are reused; when the registry forgets them, one fresh token and the send goes on."""
    await ebox.send(make_outgoing(communication_id="first"))
    await ebox.send(make_outgoing(communication_id="second"))
    assert len(ebox_sim.state.used_jti) == 1

    sim_post(ebox_sim, "/_sim/expire-tokens")
    receipt = await ebox.send(make_outgoing(communication_id="third"))

    assert receipt.outcome == "delivered"
    assert len(ebox_sim.state.used_jti) == 2
    assert len(sim_messages(ebox_sim)) == 3


async def test_a_key_the_registry_does_not_know_is_transient(
    make_ebox: Callable[..., EboxChannel], make_outgoing: Callable[..., Outgoing]
) -> None:
    """A wrong client key is ours to fix: retry later rather than send every letter by post."""
    async with make_ebox(private_key_pem=generate_key_pair()[0]) as channel:
        with pytest.raises(TransientError) as caught:
            await channel.send(make_outgoing())
    assert "invalid_client" in caught.value.reason
    assert caught.value.retry_after_s == 300.0


async def test_no_digital_user_asks_for_paper_too(
    ebox: EboxChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Published, but the recipient never opened an eBox: the receipt says send by post too."""
    receipt = await ebox.send(make_outgoing(to={"ebox_id": SSIN_20XX}))

    assert receipt.outcome == "delivered"
    assert receipt.also_by_post is True
    assert receipt.evidence["ebox_code"] == "NO_DIGITAL_USER"


async def test_read_status_is_reported_once_read(
    ebox: EboxChannel, ebox_sim: SimulatorServer, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Polling says nothing until the citizen opens the letter, then `read`."""
    receipt = await ebox.send(make_outgoing())
    message_id = receipt.evidence["ebox_message_id"]
    query = [StatusQuery("c0ffee0123456789", message_id, SSIN_19XX)]

    assert await ebox.read_statuses(query) == []
    sim_post(ebox_sim, f"/_sim/read/{message_id}")
    [update] = await ebox.read_statuses(query)

    assert update == StatusUpdate(
        "ebox",
        "c0ffee0123456789",
        "read",
        {
            "ebox_message_id": message_id,
            "read_status": "true",
            "expiration_date": receipt.evidence["expiration_date"],
        },
    )


async def test_invalid_ssin_is_permanent_and_kept_out_of_logs(
    ebox: EboxChannel,
    ebox_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A national number with a wrong check digit: the registry refuses, fall back."""
    caplog.set_level(logging.DEBUG, logger="channels")
    bad_ssin = "85073003329"

    with pytest.raises(PermanentError) as caught:
        await ebox.send(make_outgoing(to={"ebox_id": bad_ssin}))

    assert caught.value.evidence["ebox_error_code"] == "INVALID_INPUT"
    assert caught.value.evidence["http_status"] == "400"
    assert bad_ssin not in str(caught.value)
    assert all(bad_ssin not in str(r.__dict__) for r in caplog.records)
    assert sim_messages(ebox_sim) == []


async def test_preferences_list_known_eboxes_only(ebox: EboxChannel) -> None:
    """The federation service knows one of the two enterprises."""
    found = await ebox.preferences([KBO_CLIENT, KBO_FUND])

    assert found == {
        KBO_CLIENT: {"exclusivelyEbox": True, "lastConnectionDate": "2027-01-15T08:30:00Z"}
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "x" * 401},
        {"language": "en"},
        {"to": {"ebox_type": None, "ebox_id": None}},
        {"to": {"ebox_id": "8507300332"}},
    ],
)
async def test_what_the_registry_would_refuse_is_refused_before_sending(
    ebox: EboxChannel,
    ebox_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
    overrides: dict[str, Any],
) -> None:
    """Limits of v3 are checked locally: no request, a permanent error."""
    with pytest.raises(PermanentError):
        await ebox.send(make_outgoing(**overrides))
    assert ebox_sim.state.used_jti == set()


async def test_a_non_pdf_document_is_refused(
    ebox: EboxChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Only PDF displays in the citizen eBox."""
    outgoing = make_outgoing()
    html = type(outgoing.document)("brief.html", b"<html></html>", "text/html")

    with pytest.raises(PermanentError, match="PDF"):
        await ebox.send(type(outgoing)(**{**outgoing.__dict__, "document": html}))
