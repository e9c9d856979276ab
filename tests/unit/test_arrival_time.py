"""When a mail arrived, as intake import decides it (QA round 10): Date zones, the receiving
server's Received stamp over the sender PC's Date, impossible clocks, and --received."""
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest

from pipeline import jobs
from pipeline.config import default_config
from pipeline.mime import parse_mail
from pipeline.models import Mail, RawMail
from pipeline.resources import shipped
from pipeline.store import Store, parse_iso

import mail_corpus as corpus  # tests/unit is on sys.path (pytest rootdir-less import mode)

BEIJING = timezone(timedelta(hours=8))


def parse(data: bytes) -> Mail:
    return parse_mail(RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import", received_at=None))


def test_a_date_in_minus_zero_zone_is_utc_and_one_without_a_zone_beijing_time():
    """RFC 5322: -0000 is UTC with the local zone unknown (Python's formatdate() writes it);
    16:30 -0000 is 00:30 the next day in Beijing, after the deadline."""
    mail = parse(corpus.plain(date="Mon, 23 Jun 2025 16:30:00 -0000"))
    assert mail.sent_at == mail.received_at == datetime(2025, 6, 24, 0, 30, tzinfo=BEIJING)
    assert parse(corpus.plain(date="Mon, 23 Jun 2025 16:30:00 -0000 (UTC)")).sent_at == mail.sent_at
    assert parse(corpus.plain(date="Mon, 23 Jun 2025 23:30:00")).sent_at == datetime(2025, 6, 23, 23, 30, tzinfo=BEIJING)
    stamp = [("Received", "from smtp.qq.com by mx.163.com with SMTP;\r\n Mon, 23 Jun 2025 16:30:05 -0000")]
    assert parse(corpus.plain(stamp, date=None)).received_at == datetime(2025, 6, 24, 0, 30, 5, tzinfo=BEIJING)


def _import(tmp_path: Path, date: str, received: str | None, now: datetime) -> tuple[dict, dict]:
    """Import the shipped complete sample with this Date (and top Received): (applicant, mail) rows."""
    data = (shipped("samples") / "01-complete.eml").read_bytes()
    data = re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: " + date.encode(), data, count=1)
    if received:
        data = b"Received: from pc (unknown [1.2.3.4]) by mx.163.com (Coremail) with SMTP id x1;\r\n " + received.encode() + b"\r\n" + data
    path = tmp_path / "m.eml"
    path.write_bytes(data)
    cfg = default_config(tmp_path / "data")
    jobs.import_files(cfg, [path], send=False, now=lambda: now)
    store = Store.open(cfg.db_path)
    try:
        (applicant,) = store.rows("SELECT status, first_received_at, findings FROM applicants")
        (mail,) = store.rows("SELECT received_at, problems FROM mails")
    finally:
        store.close()
    return applicant, mail


IMPORTED = datetime(2025, 6, 24, 10, 30, tzinfo=BEIJING)


@pytest.mark.parametrize(
    "date, received, status, arrived",
    [
        # The sender's PC shows Beijing time but is set to UTC: Date says 07:30 the next day;
        # 163 stamped it 23:30:05 Beijing, on time.
        ("Mon, 23 Jun 2025 23:30:00 +0000", "Mon, 23 Jun 2025 23:30:05 +0800", "accepted", datetime(2025, 6, 23, 23, 30, 5)),
        # Outlook kept the mail written at 23:30 in its outbox; it reached 163 at 10:00 the next day.
        ("Mon, 23 Jun 2025 23:30:00 +0800", "Tue, 24 Jun 2025 10:00:00 +0800", "late", datetime(2025, 6, 24, 10, 0)),
    ],
    ids=["sender_zone_wrong", "queued_overnight"],
)
def test_import_judges_by_the_receiving_servers_stamp_not_the_senders_date(tmp_path, date, received, status, arrived):
    applicant, mail = _import(tmp_path, date, received, IMPORTED)
    assert applicant["status"] == status
    assert parse_iso(mail["received_at"]) == arrived.replace(tzinfo=BEIJING)
    assert "arrival_doubt" in mail["problems"]  # hours apart: staff are told which time decided


def test_import_of_a_mail_whose_date_is_close_to_its_stamp_has_no_note(tmp_path):
    applicant, mail = _import(tmp_path, "Mon, 23 Jun 2025 23:29:40 +0800", "Mon, 23 Jun 2025 23:30:05 +0800", IMPORTED)
    assert applicant["status"] == "accepted" and "arrival_doubt" not in (mail["problems"] or "")


def test_an_impossible_date_is_not_the_arrival_time(tmp_path):
    """A phone reset to 1970 (no Received): the applicant must not be told 收到时间 1970年1月1日;
    the import's time stands and staff are asked to check."""
    now = datetime(2025, 6, 22, 9, 0, tzinfo=BEIJING)
    applicant, mail = _import(tmp_path, "Thu, 01 Jan 1970 08:00:00 +0800", None, now)
    assert parse_iso(mail["received_at"]) == now
    assert parse_iso(applicant["first_received_at"]) == now and applicant["status"] == "accepted"
    assert "arrival_doubt" in mail["problems"] and "早于本次征集的通知日期" in mail["problems"]
    assert "arrival_doubt" in applicant["findings"]  # a staff-only note on the applicant's row


def test_a_date_before_the_notice_date_gives_way_to_a_good_stamp(tmp_path):
    applicant, mail = _import(tmp_path, "Sat, 01 Feb 2025 10:00:00 +0800", "Mon, 23 Jun 2025 23:30:05 +0800", IMPORTED)
    assert applicant["status"] == "accepted"
    assert parse_iso(mail["received_at"]) == datetime(2025, 6, 23, 23, 30, 5, tzinfo=BEIJING)


# -- --received --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2025-06-23T23:30:00+08:00", "2025-06-23 23:30", "2025/06/23 23:30", "2025年6月23日 23:30", "2025年6月23日23时30分",
        "2025-06-23T15:30:00Z", "2025-06-23T23:30:00 +0800", "Mon, 23 Jun 2025 23:30:00 +0800", "Mon, 23 Jun 2025 15:30:00 -0000",
        "２０２５年６月２３日　２３：３０", "2025.6.23 23:30",
    ],
)
def test_received_accepts_the_ways_staff_write_a_time(text):
    from pipeline.cli import _parse_when

    assert _parse_when(text) == datetime(2025, 6, 23, 23, 30, tzinfo=BEIJING)


@pytest.mark.parametrize("text", ["2025-06-24", "2025年6月24日", "23:30", "2025-02-30 10:00", "昨天晚上", "2025-06-23 23:30 左右"])
def test_received_refuses_a_bare_date_or_nonsense_with_an_example(text):
    from pipeline.cli import _parse_when

    with pytest.raises(click.BadParameter) as exc:
        _parse_when(text)
    message = exc.value.format_message()
    assert "2025-06-23 23:30" in message and "\n" not in message
    if "-24" in text or "24日" in text:
        assert "只有日期" in message


def test_import_refuses_a_bare_received_date_before_touching_anything(tmp_path, capsys):
    from pipeline.cli import main

    cfg = tmp_path / "intake.toml"
    cfg.write_text(f'[storage]\ndir = "{tmp_path / "data"}"\n', encoding="utf-8")
    sample = shipped("samples") / "01-complete.eml"
    assert main(["import", "--config", str(cfg), "--received", "2025-06-24", str(sample)]) == 2
    assert "只有日期" in capsys.readouterr().err
    assert not (tmp_path / "data" / "intake.db").exists()


def test_no_late_notice_goes_out_on_a_guessed_arrival(tmp_path):
    """Imported after the deadline with a 1970 Date and no Received (QA round 11): the import's time
    made it late, and an automatic 逾期通知 went out on that guess. The verdict stands for staff to
    check; no letter is sent."""
    applicant, mail = _import(tmp_path, "Thu, 01 Jan 1970 08:00:00 +0800", None, IMPORTED)
    assert applicant["status"] == "late" and "无法确定" in mail["problems"]
    store = Store.open(default_config(tmp_path / "data").db_path)
    try:
        assert store.rows("SELECT * FROM outbox") == []
        assert "未自动发送逾期通知" in store.rows("SELECT no_reply_reason FROM mails")[0]["no_reply_reason"]
    finally:
        store.close()
    # A Date that can be the arrival still decides, and a late one is answered as before.
    (tmp_path / "b").mkdir()
    late, _ = _import(tmp_path / "b", "Tue, 24 Jun 2025 09:00:00 +0800", None, IMPORTED)
    assert late["status"] == "late"
