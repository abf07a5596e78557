"""Read raw messages from a Maildir, an mbox file, a folder of .eml files or one message file."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

MBOX_MAGIC = b"From "  # an mbox starts with its first message's From_ line (RFC 4155)


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where it came from, raw bytes) for every message, in the store's own order.

    Reading changes nothing: marking messages as seen is the mail client's business, and a second
    import is harmless because applying a status twice records nothing new.
    """
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            box = mailbox.Maildir(path, create=False)
            for key in sorted(box.keys()):
                yield f"{path.name}/{key}", box.get_bytes(key)
            return
        for file in sorted(path.glob("*.eml")):
            yield file.name, file.read_bytes()
        return
    with path.open("rb") as handle:
        start = handle.read(len(MBOX_MAGIC))
    if start == MBOX_MAGIC:
        mbox = mailbox.mbox(path, create=False)
        try:
            for index, key in enumerate(mbox.iterkeys(), start=1):
                yield f"{path.name}#{index}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield path.name, path.read_bytes()
