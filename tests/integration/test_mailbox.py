"""The IMAP edge on a real Dovecot: what a fetch costs and what a server may answer."""
from __future__ import annotations

import base64
import os
import tracemalloc
from datetime import datetime, timedelta, timezone

from pipeline.config import MailboxConfig
from pipeline.mailbox import Mailbox
from servers import append

CST = timezone(timedelta(hours=8))
ON_TIME = datetime(2025, 6, 20, 10, 0, tzinfo=CST)


def mailbox(dovecot) -> Mailbox:
    os.environ["TEST_IMAP_PASSWORD"] = dovecot.password
    return Mailbox(MailboxConfig(dovecot.host, dovecot.port, dovecot.user, "TEST_IMAP_PASSWORD", ssl=False))


def big_mail(mb: int) -> bytes:
    body = base64.encodebytes(os.urandom(mb * 1024 * 1024)).replace(b"\n", b"\r\n")
    return (
        b"From: a@qq.com\r\nTo: kpzx350@163.com\r\nSubject: scan\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: application/pdf; name="s.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--B--\r\n"
    )


def test_a_fetch_holds_the_mail_about_once_not_as_a_debug_string(dovecot):
    """imapclient sets imaplib's debug level to 5, which formats every FETCH response (the mail
    bodies) into a log string whether or not anything logs: 20 mails of 40 MB took 2.4 GB."""
    data = big_mail(12)
    append(dovecot, data, ON_TIME)
    with mailbox(dovecot) as box:
        state = box.state()
        tracemalloc.start()
        [raw] = list(box.fetch(state, list(state.uids)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert raw.data == data
    assert peak < 2.5 * len(data), f"peak {peak / 1e6:.0f} MB for a {len(data) / 1e6:.0f} MB mail"


def test_a_mail_deleted_between_search_and_fetch_is_skipped_not_a_crash(dovecot):
    """Staff deleting a mail in the web client while a poll works through a backlog: Dovecot
    answers the FETCH with BODY[] NIL, and bytes(None) ended the poll with a TypeError."""
    from servers import connect

    append(dovecot, big_mail(0) + b"1", ON_TIME)
    append(dovecot, big_mail(0) + b"2", ON_TIME)
    with mailbox(dovecot) as box:
        state = box.state()
        other = connect(dovecot)
        other.select_folder("INBOX")
        other.delete_messages([state.uids[-1]])
        other.expunge()
        other.logout()
        got = list(box.fetch(state, list(state.uids)))
    assert [r.uid for r in got] == [state.uids[0]]


def test_big_mails_are_fetched_a_few_megabytes_at_a_time(dovecot, monkeypatch):
    """20 scans of 40 MB came in one FETCH: the whole batch in memory at once."""
    import pipeline.mailbox as mailbox_module

    monkeypatch.setattr(mailbox_module, "FETCH_BYTES", 20 * 1024 * 1024, raising=False)
    mails = [big_mail(9) + str(i).encode() for i in range(3)]
    for data in mails:
        append(dovecot, data, ON_TIME)
    with mailbox(dovecot) as box:
        state = box.state()
        tracemalloc.start()
        got = []
        for raw in box.fetch(state, list(state.uids)):
            got.append(raw.sha256)
            del raw
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert len(got) == 3
    assert peak < 2.2 * len(mails[0]), f"peak {peak / 1e6:.0f} MB for mails of {len(mails[0]) / 1e6:.0f} MB"
