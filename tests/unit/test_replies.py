"""Replies: every status renders; headers follow RFC 3834 and stay one line."""
from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest

from pipeline.judge import judge
from pipeline.models import Document, Finding
from pipeline.replies import ReplyInput, build_message, environment, render_reply
from pipeline.ruleset import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules" / "xinxiang-2025-kjzyfw.toml"
CST = timezone(timedelta(hours=8))
SENDER = "新乡市科协科普中心 <kpzx350@163.com>"
NOW = datetime(2025, 6, 21, 12, tzinfo=CST)


def make(findings, unit="新乡市红旗区科学技术协会", sender_name="张三"):
    verdict = judge("a@qq.com", tuple(findings))
    inp = ReplyInput(
        verdict=verdict,
        to="a@qq.com",
        sender_name=sender_name,
        unit=unit,
        pilot_type="县级科协试点",
        receipt_no="2025-KJZY-007",
        files=(Document("0" * 64, "申报书.docx", "docx", 20480, NOW, "m"),),
        received_at=NOW,
        in_reply_to="<orig@qq.com>",
        references=("<earlier@qq.com>", "<orig@qq.com>"),
    )
    rs = load_rules(RULES)
    reply = render_reply(inp, rs.call, SENDER, environment(), NOW)
    msg = email.message_from_bytes(build_message(reply, SENDER, NOW).as_bytes(), policy=policy.default)
    return reply, msg


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_receipt():
    reply, msg = make([Finding("text_near_limit", "warning", "字数接近上限", "三、工作基础")])
    assert "受理回执" in msg["Subject"] and "新乡市红旗区科学技术协会" in msg["Subject"]
    assert "2025-KJZY-007" in body(msg)
    assert "字数接近上限" in body(msg)
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<orig@qq.com>"
    assert msg["References"].split() == ["<earlier@qq.com>", "<orig@qq.com>"]
    assert msg["Message-ID"].endswith("@163.com>")
    assert msg.get_body(("html",)) is not None


def test_correction_lists_every_error_by_section():
    errors = [
        Finding("budget_over_limit", "error", "合计 4,500.00 元，超过上限 4,000 元", "七、经费支出预算表"),
        Finding("missing_stamp", "error", "未发现公章", "八、申报单位意见（公章）"),
    ]
    reply, msg = make(errors)
    assert reply.kind == "correction"
    assert "补正" in msg["Subject"]
    text = body(msg)
    for e in errors:
        assert e.message in text and e.location in text


def test_correction_goes_through_the_problems_in_the_forms_order():
    """Rules fire in rule-file order; the applicant reads mail, cover, 一…八, then the PDF."""
    from pipeline.replies import group_by_section

    errors = (
        Finding("missing_stamp", "error", "未发现公章", "八、申报单位意见（公章）"),
        Finding("pdf_not_a4", "error", "不是 A4", "PDF 盖章版"),
        Finding("budget_over_limit", "error", "超过上限", "七、经费支出预算表"),
        Finding("field_missing", "error", "单位名称未填写", "一、申报单位基本情况 / 单位名称"),
        Finding("pilot_type_invalid", "error", "未勾选", "封面 / 试点类型"),
        Finding("word_missing", "error", "未收到 Word 版", "邮件附件"),
        Finding("field_missing", "error", "单位地址未填写", "一、申报单位基本情况 / 单位地址"),
    )
    order = [section for section, _ in group_by_section(errors)]
    assert order == ["邮件附件", "封面", "一、申报单位基本情况", "七、经费支出预算表", "八、申报单位意见（公章）", "PDF 盖章版"]
    text = body(make(errors)[1])
    assert text.index("【封面】") < text.index("【一、申报单位基本情况】") < text.index("【八、申报单位意见（公章）】")


@pytest.mark.parametrize("sender_name,greeting", [("李晓燕", "李晓燕：\n\n您好！"), ("", "您好！")])
def test_a_mail_without_a_unit_greets_the_writer_not_a_placeholder(sender_name, greeting):
    """A question mail or an unreadable form: no "申报单位：" salutation, no "- 申报单位" in the subject."""
    _, msg = make([Finding("word_missing", "error", "未收到 Word 版申报书", "邮件附件")], unit="", sender_name=sender_name)
    text, html = body(msg), msg.get_body(("html",)).get_content()
    assert text.lstrip().startswith(greeting)
    assert "申报单位：" not in text and "申报单位：" not in html
    assert (f"<p>{sender_name}：</p>" in html) == bool(sender_name)
    assert "申报单位" not in msg["Subject"] and " - " not in msg["Subject"] and "2025-KJZY-007" in msg["Subject"]
    assert "新乡市红旗区科学技术协会：" in body(make([Finding("word_missing", "error", "未收到", "邮件附件")])[1])


def test_late():
    reply, msg = make([Finding("late", "error", "已超过截止时间", "申报时间")])
    assert reply.kind == "late" and "逾期" in msg["Subject"]
    assert "2025年6月23日 23:59" in body(msg)


@pytest.mark.parametrize("unit", ["单位\r\nBcc: victim@example.com", "A\nB", "x" * 500])
def test_header_values_cannot_inject(unit):
    reply, msg = make([], unit=unit)
    assert "\n" not in reply.subject and "\r" not in reply.subject
    assert msg["Bcc"] is None
    assert len(reply.subject) <= 160


def all_codes():
    import tomllib

    root = Path(__file__).resolve().parents[2] / "rules"
    codes = set()
    for path in root.glob("*.toml"):
        codes |= {r["code"] for r in tomllib.loads(path.read_text(encoding="utf-8"))["rule"]}
    return sorted(codes)


@pytest.mark.parametrize("code", all_codes())
def test_every_problem_code_renders_in_every_reply(code):
    finding = Finding(code, "error", f"问题说明（{code}）", "七、经费支出预算表 / 合计")
    reply, msg = make([finding])
    expected = "late" if code == "late" else "correction"
    assert reply.kind == expected
    if expected == "correction":
        assert f"问题说明（{code}）" in body(msg) and f"问题说明（{code}）" in msg.get_body(("html",)).get_content()
    warning = Finding(code, "warning", f"建议（{code}）", "五、考核指标")
    reply, msg = make([warning])
    assert reply.kind == "receipt" and f"建议（{code}）" in body(msg)
    note = Finding(code, "warning", f"仅供工作人员（{code}）", "PDF 盖章版", staff_only=True)
    reply, msg = make([note])
    assert f"仅供工作人员（{code}）" not in body(msg)
