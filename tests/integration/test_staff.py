"""What staff do besides polling: overrule, resend, reprocess, digest, status."""
from __future__ import annotations

import csv
import email
import json
import shutil
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

import openpyxl
import io

from test_poll import CST, LATE, ON_TIME, ROOT, corpus, db, load, poll, run_intake, subjects, write_config  # noqa: F401,F811  (corpus is a fixture)


def summary(cfg, dovecot) -> dict[str, dict]:
    out = run_intake(cfg, dovecot, "summary", "--format", "json")
    assert out.returncode == 0, out.stderr
    return {r["sender"]: r for r in json.loads(out.stdout)}


def test_decide_overrules_and_survives_polls_until_new_mail(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("02-needs-correction.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    sender = next(iter(summary(cfg, dovecot)))
    result = run_intake(cfg, dovecot, "decide", sender, "accept", "--note", "公章经电话核实", "--by", "郭明梅", "--reply")
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(2, timeout=30)
    assert "受理回执" in subjects(smtp_sink)[-1]
    row = summary(cfg, dovecot)[sender]
    assert row["status"] == "accepted"
    assert row["decision"]["by"] == "郭明梅" and row["decision"]["note"] == "公章经电话核实"
    # staff reading the table see why 已受理 stands next to an error
    table = run_intake(cfg, dovecot, "summary", "--format", "csv")
    assert table.returncode == 0, table.stderr
    line = next(r for r in csv.DictReader(io.StringIO(table.stdout.lstrip("\ufeff"))) if r["发件人"] == sender)
    assert line["状态"] == "已受理" and line["改判"].startswith("改判为已受理：公章经电话核实（郭明梅，")
    assert line["问题"].startswith("[已改判]")
    assert poll(cfg, dovecot).returncode == 0
    assert summary(cfg, dovecot)[sender]["status"] == "accepted"
    assert len(smtp_sink.messages) == 2
    from servers import append

    # the same files sent again (a new mail) do not undo the decision, nor draw a reply
    original = email.message_from_bytes(corpus["02-needs-correction.eml"], policy=policy.default)
    again = EmailMessage()
    again["From"], again["To"], again["Subject"] = original["From"], original["To"], "再次发送申报材料"
    again["Date"] = format_datetime(ON_TIME + timedelta(hours=1))
    again.set_content("附件为申报材料。")
    files = [(a.get_filename(), a.get_content()) for a in original.iter_attachments()]
    for name, data in files:
        again.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    append(dovecot, again.as_bytes(), ON_TIME + timedelta(hours=1))
    assert poll(cfg, dovecot).returncode == 0
    assert summary(cfg, dovecot)[sender]["status"] == "accepted"
    assert len(smtp_sink.messages) == 2
    # a new version re-opens the question; the decision stays on record
    del again["Date"]
    again["Date"] = format_datetime(ON_TIME + timedelta(hours=2))
    for part in again.iter_attachments():
        if part.get_filename().lower().endswith(".pdf"):
            part.set_content(part.get_content() + b"\n% resent\n", maintype="application", subtype="pdf",
                             filename=part.get_filename())
    append(dovecot, again.as_bytes(), ON_TIME + timedelta(hours=2))
    assert poll(cfg, dovecot).returncode == 0
    assert summary(cfg, dovecot)[sender]["status"] == "needs_correction"
    assert db(tmp_path)["decisions"].count == 1


def test_decide_needs_correction_sends_the_note(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    row = next(iter(summary(cfg, dovecot).values()))
    result = run_intake(cfg, dovecot, "decide", row["receipt_no"], "needs-correction", "--note", "请补充单位负责人签字", "--reply")
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(2, timeout=30)
    msg = email.message_from_bytes(smtp_sink.messages[-1].data, policy=policy.default)
    assert "补正" in str(msg["Subject"]) and "请补充单位负责人签字" in msg.get_body(("plain",)).get_content()
    unknown = run_intake(cfg, dovecot, "decide", "nobody@example.com", "accept")
    assert unknown.returncode == 1 and "找不到" in unknown.stderr


def test_resend_on_purpose(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    reply_id = db(tmp_path)["outbox"].rows.__next__()["id"]
    result = run_intake(cfg, dovecot, "replies", "resend", str(reply_id))
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(2, timeout=30)
    assert smtp_sink.messages[0].data.split(b"\r\n\r\n", 1)[1] == smtp_sink.messages[1].data.split(b"\r\n\r\n", 1)[1]
    assert run_intake(cfg, dovecot, "replies", "resend", "999").returncode == 1
    listing = run_intake(cfg, dovecot, "replies")
    assert listing.stdout.count("已发送") == 2
    # A reply that bounced, resent to the address staff checked by phone: the unit's next replies go there too.
    bad = run_intake(cfg, dovecot, "replies", "resend", str(reply_id), "--to", "not an address")
    assert bad.returncode == 1 and "不是可用的邮箱地址" in bad.stderr
    moved = run_intake(cfg, dovecot, "replies", "resend", str(reply_id), "--to", "Right.Person@qq.com")
    assert moved.returncode == 0, moved.stderr
    smtp_sink.wait_for(3, timeout=30)
    last = smtp_sink.messages[2]
    assert last.rcpt_tos == ["right.person@qq.com"] and b"To: right.person@qq.com" in last.data
    assert last.data.split(b"\r\n\r\n", 1)[1] == smtp_sink.messages[0].data.split(b"\r\n\r\n", 1)[1]
    assert {r["sender"] for r in db(tmp_path)["applicants"].rows} == {"right.person@qq.com"}


def test_reprocess_after_the_deadline_is_extended(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("05-late.eml", LATE)])
    rules = tmp_path / "rules.toml"
    shutil.copy(ROOT / "rules" / "xinxiang-2025-kjzyfw.toml", rules)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    cfg.write_text(cfg.read_text(encoding="utf-8") + f'\n[campaign]\nrules = "{rules}"\n', encoding="utf-8")
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    unchanged = run_intake(cfg, dovecot, "reprocess")
    assert unchanged.returncode == 0, unchanged.stderr
    assert len(smtp_sink.messages) == 2  # nothing changed, nobody is written to
    rules.write_text(rules.read_text(encoding="utf-8").replace("2025-06-23T23:59:59+08:00", "2025-06-30T23:59:59+08:00"), encoding="utf-8")
    result = run_intake(cfg, dovecot, "reprocess")
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(3, timeout=30)
    assert len(smtp_sink.messages) == 3 and "受理回执" in subjects(smtp_sink)[-1]
    assert sorted(r["status"] for r in summary(cfg, dovecot).values()) == ["accepted", "accepted"]
    history = [r["status"] for r in db(tmp_path)["status_history"].rows]
    assert history.count("late") == 1 and history.count("accepted") == 2


def test_a_question_is_marked_answered_from_the_command_line(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("07-question.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    assert "需要人工查看的邮件：1 封" in run_intake(cfg, dovecot, "status").stdout
    done = run_intake(cfg, dovecot, "answered", "li.office@qq.com", "--by", "郭明梅")
    assert done.returncode == 0 and "待人工查看的邮件 1 封" in done.stdout, done.stderr
    assert "需要人工查看的邮件：0 封" in run_intake(cfg, dovecot, "status").stdout
    unknown = run_intake(cfg, dovecot, "answered", "nobody@example.cn")
    assert unknown.returncode != 0 and "找不到" in unknown.stderr


def test_digest_and_status(tmp_path, dovecot, smtp_sink, corpus):
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[staff]\noperator = "科普中心"\naddresses = ["guo@xxkx.gov.cn", "zhao@xxkx.gov.cn"]\n', encoding="utf-8")
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    preview = run_intake(cfg, dovecot, "digest", "--out", str(tmp_path / "digest.eml"))
    assert preview.returncode == 0, preview.stderr
    shown = email.message_from_bytes((tmp_path / "digest.eml").read_bytes(), policy=policy.default)
    assert "受理汇总" in str(shown["Subject"]) and "申报单位 2 个：" in shown.get_body(("plain",)).get_content()
    assert len(smtp_sink.messages) == 2, "a preview sends nothing"
    result = run_intake(cfg, dovecot, "digest")
    assert result.returncode == 0, result.stderr
    smtp_sink.wait_for(4, timeout=30)
    digests = [m for m in smtp_sink.messages[2:]]
    assert sorted(m.rcpt_tos[0] for m in digests) == ["guo@xxkx.gov.cn", "zhao@xxkx.gov.cn"]
    msg = email.message_from_bytes(digests[0].data, policy=policy.default)
    assert "受理汇总" in str(msg["Subject"])
    xlsx = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".xlsx"))
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.get_content()))
    assert wb["受理登记"].max_row == 3
    assert wb.sheetnames == ["受理登记", "问题明细", "其他邮件"]
    page = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".html")).get_content()
    # a staff PC has no server path to open: file names only, no links
    assert "file:" not in page and "<a " not in page and "/files/" not in page
    assert "卫辉市科学技术协会-科技志愿服务试点申报书.docx" in page
    status = run_intake(cfg, dovecot, "status")
    assert status.returncode == 0 and "上次成功运行" in status.stdout and "从未成功" not in status.stdout


def test_staff_are_alerted_once_and_told_when_it_recovers(tmp_path, dovecot, smtp_sink):
    import os
    import subprocess
    import sys

    cfg = write_config(tmp_path, dovecot, smtp_sink)
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[staff]\naddresses = ["guo@xxkx.gov.cn"]\nalert_after_failures = 2\n', encoding="utf-8")

    def poll_with(password):
        env = dict(os.environ, TEST_IMAP_PASSWORD=password, TEST_SMTP_PASSWORD="x")
        return subprocess.run([sys.executable, "-m", "pipeline", "poll", "--config", str(cfg)], cwd=ROOT, env=env, capture_output=True, text=True)

    assert poll_with("expired-code").returncode == 1
    assert smtp_sink.messages == []
    for _ in range(3):
        assert poll_with("expired-code").returncode == 1
    smtp_sink.wait_for(1, timeout=30)
    assert len(smtp_sink.messages) == 1  # one alert, not one per failed poll
    alert = email.message_from_bytes(smtp_sink.messages[0].data, policy=policy.default)
    assert "告警" in str(alert["Subject"]) and alert["To"] == "guo@xxkx.gov.cn"
    assert "expired-code" not in alert.get_content()
    assert poll_with(dovecot.password).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    assert "恢复" in str(email.message_from_bytes(smtp_sink.messages[1].data, policy=policy.default)["Subject"])
    assert poll_with(dovecot.password).returncode == 0
    assert len(smtp_sink.messages) == 2


def test_replies_are_filed_in_the_sent_folder_once(tmp_path, smtp_sink, corpus):
    from servers import DovecotServer, append, connect

    special = r"""
namespace inbox {
  inbox = yes
  mailbox "已发送" {
    special_use = \Sent
    auto = subscribe
  }
}
"""
    server = DovecotServer(extra_config=special)
    server.start()
    try:
        append(server, corpus["01-complete.eml"], ON_TIME)
        cfg = write_config(tmp_path, server, smtp_sink)
        text = cfg.read_text(encoding="utf-8").replace('sender = "', 'save_to_sent = true\nsender = "')
        cfg.write_text(text, encoding="utf-8")
        assert poll(cfg, server).returncode == 0
        smtp_sink.wait_for(1, timeout=30)
        client = connect(server)
        sent = next(name for flags, _, name in client.list_folders() if b"\\Sent" in flags)
        client.select_folder(sent, readonly=True)
        ids = client.search("ALL")
        assert len(ids) == 1
        body = client.fetch(ids, ["BODY.PEEK[]"])[ids[0]][b"BODY[]"]
        assert "受理回执" in str(email.message_from_bytes(body, policy=policy.default)["Subject"])
        client.logout()
        assert poll(cfg, server).returncode == 0
        client = connect(server)
        client.select_folder(sent, readonly=True)
        assert len(client.search("ALL")) == 1  # filed once
        client.logout()
    finally:
        server.stop()


def test_wrong_document_reply_carries_the_blank_form(tmp_path, dovecot, smtp_sink):
    import docx as python_docx

    from pipeline.samples.mails import mail
    from servers import append

    letter = python_docx.Document()
    letter.add_paragraph("关于报送科技志愿服务试点申报材料的函")
    buf = io.BytesIO()
    letter.save(buf)
    raw = mail("王老师 <wang@qq.com>", "试点申报", "附件为申报函。", ON_TIME, [("申报函.docx", buf.getvalue(), "application/octet-stream")])
    append(dovecot, raw, ON_TIME)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(1, timeout=30)
    msg = email.message_from_bytes(smtp_sink.messages[0].data, policy=policy.default)
    assert "补正" in str(msg["Subject"])
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["新乡市科技志愿服务试点建设申报书（空白模板）.docx"]
    assert "不是本次的申报书" in msg.get_body(("plain",)).get_content()


def test_polls_killed_every_time_still_reach_staff(tmp_path, dovecot, smtp_sink, corpus):
    """A poll killed mid-run (out of memory on the same backlog each time) left its run
    unfinished: `status` said 连续失败次数 0 and no alert ever went out."""
    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[staff]\naddresses = ["guo@xxkx.gov.cn"]\nalert_after_failures = 2\n', encoding="utf-8")
    for _ in range(3):
        assert poll(cfg, dovecot, failpoint="mail.stored").returncode == 99
    status = run_intake(cfg, dovecot, "status").stdout
    assert "未正常结束" in status and "连续失败次数：2" in status, status
    smtp_sink.wait_for(1, timeout=30)
    alert = email.message_from_bytes(smtp_sink.messages[0].data, policy=policy.default)
    assert "告警" in str(alert["Subject"]) and "未正常结束" in alert.get_content()
    assert poll(cfg, dovecot).returncode == 0  # the backlog goes through once nothing kills it
    smtp_sink.wait_for(4, timeout=30)
    assert sorted(str(email.message_from_bytes(m.data, policy=policy.default)["Subject"])[:5] for m in smtp_sink.messages[1:]) == [
        "【inta", "【受理回执", "【补正通知"]


def test_an_unforeseen_error_while_reading_mail_is_one_line_and_the_rest_is_answered(tmp_path, dovecot, smtp_sink, corpus):
    import os

    load(dovecot, corpus, [("01-complete.eml", ON_TIME), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    os.environ["INTAKE_FAILPOINT_RAISE"] = "1"
    try:
        failed = poll(cfg, dovecot, failpoint="mail.stored:2")
    finally:
        del os.environ["INTAKE_FAILPOINT_RAISE"]
    assert failed.returncode == 1 and "内存不足" in failed.stderr and "Traceback" not in failed.stderr.splitlines()[-1]
    assert "内存不足" in run_intake(cfg, dovecot, "status").stdout
    assert db(tmp_path)["mails"].count == 1  # the mail committed before the error is kept (and judged)
    assert poll(cfg, dovecot).returncode == 0
    smtp_sink.wait_for(2, timeout=30)
    assert len(smtp_sink.messages) == 2
