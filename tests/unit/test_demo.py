"""`intake demo` runs the whole pipeline on the bundled samples, no servers."""
from __future__ import annotations

import csv
import email
import io
import json
import subprocess
import sys
from email import policy
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "demo", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert str(out / "storage" / "intake.db") in result.stdout
    assert str(out / "replies") in result.stdout
    return out


def test_statuses_and_problems(demo):
    rows = {r["sender"]: r for r in json.loads((demo / "summary.json").read_text(encoding="utf-8"))}
    statuses = sorted(r["status"] for r in rows.values())
    assert statuses == ["accepted", "accepted", "inquiry", "late", "needs_correction", "needs_correction"]
    codes = {s: {p["code"] for p in r["problems"] if p["severity"] == "error"} for s, r in rows.items()}
    assert {"budget_over_limit", "missing_stamp"} <= codes["kx@htu.edu.cn"]
    assert codes["whkx_yf@163.com"] == {"missing_pdf"}
    question = rows["li.office@qq.com"]  # only asked: no application with missing files
    assert question["status"] == "inquiry" and [p["code"] for p in question["problems"]] == ["mail_without_files"]
    paired = rows["majunfeng1980@qq.com"]  # Word and PDF in two mails
    assert paired["status"] == "accepted" and paired["word_file"] and paired["pdf_file"]
    assert "wang.teacher@126.com" not in rows and "news@kepu-weekly.cn" not in rows


def test_one_reply_per_applicant_and_none_to_auto_mail(demo):
    replies = sorted((demo / "replies").glob("*.eml"))
    assert len(replies) == 6
    subjects = []
    for path in replies:
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert msg["Auto-Submitted"] == "auto-replied"
        subjects.append(str(msg["Subject"]))
        assert "wang.teacher" not in msg["To"] and "kepu-weekly" not in msg["To"]
    assert sum("受理回执" in s for s in subjects) == 2
    assert sum("补正" in s for s in subjects) == 2
    assert sum("来信收到" in s for s in subjects) == 1  # the question (07)
    assert sum("逾期" in s for s in subjects) == 1


def test_replies_are_dated_as_cron_would_have_sent_them(demo):
    """Each sample is processed five minutes after it arrived (a Word alone after the pairing
    window): no notice is dated days later, and none names a time already past."""
    import re
    from datetime import datetime, timedelta, timezone
    from email.utils import parsedate_to_datetime

    cst = timezone(timedelta(hours=8))
    for path in sorted((demo / "replies").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        sent = parsedate_to_datetime(msg["Date"])
        assert datetime(2025, 6, 19, tzinfo=cst) <= sent <= datetime(2025, 6, 24, 9, tzinfo=cst), path.name
        body = msg.get_body(("plain",)).get_content()
        for y, mo, d, h, mi in re.findall(r"(?:请于|补正期限为) (\d{4})年(\d+)月(\d+)日 (\d+):(\d+)", body):
            assert datetime(int(y), int(mo), int(d), int(h), int(mi), tzinfo=cst) > sent, (path.name, body)
    question = next(p for p in (demo / "replies").glob("*li.office*.eml"))
    text = email.message_from_bytes(question.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert "申报截止时间为 2025年6月23日 23:59" in text and "补正期限" not in text  # a question buys no window


def test_csv_and_xlsx(demo):
    data = (demo / "summary.csv").read_bytes()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "受理编号" and len(rows) == 7
    wb = openpyxl.load_workbook(demo / "summary.xlsx")
    sheet = wb["受理登记"]
    assert sheet.max_row == 7 and sheet.freeze_panes == "A2"
    assert sheet.cell(2, 6).is_date
    assert wb["问题明细"].max_row > 1


def test_html_is_self_contained(demo):
    html = (demo / "summary.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert html.count("<tr class=") == 6


def test_rerun_replaces_the_demo_folder(demo):
    result = subprocess.run([sys.executable, "-m", "pipeline", "demo", "--out", str(demo)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(list((demo / "replies").glob("*.eml"))) == 6


def test_replies_leak_nothing_between_applicants(demo):
    from pipeline.samples.apps import sample_applications

    apps = sample_applications()
    for path in (demo / "replies").glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
        assert not any(a.account_number and a.account_number in text for a in apps)
        own = [a for a in apps if a.contact.email == msg["To"]]
        others = [a.unit for a in apps if a not in own]
        assert not any(unit in text for unit in others), path.name
