"""`intake poll` as a subprocess against a real Dovecot and a real SMTP server."""
from __future__ import annotations

import email
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest
import sqlite_utils

from pipeline.samples.mails import sample_mails

from bulk import write_config  # noqa: F401  (also imported by the other test modules)
from servers import append, flags_of, reset_uidvalidity

CST = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus() -> dict[str, bytes]:
    return dict(sample_mails())


def run_intake(cfg: Path, dovecot, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, TEST_IMAP_PASSWORD=dovecot.password, TEST_SMTP_PASSWORD="x")
    env.pop("INTAKE_FAILPOINT", None)
    if failpoint:
        env["INTAKE_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--config", str(cfg)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def poll(cfg, dovecot, *extra, failpoint=None):
    return run_intake(cfg, dovecot, "poll", *extra, failpoint=failpoint)


def subjects(sink) -> list[str]:
    out = []
    for _, _, raw in sink.messages:
        msg = email.message_from_bytes(raw, policy=policy.default)
        out.append(str(msg["Subject"]))
    return out


def db(tmp_path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(tmp_path / "data" / "intake.db")


def load(dovecot, corpus, names_and_times):
    for name, when in names_and_times:
        append(dovecot, corpus[name], when)


ON_TIME = datetime(2025, 6, 20, 10, 15, tzinfo=CST)
LATE = datetime(2025, 6, 24, 8, 30, tzinfo=CST)


def test_poll_end_to_end(tmp_path, dovecot, smtp_sink, corpus):
    load(
        dovecot,
        corpus,
        [
            ("01-complete.eml", ON_TIME),
            ("02-needs-correction.eml", ON_TIME + timedelta(hours=1)),
            ("03a-word-first.eml", ON_TIME + timedelta(hours=2)),
            ("03b-pdf-later.eml", ON_TIME + timedelta(hours=2, minutes=20)),
            ("05-late.eml", LATE),
            ("06-auto-reply.eml", ON_TIME),
            ("08-newsletter.eml", ON_TIME),
        ],
    )
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    result = poll(cfg, dovecot)
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(4, timeout=30)
    got = subjects(smtp_sink)
    assert len(got) == 4, got
    assert sum("受理回执" in s for s in got) == 2  # complete + paired across two mails
    assert sum("补正" in s for s in got) == 1
    assert sum("逾期" in s for s in got) == 1
    recipients = sorted(r[0] for _, r, _ in smtp_sink.messages)
    assert len(set(recipients)) == 4  # one reply each, none to the auto-reply or the list
    for _, rcpts, raw in smtp_sink.messages:
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert msg["Auto-Submitted"] == "auto-replied"
        assert msg["In-Reply-To"]
        assert len(rcpts) == 1

    d = db(tmp_path)
    statuses = {r["status"] for r in d["applicants"].rows}
    assert statuses == {"accepted", "needs_correction", "late"}
    assert d["mails"].count == 7
    categories = [r["category"] for r in d["mails"].rows]
    assert categories.count("application") == 5
    assert categories.count("no_reply") == 2
    raw_dir = tmp_path / "data" / "raw"
    assert len(list(raw_dir.rglob("*.eml"))) == 7
    # read with BODY.PEEK on a read-only folder: nothing marked \Seen
    assert all(b"\\Seen" not in flags for flags in flags_of(dovecot, "INBOX").values())

    # a second poll fetches nothing and sends nothing
    again = poll(cfg, dovecot)
    assert again.returncode == 0, again.stderr
    assert len(smtp_sink.messages) == 4
    assert d["mails"].count == 7
    assert d["outbox"].count == 4

    # summary JSON keeps the contract
    out = run_intake(cfg, dovecot, "summary", "--format", "json")
    assert out.returncode == 0, out.stderr
    import json

    rows = json.loads(out.stdout)
    assert len(rows) == 4
    for row in rows:
        assert {"unit", "sender", "status", "pilot_type", "received_at", "word_file", "pdf_file", "problems"} <= set(row)
        assert datetime.fromisoformat(row["received_at"]).utcoffset() == timedelta(hours=8)
    late = next(r for r in rows if r["status"] == "late")
    assert any(p["code"] == "late" for p in late["problems"])


def test_uidvalidity_change_does_not_double(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    reset_uidvalidity(dovecot, "INBOX")
    result = poll(cfg, dovecot)
    assert result.returncode == 0, result.stderr
    d = db(tmp_path)
    assert d["mails"].count == 2
    assert len(smtp_sink.messages) == 2
    assert len({r["uidvalidity"] for r in d["imap_seen"].rows}) == 2


def test_after_a_uidvalidity_change_a_new_mail_reusing_a_message_id_is_still_read(tmp_path, dovecot, smtp_sink, corpus):
    """An OA system reusing one Message-ID: after the mailbox was restored, unit C's new mail had
    the Message-ID of A's recorded one and was marked seen under A's mail, never processed."""
    import re

    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    reset_uidvalidity(dovecot, "INBOX")
    first_id = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", corpus["01-complete.eml"]).group(1)
    other = corpus["04-missing-pdf.eml"]
    other = re.sub(rb"(?im)^Message-ID:[^\r\n]*", b"Message-ID: " + first_id, other, count=1)
    assert first_id in other
    append(dovecot, other, ON_TIME + timedelta(hours=1))
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    assert db(tmp_path)["mails"].count == 2 and len(smtp_sink.messages) == 2


def test_dry_run_changes_nothing(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    result = poll(cfg, dovecot, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "受理回执" in result.stdout
    assert smtp_sink.messages == []
    assert not (tmp_path / "data" / "intake.db").exists() or db(tmp_path)["mails"].count == 0
    assert not list((tmp_path / "data").rglob("*.eml"))
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file() and p.name != "intake.lock"]
    # the real run afterwards still sees the mail as new
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    assert len(smtp_sink.messages) == 1


@pytest.mark.parametrize("failpoint", ["mail.stored", "mail.committed:2"])
def test_crash_while_ingesting_loses_nothing(tmp_path, dovecot, smtp_sink, corpus, failpoint):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME), ("05-late.eml", LATE)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    crashed = poll(cfg, dovecot, failpoint=failpoint)
    assert crashed.returncode == 99
    assert smtp_sink.messages == []
    result = poll(cfg, dovecot)
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(3, timeout=30)
    d = db(tmp_path)
    assert d["mails"].count == 3
    assert len(smtp_sink.messages) == 3
    assert poll(cfg, dovecot).returncode == 0
    assert len(smtp_sink.messages) == 3


def test_crash_between_sending_and_recording_never_sends_twice(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    crashed = poll(cfg, dovecot, failpoint="reply.sent")
    assert crashed.returncode == 99
    smtp_sink.wait_for(1, timeout=30)
    assert len(smtp_sink.messages) == 1
    result = poll(cfg, dovecot)
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(2, timeout=30)
    assert len(smtp_sink.messages) == 2  # the other reply, not the first again
    states = sorted(r["state"] for r in db(tmp_path)["outbox"].rows)
    assert states == ["sent", "uncertain"]
    listing = run_intake(cfg, dovecot, "replies")
    assert "不确定" in listing.stdout


def test_crash_before_smtp_sends_once_on_rerun(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot, failpoint="reply.sending").returncode == 99
    # the reply was marked 'sending' when the process died: uncertain, not resent
    assert poll(cfg, dovecot).returncode == 0
    assert smtp_sink.messages == []
    assert [r["state"] for r in db(tmp_path)["outbox"].rows] == ["uncertain"]


def test_overlapping_poll_exits_at_once(tmp_path, dovecot, smtp_sink):
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    (tmp_path / "data").mkdir()
    import fcntl

    with open(tmp_path / "data" / "intake.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        result = poll(cfg, dovecot)
    assert result.returncode == 1
    assert "另一个 intake" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_password_is_one_line_error(tmp_path, dovecot, smtp_sink):
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    env = dict(os.environ, TEST_IMAP_PASSWORD="wrong", TEST_SMTP_PASSWORD="x")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "poll", "--config", str(cfg)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "邮箱登录失败" in result.stderr
    assert "wrong" not in result.stderr
    assert "@163.com@" not in result.stderr and "b'" not in result.stderr  # staff read words, not a Python value


def test_smtp_down_keeps_replies_queued(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    smtp_sink.stop()
    result = poll(cfg, dovecot)
    assert result.returncode == 1
    assert "发信服务器" in result.stderr
    assert [r["state"] for r in db(tmp_path)["outbox"].rows] == ["rendered"]
    smtp_sink.start()
    cfg = write_config(tmp_path, dovecot, smtp_sink)  # the sink may listen on a new port
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    assert [r["state"] for r in db(tmp_path)["outbox"].rows] == ["sent"]


def test_import_saved_eml_files(tmp_path, dovecot, smtp_sink, corpus):
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    on_time = tmp_path / "01.eml"
    on_time.write_bytes(corpus["01-complete.eml"])
    late = tmp_path / "05.eml"
    late.write_bytes(corpus["05-late.eml"])  # its Date header is after the deadline
    result = run_intake(cfg, dovecot, "import", str(on_time), str(late))
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(2, timeout=30)
    got = subjects(smtp_sink)
    assert sum("受理回执" in s for s in got) == 1 and sum("逾期" in s for s in got) == 1
    # --received overrides the Date header (mail saved from webmail long after it arrived)
    again = tmp_path / "04.eml"
    again.write_bytes(corpus["04-missing-pdf.eml"])
    result = run_intake(cfg, dovecot, "import", "--received", "2025-06-25T09:00:00+08:00", str(again))
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(3, timeout=30)
    assert "逾期" in subjects(smtp_sink)[-1]
    assert db(tmp_path)["mails"].count == 3
    # An Outlook .msg (a compound file, not MIME) is refused with what to do, before anything is recorded.
    outlook = tmp_path / "申报邮件.msg"
    outlook.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    result = run_intake(cfg, dovecot, "import", str(outlook))
    assert result.returncode != 0 and "Outlook 的 .msg 文件" in result.stderr and "另存为" in result.stderr
    assert db(tmp_path)["mails"].count == 3


IDLE_PROBE = (
    "import sys\n"
    "from pipeline.cli import main\n"
    "rc = main(['poll', '--config', sys.argv[1], '--silent'])\n"
    "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    "sys.exit(rc)\n"
)


def test_idle_poll_loads_no_stage_code(tmp_path, dovecot, smtp_sink, corpus):
    """A poll that finds nothing new (every few minutes under cron) is a login and a SEARCH:
    no parsers, rules, templates, SMTP or PDF workers are loaded for it."""
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    env = dict(os.environ, TEST_IMAP_PASSWORD=dovecot.password, TEST_SMTP_PASSWORD="x")
    out = subprocess.run([sys.executable, "-c", IDLE_PROBE, str(cfg)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(next(line for line in out.stdout.splitlines() if line.startswith("MODULES")).split()[1:])
    assert "pipeline.jobs" in loaded and "pipeline.mailbox" in loaded
    heavy = {"pipeline.run", "pipeline.models", "pipeline.mime", "pipeline.ruleset", "pipeline.replies",
             "pipeline.forms.pdf", "pipeline.forms.docx", "smtplib", "jinja2", "pikepdf", "docx", "mailparser"}
    assert not heavy & loaded
    runs = db(tmp_path).execute("SELECT ok, fetched FROM runs ORDER BY id").fetchall()
    assert runs[-1] == (1, 0) and len(smtp_sink.messages) == 1


def test_broken_rules_file_fails_the_poll_and_says_so(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    (tmp_path / "bad-rules.toml").write_text("[call\nname = 'typo'\n", encoding="utf-8")
    cfg = write_config(tmp_path, dovecot, smtp_sink, extra='\n[campaign]\nrules = "bad-rules.toml"\n')
    result = poll(cfg, dovecot)
    assert result.returncode == 1 and "bad-rules.toml" in result.stderr, result.stderr
    assert db(tmp_path).execute("SELECT ok FROM runs ORDER BY id DESC LIMIT 1").fetchone() == (0,)
    assert db(tmp_path)["mails"].count == 0 and smtp_sink.messages == []


def test_mail_from_before_the_call_was_published_is_left_alone(tmp_path, dovecot, smtp_sink, corpus):
    """A mailbox in use before the notice (last year's applications, old questions): a new call's
    first poll judged every old mail under the new rules and answered it."""
    before = datetime(2025, 6, 10, 9, 0, tzinfo=CST)  # the notice is of 2025-06-18
    load(dovecot, corpus, [("01-complete.eml", before), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    assert [r["sender"] for r in db(tmp_path)["mails"].rows] == ["whkx_yf@163.com"]
    assert len(smtp_sink.messages) == 1 and "补正通知" in subjects(smtp_sink)[0]
    assert poll(cfg, dovecot).returncode == 0 and db(tmp_path)["mails"].count == 1
    assert "通知日期（2025-06-18）之前收到、不属于本次征集而未处理的邮件：INBOX 1 封" in run_intake(cfg, dovecot, "status").stdout


JUNK_CONFIG = r"""
namespace inbox {
  inbox = yes
  mailbox "垃圾邮件" {
    special_use = \Junk
    auto = subscribe
  }
  mailbox "已处理" {
    auto = subscribe
  }
}
"""


def test_applications_the_filter_put_in_the_junk_folder_are_answered_and_its_spam_is_not(tmp_path, smtp_sink, corpus):
    """163 files some applications in 垃圾邮件 (a new sender, a zip, a scan): they were never read,
    and staff were not told. The junk folder is read too; the spam in it gets no reply."""
    from pipeline.samples.mails import mail
    from servers import DovecotServer

    server = DovecotServer(extra_config=JUNK_CONFIG)
    server.start()
    try:
        append(server, corpus["01-complete.eml"], ON_TIME)
        append(server, corpus["04-missing-pdf.eml"], ON_TIME, folder="垃圾邮件")
        spam = mail("财务 <fp@shop.example>", "发票已开具", "您的电子发票见附件", ON_TIME, [("invoice.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")])
        append(server, spam, ON_TIME, folder="垃圾邮件")
        cfg = write_config(tmp_path, server, smtp_sink)
        assert poll(cfg, server).returncode == 0
        smtp_sink.wait_for(2, timeout=30)
        assert sorted(s[:6] for s in subjects(smtp_sink)) == ["【受理回执】", "【补正通知】"]
        rows = {r["sender"]: r for r in db(tmp_path)["mails"].rows}
        assert rows["fp@shop.example"]["category"] == "no_reply" and "垃圾邮件" in rows["fp@shop.example"]["no_reply_reason"]
        # Staff move the application out of 垃圾邮件 into the inbox: the same mail, no second reply.
        from servers import connect

        with connect(server) as c:
            c.select_folder("垃圾邮件")
            uids = c.search("ALL")
            c.copy(uids, "INBOX")
        assert poll(cfg, server).returncode == 0
        assert len(smtp_sink.messages) == 2
        # The folder written as a mail client shows it in modified UTF-7, and junk reading off.
        text = cfg.read_text(encoding="utf-8").replace(
            'password_env = "TEST_IMAP_PASSWORD"\n', 'password_env = "TEST_IMAP_PASSWORD"\nfolder = "&XfJZBHQG-"\njunk = false\n', 1
        )
        assert "&XfJZBHQG-" in text
        assert "&XfJZBHQG-" in text
        cfg.write_text(text, encoding="utf-8")
        append(server, corpus["02-needs-correction.eml"], ON_TIME, folder="已处理")
        assert poll(cfg, server).returncode == 0, poll(cfg, server).stderr
        smtp_sink.wait_for(3, timeout=30)
    finally:
        server.stop()


def test_mail_staff_file_into_another_folder_before_the_poll_is_read_when_listed(tmp_path, smtp_sink, corpus):
    """Staff working the mailbox by hand file an application into 已处理 before the 5-minute poll:
    with `folders = ["已处理"]` it is read too, and a copy moved back to the inbox is no second reply."""
    from servers import DovecotServer, connect

    server = DovecotServer(extra_config=JUNK_CONFIG)
    server.start()
    try:
        append(server, corpus["01-complete.eml"], ON_TIME)
        append(server, corpus["04-missing-pdf.eml"], ON_TIME, folder="已处理")
        cfg = write_config(tmp_path, server, smtp_sink)
        text = cfg.read_text(encoding="utf-8").replace(
            'password_env = "TEST_IMAP_PASSWORD"\n', 'password_env = "TEST_IMAP_PASSWORD"\nfolders = ["已处理"]\n', 1
        )
        cfg.write_text(text, encoding="utf-8")
        assert poll(cfg, server).returncode == 0
        smtp_sink.wait_for(2, timeout=30)
        with connect(server) as c:
            c.select_folder("已处理")
            c.copy(c.search("ALL"), "INBOX")
        assert poll(cfg, server).returncode == 0
        assert len(smtp_sink.messages) == 2 and db(tmp_path)["mails"].count == 2
        assert db(tmp_path)["imap_seen"].count == 3  # the copy is seen, as a copy
    finally:
        server.stop()
