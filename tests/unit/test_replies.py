"""Replies: every status renders; headers follow RFC 3834 and stay one line."""
from __future__ import annotations

import dataclasses
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


def make(findings, unit="新乡市红旗区科学技术协会", sender_name="张三", files=("申报书.docx",)):
    verdict = judge("a@qq.com", tuple(findings))
    inp = ReplyInput(
        verdict=verdict,
        to="a@qq.com",
        sender_name=sender_name,
        unit=unit,
        pilot_type="县级科协试点",
        receipt_no="2025-KJZY-007",
        files=tuple(Document(str(n) * 64, name, "docx", 20480, NOW, "m") for n, name in enumerate(files)),
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


SPAM_UNIT = "恭喜您获得科普补贴5000元，请加微信kf8888或访问 http://xx-butie.cn 领取"


@pytest.mark.parametrize("unit", [SPAM_UNIT, "科普补贴领取请加QQ 123456789", "详情见 www.xx-butie.cn", "补贴咨询 138-3730-1256",
                                  "新乡市" + "科普志愿服务活动宣传周" * 5])
@pytest.mark.parametrize("findings", [[], [Finding("unit_name_invalid", "error", "封面中的“申报单位”填写的内容含有网址，不是单位名称。", "封面")]],
                         ids=["receipt", "correction"])
def test_a_unit_name_that_is_an_advert_is_not_repeated_to_the_sender(unit, findings):
    """QA round 10: the form's 单位名称 held an advert; our receipt put it in the subject and the text
    (【受理回执】…申报 - 恭喜您获得科普补贴5000元…) to whatever address the mail claimed."""
    reply, msg = make(findings, unit=unit, sender_name="领补贴加微信kf8888")
    html = msg.get_body(("html",)).get_content()
    for text in (str(msg["Subject"]), body(msg), html):
        assert unit not in text and "kf8888" not in text and "xx-butie" not in text and "123456789" not in text
    assert str(msg["Subject"]).startswith(f"【{'受理回执' if not findings else '补正通知'}】新乡市科技志愿服务试点建设申报（2025-KJZY-007）")
    assert "贵单位" in body(msg)


def test_a_file_name_carrying_a_web_address_is_not_repeated_to_the_sender():
    """The receipt's list of received files repeated '…https://xx-butie.cn/login 填写银行卡号.docx' (QA round 10)."""
    reply, msg = make([], files=("申报书.docx", "领取补贴请登录 https://xx-butie.cn/login 填写银行卡号.docx", "详见www.xx-butie.cn.docx"))
    for text in (body(msg), msg.get_body(("html",)).get_content()):
        assert "xx-butie" not in text and "申报书.docx" in text and text.count("（文件名含网址，略）.docx") == 2


@pytest.mark.parametrize("unit", ["新乡市红旗区科学技术协会", "河南师范大学科学技术协会", "新乡市农学会", "中国农业科学院农田灌溉研究所",
                                  "新乡市科普作家协会（筹）", "新乡市AI学会", "新乡市第22中学"])
def test_real_unit_names_are_still_in_the_subject_and_greeting(unit):
    reply, msg = make([], unit=unit)
    assert f" - {unit}（2025-KJZY-007）" in str(msg["Subject"]) and body(msg).startswith(f"{unit}：")


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


# -- what the applicant reads, rendered from the real rules (review of every reply text) --------

def _rendered(app=None, *, word=True, pdf=True, seal="red", mail_problems=(), now=NOW, notice=None, units=True, rs=None):
    """A reply from the real rules file: sample application, its PDF, the verdict, both parts."""
    from dataclasses import replace

    from pipeline.checks import Context
    from pipeline.consistency import form_text
    from pipeline.models import PdfFacts, SealEvidence, Submission
    from pipeline.samples.apps import sample_applications

    app = app or sample_applications()[0]
    rs = rs or load_rules(RULES)
    at = datetime(2025, 6, 20, 10, 15, tzinfo=CST)
    wdoc = Document("a" * 64, "申报书.docx", "docx", 40000, at, "m") if word else None
    pdoc = Document("b" * 64, "盖章版.pdf", "pdf", 90000, at, "m") if pdf else None
    facts = PdfFacts(pages=8, text=f"申报单位：{app.unit}\n{form_text(app)}", page_sizes=((595.28, 841.89),) * 8,
                     has_text_layer=True, seal=SealEvidence(seal, 8, 0.9), text_source="layer")
    files = tuple(d for d in (wdoc, pdoc) if d)
    sub = Submission("a@qq.com", "a@qq.com", wdoc, pdoc, at, at, at if word and pdf else None,
                     mail_problems=tuple(mail_problems), correction_notice_at=notice)
    verdict = judge("a@qq.com", rs.evaluate(Context(rs.call, sub, app if word else None, facts if pdf else None)))
    inp = ReplyInput(verdict, "a@qq.com", "李晓燕", app.unit if word and units else "", "县级科协试点", "2025-KJZY-007",
                     files, at, "<orig@qq.com>", ())
    reply = render_reply(inp, rs.call, SENDER, environment(), now)
    return reply, reply.text, reply.html


def test_an_unstamped_pdf_asks_for_the_pdf_only():
    """The Word form is fine: the notice must not ask for it again (nor say 一并重新发送)."""
    reply, text, html = _rendered(seal="none")
    assert reply.kind == "correction"
    for part in (text, html):
        assert "请将盖章 PDF 版发送至本邮箱（kpzx350@163.com）；已收到的 Word 版申报书无需重复发送" in part
        assert "一并重新发送" not in part


def test_a_missing_word_asks_for_the_word_only_and_a_content_error_for_both():
    _, text, _ = _rendered(pdf=True, word=False)
    assert "请将 Word 版申报书（.docx）发送至本邮箱" in text and "已收到的盖章 PDF 版无需重复发送" in text
    from dataclasses import replace

    from pipeline.samples.apps import sample_applications

    _, text, html = _rendered(replace(sample_applications()[0], address=""))
    assert "将 Word 版申报书（.docx）和盖章 PDF 版一并重新发送至本邮箱" in text and "无需重复发送" not in text
    assert "【一、申报单位基本情况】\n  1. “单位地址”未填写" in text and "基本情况 / 单位地址未填写" not in html


def test_a_mail_too_large_is_not_told_its_files_never_came():
    too_large = Finding("mail_too_large", "error", "邮件过大（80 MB，上限 60 MB），未能处理其中的附件。", "邮件附件")
    reply, text, html = _rendered(word=False, pdf=False, mail_problems=(too_large,), units=False)
    assert reply.kind == "correction" and "邮件过大" in text
    assert "未收到 Word 版申报书" not in text and "未收到盖章 PDF 版" not in html
    assert "申报材料已收到" not in text and "尚未收到可以审核的申报材料" in text


def test_a_mail_without_files_is_not_told_its_materials_arrived():
    """A question ("申报书模板在哪里下载？") gets no "贵单位报送的…申报材料已收到"."""
    _, text, html = _rendered(word=False, pdf=False, units=False)
    for part in (text, html):
        assert "申报材料已收到" not in part and "尚未收到可以审核的申报材料" in part
        assert "未收到 Word 版申报书" in part and "请修改后" not in part


def test_a_crashed_check_is_never_shown_to_the_applicant(monkeypatch):
    from dataclasses import replace

    from pipeline.checks import REGISTRY

    def boom(ctx, params):
        raise KeyError("x")

    rs = load_rules(RULES)  # loading tries every check on the sample form: break it only afterwards
    monkeypatch.setitem(REGISTRY, "quantified", replace(REGISTRY["quantified"], func=boom))
    reply, text, html = _rendered(rs=rs)
    assert reply.kind == "receipt"
    assert "检查出错" not in text and "KeyError" not in html


def test_deadlines_say_beijing_time_and_the_window_names_its_end():
    _, text, html = _rendered(seal="none", now=datetime(2025, 6, 20, 10, 20, tzinfo=CST))  # +3 days < deadline
    assert "请于 2025年6月23日 23:59（北京时间，即申报截止时间）前完成补正" in text
    assert "已在截止前报送的单位" not in text
    late_notice = datetime(2025, 6, 24, 9, tzinfo=CST)
    _, text, html = _rendered(seal="none", now=late_notice)
    for part in (text, html):
        assert "申报截止时间为 2025年6月23日 23:59（北京时间）；贵单位的补正期限为 2025年6月27日 09:00（北京时间）" in part
    _, msg = make([Finding("late", "error", "已超过截止时间", "申报时间")])
    assert "截止时间（2025年6月23日 23:59，北京时间）" in body(msg)


def test_one_name_for_the_stamped_pdf_and_no_doubled_places():
    """盖章 PDF 版 everywhere (never PDF 盖章版); a warning's place is not written twice."""
    from dataclasses import replace

    from pipeline.samples.apps import section, sample_applications

    _, text, html = _rendered(replace(sample_applications()[0], indicators=section("组建队伍，开展活动。")), seal="none")
    assert "PDF 盖章版" not in text and "PDF 盖章版" not in html and "【盖章 PDF 版】" not in text
    assert "五、考核指标：五、考核指标" not in text and "  - 五、考核指标中没有数字" in text
    assert "不影响受理" not in text and "仅为建议，不属于补正要求" in html
    _, text, _ = _rendered(replace(sample_applications()[0], indicators=section("组建队伍，开展活动。")))
    assert "\n\n\n" not in text and "以下几点不影响受理" in text


def test_the_html_part_lists_the_files_under_the_same_caption_as_the_text():
    _, text, html = _rendered(seal="none")
    assert "目前已收到的文件：" in text and "<p>目前已收到的文件：</p>" in html
    _, text, html = _rendered()
    assert "收到的文件：" in text and "<p>收到的文件：</p>" in html


def test_a_cloud_link_notice_spaces_word_like_every_other_text():
    from pipeline.mime import LINK_ONLY_FILES, LINK_ONLY_MESSAGE

    for files in LINK_ONLY_FILES.values():
        message = LINK_ONLY_MESSAGE.format(files=files)
        assert "将Word" not in message and "将 盖章" not in message


@pytest.mark.parametrize("code", ["archive_unreadable", "attachment_too_large"])
def test_a_locked_archive_that_held_the_pdf_asks_for_the_pdf_only(code):
    """The Word came as a plain attachment: only the PDF, lost in the archive, is to be sent."""
    lost = Finding(code, "warning", "压缩包“盖章.7z”有密码，无法打开。请发送未加密的文件。", "邮件附件（压缩包）")
    reply, text, html = _rendered(pdf=False, mail_problems=(lost,))
    assert reply.kind == "correction" and "盖章.7z" in text
    for part in (text, html):
        assert "请将盖章 PDF 版发送至本邮箱（kpzx350@163.com）；已收到的 Word 版申报书无需重复发送" in part
        assert "一并重新发送" not in part


def threading_headers(in_reply_to: str, references: tuple[str, ...]):
    """In-Reply-To and References of the reply as run.py writes it to the wire."""
    from pipeline.replies import WIRE_POLICY

    reply, _ = make([])
    reply = dataclasses.replace(reply, in_reply_to=in_reply_to, references=references)
    wire = build_message(reply, SENDER, NOW).as_bytes(policy=WIRE_POLICY)
    msg = email.message_from_bytes(wire, policy=policy.compat32)
    assert all("=?" not in (msg[h] or "") for h in ("In-Reply-To", "References"))
    return msg["In-Reply-To"], msg["References"]


@pytest.mark.parametrize("bad", ["<20250620.申报@红旗区.gov.cn>", "<" + "a" * 950 + "@x.cn>", "<a b@x.cn>", "a@x.cn",
                                 "<0123abcd@intake.invalid>"], ids=["8bit", "overlong", "space", "no-brackets", "synthetic"])
def test_only_usable_message_ids_thread_the_reply(bad):
    """An 8-bit, overlong, spaced or synthetic id would be encoded-word garbage or point nowhere: left out."""
    in_reply_to, references = threading_headers(bad, ("<earlier@qq.com>", bad))
    assert in_reply_to is None
    assert references.split() == ["<earlier@qq.com>"]
    in_reply_to, references = threading_headers("<orig@qq.com>", (bad, "<orig@qq.com>"))
    assert in_reply_to == "<orig@qq.com>" and references.split() == ["<orig@qq.com>"]


def test_long_message_ids_are_written_verbatim():
    """Outlook and Exchange ids run past 78 characters; the email package would encode them."""
    long_id = "<SEZPR06MB6789" + "A1B2C3D4" * 12 + "@SEZPR06MB6789.apcprd06.prod.outlook.com>"
    in_reply_to, references = threading_headers(long_id, ("<earlier@qq.com>", long_id))
    assert in_reply_to == long_id
    assert references.split() == ["<earlier@qq.com>", long_id]


def test_no_threading_headers_without_a_usable_id():
    assert threading_headers("<x@intake.invalid>", ("<x@intake.invalid>",)) == (None, None)


# -- what each letter says about times, pictures, staff decisions and whom it greets ----------

def _letter(findings=(), *, now=NOW, files=None, **kw):
    """A reply from a hand-made input: `kw` overrides ReplyInput fields."""
    base = dict(
        verdict=judge("a@qq.com", tuple(findings)),
        to="a@qq.com",
        sender_name="李晓燕",
        unit="新乡市红旗区科学技术协会",
        pilot_type="县级科协试点",
        receipt_no="2025-KJZY-007",
        files=(Document("0" * 64, "申报书.docx", "docx", 20480, NOW, "m"),) if files is None else files,
        received_at=NOW,
        in_reply_to="<orig@qq.com>",
        references=(),
    )
    reply = render_reply(ReplyInput(**{**base, **kw}), load_rules(RULES).call, SENDER, environment(), now)
    return reply, reply.text, reply.html


NOTHING = (Finding("missing_word", "error", "未收到 Word 版申报书（.docx）。", "Word 版申报书"),
           Finding("missing_pdf", "error", "未收到盖章 PDF 版。", "盖章 PDF 版"))


def _at(day, hour, minute=0):
    return datetime(2025, 6, day, hour, minute, tzinfo=CST)


def test_a_question_after_the_deadline_does_not_tell_a_unit_in_its_window_it_is_refused():
    """The director of a unit with a 补正通知 asks from another address after the deadline."""
    reply, text, html = _letter(NOTHING, files=(), opens_window=False, unit="", now=_at(24, 9, 5), received_at=_at(24, 9))
    assert reply.kind == "question"
    for part in (text, html):
        assert "截止后收到的申报材料不予受理" not in part
        assert "截止后首次报送的材料不予受理" in part
        assert "已收到补正通知的单位，请在补正通知写明的补正期限内发送补正材料" in part


def test_a_question_with_a_screenshot_is_not_told_the_mail_had_no_attachment():
    reply, text, html = _letter(NOTHING, files=(), opens_window=False, unit="", pictures=1)
    assert reply.kind == "question"
    for part in (text, html):
        assert "邮件中没有附件" not in part
        assert "来信所附的 1 张图片已转工作人员查看" in part
        assert "邮件中没有申报材料（Word 版申报书和盖章 PDF 版）" in part
    _, text, _ = _letter(NOTHING, files=(), opens_window=False, unit="")
    assert "邮件中没有附件" in text and "图片" not in text


def test_a_later_correction_notice_dates_the_mail_it_answers():
    """The first mail came on 6/22; the corrected files on 6/23 16:00: the notice answers those."""
    corrected = tuple(Document(c * 64, n, k, 20480, _at(23, 16), "m2")
                      for c, n, k in (("1", "申报书.docx", "docx"), ("2", "盖章版.pdf", "pdf")))
    stamp = Finding("missing_stamp", "error", "盖章 PDF 版中未发现单位红色公章。", "八、申报单位意见（公章）")
    reply, text, html = _letter([stamp], files=corrected, received_at=_at(22, 9), first_received_at=_at(22, 9),
                                complete_at=_at(22, 9), mail_received_at=_at(23, 16), now=_at(23, 16, 5))
    assert reply.kind == "correction"
    for part in (text, html):
        assert "2025年6月22日 09:00" not in part
        assert "贵单位于 2025年6月23日 16:00 报送的“新乡市科技志愿服务试点建设”申报材料已收到" in part
    # Files from two mails: the notice names the latest mail, and the list below says which file came when.
    split = (Document("1" * 64, "申报书.docx", "docx", 20480, _at(21, 9), "m1"),
             Document("2" * 64, "盖章版.pdf", "pdf", 20480, _at(22, 15), "m2"))
    _, text, _ = _letter([stamp], files=split, received_at=_at(22, 15), mail_received_at=_at(22, 15))
    assert "申报材料已收到（最近一封邮件于 2025年6月22日 15:00 收到）" in text
    assert "目前已收到的文件：" in text and "本次已收到的文件" not in text


def test_a_receipt_names_the_first_submission_and_the_day_the_files_were_complete():
    word = Document("1" * 64, "申报书.docx", "docx", 20480, _at(23, 20), "m1")
    pdf = Document("2" * 64, "盖章版.pdf", "pdf", 20480, _at(25, 15), "m2")
    reply, text, html = _letter(files=(word, pdf), received_at=_at(25, 15), first_received_at=_at(23, 20),
                                complete_at=_at(25, 15), mail_received_at=_at(25, 15), now=_at(25, 15, 5))
    assert reply.kind == "receipt"
    for part in (text, html):
        assert "收到时间：" not in part
        assert "首次报送：2025年6月23日 20:00" in part and "材料报齐：2025年6月25日 15:00" in part
    # Corrected and resent: the first pair was complete on 6/22, the files the receipt is for came on 6/25.
    new = tuple(dataclasses.replace(d, received_at=_at(25, 9)) for d in (word, pdf))
    _, text, _ = _letter(files=new, received_at=_at(22, 10), first_received_at=_at(22, 10), complete_at=_at(22, 10))
    assert "首次报送：2025年6月22日 10:00" in text and "最近一次报送：2025年6月25日 09:00" in text
    assert "材料报齐" not in text and "收到时间：" not in text
    # One mail with both files: one time, as before.
    _, text, _ = _letter(first_received_at=NOW, complete_at=NOW)
    assert "收到时间：2025年6月21日 12:00" in text and "首次报送" not in text


def test_a_staff_acceptance_of_unread_files_prints_no_placeholders():
    """Staff downloaded a cloud link's files themselves and accepted the unit (`decide … accept --reply`)."""
    reply, text, html = _letter(files=(), unit="", pilot_type="", staff_decision=True, form_read=False,
                                sender_name="长垣市科协")
    assert reply.kind == "receipt"
    for part in (text, html):
        assert "未能识别" not in part and "未勾选" not in part and "收到的文件" not in part
        assert "申报单位：" not in part and "试点类型：" not in part
        assert "材料齐全" not in part and "格式符合要求" not in part
    assert "经审核，现予受理。" in text and "经审核，现予<strong>受理</strong>。" in html
    assert "\n\n\n" not in text
    # A PDF-only unit: no Word form was read, so nothing is known about the ticked type.
    pdf = Document("2" * 64, "盖章版.pdf", "pdf", 20480, NOW, "m")
    _, text, _ = _letter(files=(pdf,), pilot_type="", staff_decision=True, form_read=False)
    assert "试点类型" not in text and "  1. 盖章版.pdf" in text
    # A Word form read with nothing ticked: that is worth saying.
    _, text, _ = _letter(pilot_type="", staff_decision=True, form_read=True)
    assert "试点类型：（未勾选）" in text


def test_a_file_listed_in_place_of_the_missing_one_is_no_word_form():
    """A 0-byte "盖章版.pdf" is listed (it stands where the PDF should be) but is neither file: taken for
    the Word form, a staff-decided receipt said 试点类型：（未勾选） of a form never read."""
    empty = Document("3" * 64, "盖章版.pdf", "other", 0, NOW, "m")
    _, text, _ = _letter(files=(empty,), unit="", pilot_type="", staff_decision=True)
    assert "试点类型" not in text and "  1. 盖章版.pdf" in text


def test_a_receipt_with_notes_does_not_claim_every_format_is_right():
    note = Finding("pdf_not_a4", "warning", "PDF 第 1 页的页面大小为 216×279 mm，不是 A4。", "盖章 PDF 版")
    _, text, html = _letter([note])
    for part in (text, html):
        assert "格式符合要求" not in part and "经初步审核，材料齐全，现予" in part
    _, text, _ = _letter()
    assert "经初步审核，材料齐全、格式符合要求，现予受理" in text


@pytest.mark.parametrize("name", ["Administrator", "admin", "user", "zhangwei@163.com", "Zhang Wei", "管理员", "用户",
                                  "办公室", "  "])
def test_a_generic_or_latin_display_name_is_not_used_as_a_greeting(name):
    _, text, html = _letter([Finding("missing_word", "error", "未收到 Word 版申报书", "Word 版申报书")],
                            unit="", sender_name=name)
    assert text.startswith("您好！")  # no "Administrator：" line above it
    assert "<p>您好！</p>" in html and f"<p>{name.strip()}：</p>" not in html


@pytest.mark.parametrize("name", ["李晓燕", "长垣市科协", "王老师 (wang)"])
def test_a_chinese_display_name_is_kept_as_the_greeting(name):
    _, text, _ = _letter([Finding("missing_word", "error", "未收到 Word 版申报书", "Word 版申报书")], unit="", sender_name=name)
    assert text.startswith(f"{name}：\n\n您好！")


def test_a_late_notice_says_which_file_came_when():
    """Word on time at 23:40, the stamped PDF after midnight: the notice must not say "材料于 00:05 收到"."""
    word = Document("1" * 64, "申报书.docx", "docx", 20480, _at(23, 23, 40), "m1")
    pdf = Document("2" * 64, "盖章版.pdf", "pdf", 20480, _at(24, 0, 5), "m2")
    late = Finding("late", "error", "已超过截止时间", "申报时间")
    reply, text, html = _letter([late], files=(word, pdf), received_at=_at(24, 0, 5), now=_at(24, 0, 10))
    assert reply.kind == "late"
    for part in (text, html):
        assert "申报材料于 2025年6月24日 00:05 收到" not in part
        assert "Word 版申报书于 2025年6月23日 23:40 收到、盖章 PDF 版于 2025年6月24日 00:05 收到" in part
        assert "材料报齐时已超过通知规定的截止时间（2025年6月23日 23:59，北京时间）" in part


def test_problems_are_numbered_through_and_placed_before_the_full_stop():
    """1. … 1. … 1. restarted under every heading; "（位置：…）" came after the sentence; the heading was repeated."""
    errors = [
        Finding("pilot_type_invalid", "error", "封面“试点类型”未勾选。请勾选一项。", "封面 / 试点类型"),
        Finding("unit_mismatch", "error", "盖章 PDF 版写的申报单位是“甲”，而 Word 版是“乙”，两份文件不是同一份申报书。"
                "请发送同一份申报书的 Word 版和盖章 PDF 版。", "一、申报单位基本情况 / 单位名称"),
        Finding("field_missing", "error", "一、申报单位基本情况中的“单位地址”未填写。请补充填写。", "一、申报单位基本情况 / 单位地址"),
        Finding("budget_over_limit", "error", "七、经费支出预算表：合计 5,000.00 元，超过上限 4,000 元，请调整。",
                "七、经费支出预算表 / 合计"),
    ]
    _, text, html = _letter(errors)
    assert "【封面】\n  1. “试点类型”未勾选。" in text
    assert ("  2. 盖章 PDF 版写的申报单位是“甲”，而 Word 版是“乙”，两份文件不是同一份申报书"
            "（位置：一、申报单位基本情况中的“单位名称”）。请发送同一份申报书的 Word 版和盖章 PDF 版。\n") in text
    assert "  3. “单位地址”未填写。请补充填写。\n" in text
    assert "【七、经费支出预算表】\n  4. 合计 5,000.00 元，超过上限 4,000 元，请调整。\n" in text
    assert "。（位置：" not in text and " / " not in text
    assert '<ol start="4">' in html and "<li>合计 5,000.00 元" in html and "中的“单位名称”）。请发送" in html


def test_a_budget_line_without_a_name_is_not_quoted_empty():
    from dataclasses import replace
    from decimal import Decimal

    from pipeline.samples.apps import item, sample_applications

    app = replace(sample_applications()[0], budget_items=(item("1", "资料印制", "1200", ""), item("2", "", "按实际发生", "培训"),
                                                          item("3", "站点标识", "800", "")),
                  budget_total=Decimal("2000"), budget_total_text="2000")
    reply, text, _ = _rendered(app)
    assert reply.kind == "correction" and "按实际发生" in text
    assert "“”" not in text and "第 2 行的金额“按实际发生”无法识别为数字" in text


def test_file_problems_say_what_to_send_in_the_same_terms():
    """Archives end with what to do; the PDF that cannot be opened gets no slash-separated guesses;
    a cloud link is the unit's mail (贵单位, as the rest of the letter); a size is not rounded to the limit."""
    import hashlib
    import io
    import zipfile

    from pipeline.archives import Limits, expand
    from pipeline.forms import pdf as pdf_form
    from pipeline.mime import LINK_ONLY_MESSAGE
    from pipeline.models import Attachment
    from pipeline.run import NOT_DOCX, _mail_too_large

    def zip_att(data, name="申报材料.zip"):
        return Attachment(name, "zip", data, hashlib.sha256(data).hexdigest())

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.txt", "x")
    _, problems = expand(zip_att(buf.getvalue()), Limits(max_members=2))
    [p] = problems
    assert "未解压" not in p.message and "未能解压" in p.message
    assert p.message.endswith("请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")
    _, problems = expand(zip_att(b"PK\x03\x04" + b"\x00" * 60))
    assert all("Word 版申报书和盖章 PDF 版" in p.message for p in problems) and problems
    assert "/" not in pdf_form._GENERIC and pdf_form._GENERIC.startswith("盖章 PDF 版无法打开")
    assert "贵单位的邮件" in LINK_ONLY_MESSAGE and "您" not in LINK_ONLY_MESSAGE
    assert NOT_DOCX.message.startswith("Word 版申报书不是")
    assert _mail_too_large((b"A" * 76 + b"\r\n") * (int(60.4 * 1048576) // 78), 60).message.startswith("邮件附件合计约 44 MB，")


@pytest.mark.parametrize("until, expected", [
    (_at(23, 23, 59), "已超过补正期限（2025年6月23日 23:59，北京时间，即申报截止时间）。"),
    (_at(24, 16, 45), "已超过补正期限（2025年6月24日 16:45，北京时间；申报截止时间为 2025年6月23日 23:59）。"),
], ids=["window-is-the-deadline", "window-past-the-deadline"])
def test_a_late_correction_names_the_deadline_once_when_the_window_ended_with_it(until, expected):
    """A 补正通知 sent over 3 days before the deadline gives the deadline as its 补正期限; the late
    letter then read "补正期限（6月23日 23:59…；申报截止时间为 6月23日 23:59）", the same time twice."""
    late = Finding("late", "error", "已超过截止时间", "申报时间")
    _, text, html = _letter([late], received_at=_at(25, 10), correction_until=until, now=_at(25, 10, 5))
    assert expected in text
    assert expected in html.replace("<strong>", "").replace("</strong>", "")


@pytest.mark.parametrize("mark", ["\u202e", "\u202d", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u200b", "\ufeff"])
def test_bidi_and_zero_width_marks_never_reach_a_reply(mark):
    """A unit name with U+202E turned the rest of the subject around (科协‮fdp.exe reads 科协exe.pdf)."""
    from pipeline.replies import one_line

    reply, msg = make([Finding("text_near_limit", "warning", "字数接近上限", "三、工作基础")], unit=f"新乡市红旗区{mark}科协",
                      sender_name=f"张{mark}三")
    assert "新乡市红旗区科协" in msg["Subject"] and mark not in msg["Subject"]
    assert mark not in body(msg) and "申报单位：新乡市红旗区科协" in body(msg)
    assert one_line(f"a{mark}b\x85c") == "ab c"
