"""The integration harness itself: real Dovecot and the SMTP sink behave as tests rely on."""
from __future__ import annotations

import email
import smtplib
import socket
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from imapclient import IMAPClient

if __package__:  # tests/integration made a package: one copy of servers.py, not two
    from . import servers
    from .servers import (
        DovecotServer,
        DovecotStartError,
        SmtpSink,
        _live_group_members,
        append,
        connect,
        create_folder,
        flags_of,
        reset_uidvalidity,
        uidvalidity,
    )
else:  # the folder is on sys.path (pytest's default import mode, no __init__.py)
    import servers
    from servers import (
        DovecotServer,
        DovecotStartError,
        SmtpSink,
        _live_group_members,
        append,
        connect,
        create_folder,
        flags_of,
        reset_uidvalidity,
        uidvalidity,
    )

CST = timezone(timedelta(hours=8))


def mail(n: int, subject: str | None = None) -> bytes:
    return (
        f"From: unit{n}@example.cn\r\n"
        f"To: kpzx350@163.com\r\n"
        f"Subject: {subject or f'application {n}'}\r\n"
        f"Message-ID: <harness-{n}@example.cn>\r\n"
        f"Date: Fri, 20 Jun 2025 10:00:00 +0800\r\n"
        f"\r\n"
        f"body {n}\r\n"
    ).encode()


def read_all(server, folder="INBOX") -> dict[int, dict]:
    """uid -> {internaldate (aware), message_id, raw} via BODY.PEEK on a read-only folder."""
    with connect(server) as c:
        c.normalise_times = False  # keep the server's offset: aware datetimes
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        if not uids:
            return {}
        out = {}
        for uid, d in c.fetch(uids, ["INTERNALDATE", "BODY.PEEK[]"]).items():
            raw = d[b"BODY[]"]
            msg = email.message_from_bytes(raw, policy=policy.default)
            out[uid] = {"internaldate": d[b"INTERNALDATE"], "message_id": msg["Message-ID"], "raw": raw}
        return out


# ---- Dovecot ---------------------------------------------------------------------------


def test_append_sets_internaldate_and_keeps_bytes(dovecot):
    on_time = datetime(2025, 6, 20, 10, 15, 7, tzinfo=CST)
    late = datetime(2025, 6, 24, 0, 30, tzinfo=timezone.utc)  # 08:30 CST
    uid1 = append(dovecot, mail(1), on_time)
    uid2 = append(dovecot, mail(2), late)
    assert uid2 > uid1

    got = read_all(dovecot)
    assert set(got) == {uid1, uid2}
    # the instant is kept; the offset is not: Dovecot's maildir stores INTERNALDATE as the
    # file's mtime and answers in the server's local zone (UTC here), never "+0800"
    assert got[uid1]["internaldate"] == on_time
    assert got[uid2]["internaldate"] == late
    assert got[uid1]["raw"] == mail(1)
    assert got[uid2]["message_id"] == "<harness-2@example.cn>"


def test_tz_sets_the_zone_internaldate_is_reported_in():
    servers.require_dovecot()
    with DovecotServer(tz="Asia/Shanghai") as server:
        append(server, mail(1), datetime(2025, 6, 20, 2, 0, tzinfo=timezone.utc))
        (got,) = read_all(server).values()
        assert got["internaldate"] == datetime(2025, 6, 20, 10, 0, tzinfo=CST)
        assert got["internaldate"].utcoffset() == timedelta(hours=8)


def test_flags_of_sees_peek_vs_read(dovecot):
    uid1 = append(dovecot, mail(1), datetime(2025, 6, 20, 10, 0, tzinfo=CST))
    uid2 = append(dovecot, mail(2), datetime(2025, 6, 20, 11, 0, tzinfo=CST), flags=[b"\\Flagged"])
    read_all(dovecot)  # BODY.PEEK[] on EXAMINE
    flags = flags_of(dovecot)
    assert set(flags) == {uid1, uid2}
    assert all(b"\\Seen" not in f for f in flags.values())
    assert b"\\Flagged" in flags[uid2]

    with connect(dovecot) as c:  # a plain BODY[] fetch on a read-write SELECT sets \Seen
        c.select_folder("INBOX")
        c.fetch([uid1], ["BODY[]"])
    flags = flags_of(dovecot)
    assert b"\\Seen" in flags[uid1]
    assert b"\\Seen" not in flags[uid2]


def test_append_refuses_naive_datetime(dovecot):
    with pytest.raises(ValueError, match="timezone-aware"):
        append(dovecot, mail(1), datetime(2025, 6, 20, 10, 0))


def test_reset_uidvalidity_keeps_messages(dovecot):
    sent = "已发送"
    create_folder(dovecot, sent)
    when = [datetime(2025, 6, 20, 9, 0, tzinfo=CST), datetime(2025, 6, 21, 9, 0, tzinfo=CST)]
    for i, t in enumerate(when, 1):
        append(dovecot, mail(i), t)
    append(dovecot, mail(9), when[0], folder=sent)
    before = read_all(dovecot)
    old_inbox, old_sent = uidvalidity(dovecot, "INBOX"), uidvalidity(dovecot, sent)

    new = reset_uidvalidity(dovecot, "INBOX")  # right after the appends: same second
    assert new != old_inbox
    assert uidvalidity(dovecot, "INBOX") == new
    assert uidvalidity(dovecot, sent) == old_sent  # other folders untouched
    after = read_all(dovecot)
    key = lambda d: sorted((m["message_id"], m["internaldate"], m["raw"]) for m in d.values())  # noqa: E731
    assert key(after) == key(before)
    assert all(b"\\Seen" not in f for f in flags_of(dovecot).values())

    # non-INBOX folders (modified UTF-7 name on disk) too
    new_sent = reset_uidvalidity(dovecot, sent)
    assert new_sent != old_sent
    assert [m["message_id"] for m in read_all(dovecot, sent).values()] == ["<harness-9@example.cn>"]
    # the folder still takes mail afterwards
    append(dovecot, mail(3), when[1])
    assert len(read_all(dovecot)) == 3


def test_restart_keeps_mail_and_port_and_drops_clients(dovecot):
    append(dovecot, mail(1), datetime(2025, 6, 20, 10, 0, tzinfo=CST))
    port, pid, old_uv = dovecot.port, dovecot.pid, uidvalidity(dovecot)

    client = connect(dovecot)  # a client in the middle of its work
    client.select_folder("INBOX", readonly=True)
    dovecot.restart()
    with pytest.raises((IMAPClient.AbortError, OSError)):
        client.noop()
    client.shutdown()

    assert dovecot.port == port
    assert dovecot.pid != pid
    assert not _live_group_members(pid)
    assert uidvalidity(dovecot) == old_uv
    assert [m["message_id"] for m in read_all(dovecot).values()] == ["<harness-1@example.cn>"]


def test_stop_then_start_keep_data(dovecot):
    append(dovecot, mail(1), datetime(2025, 6, 20, 10, 0, tzinfo=CST))
    port = dovecot.port
    dovecot.stop(keep_data=True)
    assert not dovecot.running
    with pytest.raises(OSError):
        socket.create_connection((dovecot.host, port), timeout=2).close()
    dovecot.start()
    assert dovecot.port == port
    assert len(read_all(dovecot)) == 1


def test_stop_removes_processes_and_files():
    servers.require_dovecot()
    server = DovecotServer().start()
    pid, root, port = server.pid, server.root, server.port
    assert _live_group_members(pid)
    connect(server).select_folder("INBOX")  # leave a logged-in imap process behind
    server.stop()
    assert not _live_group_members(pid)
    assert not root.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_two_servers_get_different_ports():
    servers.require_dovecot()
    with DovecotServer() as a, DovecotServer() as b:
        assert a.port != b.port
        append(a, mail(1), datetime(2025, 6, 20, tzinfo=CST))
        assert len(read_all(a)) == 1 and read_all(b) == {}


def test_start_failure_reports_the_log_and_leaves_nothing():
    servers.require_dovecot()
    # the mail user's uid (8) below first_valid_uid: LOGIN works, SELECT is refused
    server = DovecotServer(extra_config="first_valid_uid = 500\n", start_timeout=10)
    with pytest.raises(DovecotStartError) as exc:
        server.start()
    assert "not permitted" in str(exc.value)  # from the Dovecot log, quoted in the error
    assert server.root is None and not server.running


def test_require_dovecot_skips_or_fails(monkeypatch):
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(servers.os, "access", lambda path, mode: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="dovecot"):
        servers.require_dovecot()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        servers.require_dovecot()


# ---- SMTP sink -------------------------------------------------------------------------


def smtp(sink) -> smtplib.SMTP:
    s = smtplib.SMTP(sink.host, sink.port, timeout=10)
    s.ehlo()
    return s


def test_sink_receives_with_login(smtp_sink):
    with smtp(smtp_sink) as s:
        assert s.has_extn("auth") and {"PLAIN", "LOGIN"} <= set(s.esmtp_features["auth"].upper().split())
        s.login("kpzx350@163.com", "any-code")
        s.sendmail("kpzx350@163.com", ["unit1@example.cn"], mail(1))
    got = smtp_sink.wait_for(1, timeout=5)
    assert got[0].mail_from == "kpzx350@163.com"
    assert got[0].rcpt_tos == ["unit1@example.cn"]
    frm, rcpts, raw = got[0]  # plain tuple unpacking works too
    assert email.message_from_bytes(raw)["Message-ID"] == "<harness-1@example.cn>"
    assert smtp_sink.auth_logins == [("PLAIN", "kpzx350@163.com", "any-code")]


def test_sink_auth_login_mechanism(smtp_sink):
    with smtp(smtp_sink) as s:
        s.user, s.password = "kpzx350@163.com", "x"
        code, _ = s.auth("LOGIN", s.auth_login)
        assert code == 235
        s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
    smtp_sink.wait_for(1)
    assert smtp_sink.auth_logins[0][:2] == ("LOGIN", "kpzx350@163.com")


def test_refuse_rcpt_gives_550(smtp_sink):
    smtp_sink.refuse_rcpt = {"gone@example.cn"}
    with smtp(smtp_sink) as s:
        s.login("kpzx350@163.com", "x")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            s.sendmail("kpzx350@163.com", ["Gone@example.cn"], mail(1))
        code, text = exc.value.recipients["Gone@example.cn"]
        assert code == 550 and b"User unknown" in text
        # mixed: the good one is delivered, the bad one reported
        refused = s.sendmail("kpzx350@163.com", ["gone@example.cn", "ok@example.cn"], mail(2))
        assert refused == {"gone@example.cn": (550, b"User unknown")}
    got = smtp_sink.wait_for(1)
    assert got[0].rcpt_tos == ["ok@example.cn"]
    assert ("refused_rcpt", "Gone@example.cn") in smtp_sink.events


def test_tempfail_next_gives_451_then_accepts(smtp_sink):
    smtp_sink.tempfail_next = 2
    with smtp(smtp_sink) as s:
        s.login("kpzx350@163.com", "x")
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as exc:
                s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
            assert exc.value.smtp_code == 451
            assert exc.value.smtp_error.startswith(b"MI:SFQ")
        assert smtp_sink.messages == []
        s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
    assert len(smtp_sink.wait_for(1)) == 1
    assert smtp_sink.tempfail_next == 0


def test_sink_stop_start_keeps_port_and_messages(smtp_sink):
    with smtp(smtp_sink) as s:
        s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_sink.host, port, timeout=2)
    smtp_sink.start()
    assert smtp_sink.port == port  # free again, so reused
    with smtp(smtp_sink) as s:
        s.sendmail("kpzx350@163.com", ["b@example.cn"], mail(2))
    assert [m.rcpt_tos for m in smtp_sink.wait_for(2)] == [["a@example.cn"], ["b@example.cn"]]


def test_sink_require_auth():
    with SmtpSink(require_auth=True) as sink:
        with smtp(sink) as s:
            with pytest.raises(smtplib.SMTPSenderRefused) as exc:
                s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
            assert exc.value.smtp_code == 530
            s.login("u", "p")
            s.sendmail("kpzx350@163.com", ["a@example.cn"], mail(1))
        assert len(sink.wait_for(1)) == 1


def test_wait_for_times_out_with_what_arrived(smtp_sink):
    with pytest.raises(AssertionError, match="expected 1 message"):
        smtp_sink.wait_for(1, timeout=0.2)


def test_integration_marker_applied(request):
    assert request.node.get_closest_marker("integration") is not None
