"""File a copy of each sent reply in the mailbox's Sent folder (optional).

Staff then see intake's replies in their own client beside the applicants'
mails. The folder is found by its \\Sent flag (163.com names it &XfJT0ZAB-),
and a copy is appended only when the server has not filed one itself
(searched by Message-ID), so nothing is there twice.
"""
from __future__ import annotations

import logging
from pathlib import Path

from imapclient.exceptions import IMAPClientError

from .config import Config
from .errors import MailboxError
from .mailbox import Mailbox
from .store import Store

log = logging.getLogger(__name__)


def sent_folder(client) -> str | None:
    for flags, _delim, name in client.list_folders():
        if b"\\Sent" in flags:
            return name
    return None


def file_sent_copies(cfg: Config, store: Store) -> int:
    """Append sent replies not yet filed; returns how many were appended. Never raises."""
    if cfg.mailbox is None or cfg.smtp is None or not cfg.smtp.save_to_sent:
        return 0
    rows = store.rows("SELECT id, message_id, eml_path FROM outbox WHERE state='sent' AND filed IS NULL ORDER BY id")
    if not rows:
        return 0
    appended = 0
    try:
        with Mailbox(cfg.mailbox) as box:
            client = box.client
            folder = sent_folder(client)
            if folder is None:
                log.warning("the mailbox has no folder flagged \\Sent: replies are not filed")
                return 0
            client.select_folder(folder, readonly=True)
            for row in rows:
                found = client.search(["HEADER", "Message-ID", row["message_id"]]) if row["message_id"] else []
                if not found:
                    client.append(folder, Path(row["eml_path"]).read_bytes(), flags=(b"\\Seen",))
                    appended += 1
                with store.transaction():
                    store.conn.execute("UPDATE outbox SET filed=1 WHERE id=?", (row["id"],))
    except (MailboxError, IMAPClientError, OSError) as exc:
        log.warning("filing sent replies failed (tried again next run): %s", exc)
    return appended
