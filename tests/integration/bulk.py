"""Helpers for the reliability tests: bulk mailboxes, polls as killable processes, sink counts.

Nothing here changes the pipeline; it drives `python -m pipeline` like cron would.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.samples.mails import mail, sample_mails

from servers import connect

CST = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]
BASE_TIME = datetime(2025, 6, 20, 9, 0, tzinfo=CST)


def question_mail(i: int, *, applicant: bool = True) -> bytes:
    """A small plain mail from a distinct sender.

    applicant=True: mentions 试点申报, so it is an 'application' (the sender becomes an
    applicant and gets one reply); False: an 'other' mail that nobody answers.
    """
    when = BASE_TIME + timedelta(minutes=i)
    if applicant:
        return mail(f"咨询人{i} <q{i:05d}@example.com>", f"咨询试点申报 {i}", f"请问第 {i} 号问题：申报书模板在哪里下载？", when)
    return mail(f"路人{i} <o{i:05d}@example.org>", f"会议安排 {i}", f"第 {i} 次例会改到周五下午。", when)


def mixed_corpus(n: int = 50) -> list[bytes]:
    """n mails: the demo's real Word+PDF applications (and one auto-reply, one list
    mail) followed by question mails from distinct senders."""
    demo = dict(sample_mails())
    names = ["01-complete.eml", "02-needs-correction.eml", "03a-word-first.eml", "03b-pdf-later.eml",
             "04-missing-pdf.eml", "05-late.eml", "06-auto-reply.eml", "08-newsletter.eml"]
    out = [demo[name] for name in names]
    i = 0
    while len(out) < n:
        out.append(question_mail(i, applicant=i % 6 != 5))
        i += 1
    return out


def append_many(server, messages: list[bytes], folder: str = "INBOX", when: datetime = BASE_TIME) -> None:
    """APPEND all messages over one connection (MULTIAPPEND in chunks)."""
    with connect(server, timeout=60) as c:
        for start in range(0, len(messages), 200):
            chunk = messages[start : start + 200]
            c.multiappend(folder, [{"msg": m, "date": when + timedelta(seconds=start + k)} for k, m in enumerate(chunk)])


def write_config(tmp: Path, dovecot, sink, *, storage: Path | None = None, extra: str = "",
                 imap_env: str = "TEST_IMAP_PASSWORD", smtp_env: str = "TEST_SMTP_PASSWORD") -> Path:
    """intake.toml for this Dovecot and sink; replies are not throttled (tests, not 163)."""
    storage = storage or tmp / "data"
    cfg = tmp / "intake.toml"
    cfg.write_text(
        f"""
[mailbox]
host = "127.0.0.1"
port = {dovecot.port}
user = "{dovecot.user}"
password_env = "{imap_env}"
ssl = false
timeout = 20

[smtp]
host = "127.0.0.1"
port = {sink.port}
user = "{dovecot.user}"
password_env = "{smtp_env}"
ssl = false
sender = "新乡市科协科普中心 <{dovecot.user}>"
timeout = 20

[storage]
dir = "{storage}"

[replies]
per_minute = 100000
per_run = 100000
per_day = 100000
{extra}
""",
        encoding="utf-8",
    )
    return cfg


def intake_env(dovecot, failpoint: str | None = None, smtp_password: str = "x") -> dict[str, str]:
    env = dict(os.environ, TEST_IMAP_PASSWORD=dovecot.password, TEST_SMTP_PASSWORD=smtp_password)
    env.pop("INTAKE_FAILPOINT", None)
    env.pop("INTAKE_STORAGE_DIR", None)
    if failpoint:
        env["INTAKE_FAILPOINT"] = failpoint
    return env


def intake_argv(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args, "--config", str(cfg)]


def run(cfg: Path, dovecot, *args: str, failpoint: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(intake_argv(cfg, *args), cwd=ROOT, env=intake_env(dovecot, failpoint),
                          capture_output=True, text=True, timeout=timeout)


def start_poll(cfg: Path, dovecot, **env: str) -> subprocess.Popen:
    """A poll running in its own process group (so a test can kill it with its PDF children)."""
    return subprocess.Popen(intake_argv(cfg, "poll"), cwd=ROOT, env={**intake_env(dovecot), **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def poll_killed_after(cfg: Path, dovecot, delay: float, timeout: float = 300) -> tuple[int, str, str]:
    """Start a poll in its own process group and SIGKILL the group after `delay` seconds
    (PDF children included). Returns (returncode, stdout, stderr); -9 when killed."""
    proc = start_poll(cfg, dovecot)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def per_recipient(sink) -> Counter:
    return Counter(r.lower() for m in sink.messages for r in m.rcpt_tos)


def query(db_path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def mails_recorded(db_path: Path) -> int:
    """Mails a (possibly still running) poll has committed; 0 before the database exists."""
    try:
        return query(db_path, "SELECT COUNT(*) FROM mails")[0][0]
    except sqlite3.Error:
        return 0


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
