"""SmtpSink: the loopback server the email tests and the demo rely on."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from channels.smtp_sink import SmtpSink


def test_port_zero_picks_a_free_port_and_planned_refusals_count_down(tmp_path: Path) -> None:
    """Two planned 451s, then the third message is filed in the Maildir."""
    with SmtpSink(tmp_path / "maildir") as sink:
        assert sink.port > 0
        sink.fail_next("451 4.3.0 Try again later", count=2)
        with smtplib.SMTP(sink.host, sink.port) as client:
            for _ in range(2):
                with pytest.raises(smtplib.SMTPDataError) as caught:
                    client.sendmail("a@fonds.example", ["b@example.be"], b"Subject: x\r\n\r\nbody")
                assert caught.value.smtp_code == 451
            client.sendmail("a@fonds.example", ["b@example.be"], b"Subject: x\r\n\r\nbody\r\n")

        [message] = sink.messages()
    assert message["Subject"] == "x"
    assert message.get_content() == "body\n"
    assert (tmp_path / "maildir" / "new").is_dir()
