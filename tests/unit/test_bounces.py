"""Bounces of our replies: read from the report, matched to the outbox, shown to staff."""
from __future__ import annotations

import base64
import email
from datetime import timedelta
from email import policy

import pytest

from mail_corpus import OWN
from pipeline.bounces import read_bounce
from pipeline.digest import build_digest
from pipeline.summary import applicant_rows, other_mail_rows, status_lines
from pipeline_harness import ON_TIME, Pipeline
from test_pipeline_corpus import form_mail, forms  # noqa: F401 - the fixture

OURS = "<175000000000.1234.5678901234567890.intake@163.com>"


def report(*, to: str = "zhangsan@qq.com", action: str = "failed", returned: str = "headers",
           sender: str = "Postmaster@163.com", subject: str = "系统退信", ours: str = OURS) -> bytes:
    """A delivery report as 163 and other servers write it, returning one of our replies
    (`returned`: its headers, the mail base64-encoded as Exchange does, or the mail itself).
    Without a `sender` it is a person's mail with ours attached, no report part."""
    original = f"From: {OWN}\r\nTo: {to}\r\nMessage-ID: {ours}\r\nSubject: notice\r\n\r\nbody\r\n"
    if returned == "headers":
        back = f"Content-Type: text/rfc822-headers\r\n\r\n{original}"
    elif returned == "base64":
        back = ("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(original.encode()).decode().replace("\n", "\r\n"))
    else:
        back = f"Content-Type: message/rfc822\r\n\r\n{original}"
    status = (
        "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; m15.mail.163.com\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: {action}\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 Mailbox not found\r\n\r\n"
    ) if sender else ""
    kind = "multipart/report; report-type=delivery-status" if sender else "multipart/mixed"
    text = base64.b64encode(f"很遗憾，您发往 {to} 的邮件未能投递。原因：收件人邮箱不存在。".encode()).decode()
    title = "=?utf-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    return (
        f"From: {sender or 'zhangsan@qq.com'}\r\nTo: {OWN}\r\nSubject: {title}\r\nMessage-ID: <dsn-1@163.com>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {kind}; boundary=\"R\"\r\n\r\n"
        f"--R\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n"
        f"{status}--R\r\n{back}\r\n--R--\r\n"
    ).encode()


@pytest.mark.parametrize("returned", ["headers", "base64", "message"])
def test_a_report_names_our_reply_the_address_and_the_reason(returned):
    bounce = read_bounce(report(returned=returned))
    assert bounce is not None and bounce.message_ids == (OURS,)
    assert bounce.recipients == ("zhangsan@qq.com",) and bounce.reason == "550 Mailbox not found"


def test_a_delay_notice_is_no_bounce():
    assert read_bounce(report(action="delayed")) is None


def test_a_person_attaching_our_mail_is_no_bounce():
    """Forwarded 'as attachment' with a question: our id is inside, but nothing was returned."""
    assert read_bounce(report(returned="message", sender="", subject="请问回执收到了，还需要寄纸质版吗？")) is None


def test_a_report_about_someone_elses_mail_links_nothing():
    assert read_bounce(report(ours="<abc@qq.com>")) is None


def test_a_bounced_reply_is_shown_to_staff_and_never_answered(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("zhangsan@qq.com", [("申报书.docx", docx)]))
    p.runner.now = lambda: ON_TIME + timedelta(hours=2)  # past the pairing window: the notice is written
    p.judge()
    [out] = p.rows("SELECT id, message_id FROM outbox")
    p.store.set_reply_state(out["id"], "sent")
    assert p.feed(report(ours=out["message_id"]), ON_TIME + timedelta(hours=3)) == "no_reply"
    p.judge()
    assert [r["state"] for r in p.rows("SELECT state FROM outbox")] == ["bounced"]  # nothing new to the report
    [row] = applicant_rows(p.store)
    assert row["reply"]["state"] == "bounced"
    [other] = other_mail_rows(p.store)
    assert f"发给 zhangsan@qq.com 的补正通知（2025-KJZY-001 {app.unit}），未送达（550 Mailbox not found）" in other["reason"]
    assert "被退回 1" in "\n".join(status_lines(p.store))
    digest = build_digest(p.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", ON_TIME)
    body = email.message_from_bytes(digest.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert "被退回、未送达的回复 1 封" in body and f"2025-KJZY-001 {app.unit} zhangsan@qq.com：补正通知，被退回：550 Mailbox not found（回复编号 {out['id']}）" in body
    p.close()


def test_a_bounced_question_letter_is_named_as_one_without_a_receipt_number(tmp_path):
    """Someone who never applied wrote from a mistyped address: no unit, no number to phone about."""
    p = Pipeline(tmp_path)
    p.feed(form_mail("whkx_y@163.com", [], subject="试点申报咨询"))
    p.judge()
    [out] = p.rows("SELECT id, kind, message_id FROM outbox")
    assert out["kind"] == "question"
    p.store.set_reply_state(out["id"], "sent")
    p.feed(report(to="whkx_y@163.com", ours=out["message_id"]), ON_TIME + timedelta(hours=1))
    [other] = other_mail_rows(p.store)
    assert "发给 whkx_y@163.com 的“来信收到”回复，未送达" in other["reason"] and "KJZY" not in other["reason"]
    assert other["reason"].endswith("请电话联系发信人")
    p.close()


def test_a_bounce_marks_only_the_copy_to_the_failed_address_and_a_resend_clears_the_to_do(tmp_path, forms):
    """Staff resent to the corrected address (same letter, same Message-ID): a late report about
    the old address must not mark the delivered copy, and the bounce leaves the digest's list."""
    from pipeline.summary import bounced_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("zhangsan@qq.com", [("申报书.docx", docx)]))
    p.runner.now = lambda: ON_TIME + timedelta(hours=2)
    p.judge()
    [out] = p.rows("SELECT id, message_id FROM outbox")
    p.store.set_reply_state(out["id"], "sent")
    p.feed(report(ours=out["message_id"]), ON_TIME + timedelta(hours=3))
    assert len(bounced_lines(p.store)) == 1
    copy = p.store.requeue_reply(out["id"], to="zhangsan2@qq.com")
    p.store.set_reply_state(copy, "sent")
    assert bounced_lines(p.store) == []  # dealt with: delivered to the corrected address
    late = report(ours=out["message_id"]).replace(b"dsn-1@163.com", b"dsn-2@163.com")
    p.feed(late, ON_TIME + timedelta(hours=4))
    assert dict((r["id"], r["state"]) for r in p.rows("SELECT id, state FROM outbox")) == {out["id"]: "bounced", copy: "sent"}
    p.close()
