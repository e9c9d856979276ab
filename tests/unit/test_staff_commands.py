"""What staff type after a run: decide, answered, replies and replies resend (jobs and the CLI).

One register is judged once per module and copied for each test: two units whose contacts are
both 张伟, an office mailbox that sent two units' forms, and a 张伟 who only asked.
"""
from __future__ import annotations

import dataclasses
import shutil
import unicodedata
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from mail_corpus import OWN
from pipeline_harness import ON_TIME, Pipeline
from pipeline.cli import main
from pipeline.config import default_config
from pipeline.errors import IntakeError
from pipeline.store import Store

MUYE, WEIBIN = "新乡市牧野区科学技术协会", "新乡市卫滨区科学技术协会"
OLD, YOUNG = "新乡市红旗区老科技工作者协会", "新乡市红旗区青少年科技教育协会"
SENDERS = [(MUYE, "张伟 <zhangwei@163.com>"), (WEIBIN, "张伟 <zhangwei_wb@126.com>"),
           (OLD, "办公室 <hqkx_office@163.com>"), (YOUNG, "办公室 <hqkx_office@163.com>")]


def form_mail(sender: str, files: list[tuple[str, bytes]], when, subject: str = "试点申报材料") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Date"] = sender, OWN, subject, format_datetime(when)
    msg.set_content("附件为申报材料。" if files else "请问试点申报经费上限是多少？")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


@pytest.fixture(scope="module")
def unit_mails():
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx
    from pipeline.samples.pdfs import build_form_pdf

    base = sample_applications()[0]
    mails = []
    for i, (unit, sender) in enumerate(SENDERS):
        app = dataclasses.replace(base, unit_name=unit, cover_unit=unit, account_name=unit)
        files = [(f"{unit}.docx", build_form_docx(app)), (f"{unit}.pdf", build_form_pdf(app))]
        mails.append((form_mail(sender, files, ON_TIME + timedelta(minutes=i)), ON_TIME + timedelta(minutes=i)))
    return mails


@pytest.fixture(scope="module")
def judged(tmp_path_factory, unit_mails):
    root = tmp_path_factory.mktemp("register") / "data"
    p = Pipeline(root)
    for data, when in unit_mails:
        p.feed(data, when)
    p.feed(form_mail("张伟 <zhangwei.q@qq.com>", [], ON_TIME + timedelta(hours=1), "试点申报咨询"), ON_TIME + timedelta(hours=1))
    p.judge()
    numbers = {r["unit"]: r["receipt_no"] for r in p.rows("SELECT unit, receipt_no FROM applicants")}
    p.close()
    assert numbers[MUYE] == "2025-KJZY-001" and numbers[WEIBIN] == "2025-KJZY-002"
    assert {numbers[OLD], numbers[YOUNG]} == {"2025-KJZY-003", "2025-KJZY-004"}
    return root


@pytest.fixture
def cfg(tmp_path, judged, monkeypatch):
    """The config of a fresh copy of the register; the same as a file (`conf`) for the CLI."""
    monkeypatch.delenv("INTAKE_STORAGE_DIR", raising=False)
    shutil.copytree(judged, tmp_path / "data")
    (tmp_path / "intake.toml").write_text('[storage]\ndir = "data"\n', encoding="utf-8")
    return default_config(tmp_path / "data")


@pytest.fixture
def conf(cfg, tmp_path):
    return str(tmp_path / "intake.toml")


def rows(cfg, sql, params=()):
    store = Store.open(cfg.db_path)
    try:
        return store.rows(sql, params)
    finally:
        store.close()


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# -- decide: which unit -------------------------------------------------------------


def test_decide_on_an_address_that_sent_for_two_units_changes_neither_and_lists_both(cfg):
    """`decide hqkx_office@163.com accept` silently changed one of the two (ORDER BY key LIMIT 1)."""
    from pipeline.jobs import decide

    with pytest.raises(IntakeError) as refused:
        decide(cfg, "hqkx_office@163.com", "accepted")
    assert "2025-KJZY-003" in str(refused.value) and "2025-KJZY-004" in str(refused.value)
    assert OLD in str(refused.value) and YOUNG in str(refused.value)
    assert rows(cfg, "SELECT * FROM decisions") == []


def test_a_name_two_senders_share_is_ambiguous_not_unknown(cfg):
    """`decide 张伟` said 找不到 (suggesting a typo) though two units' contacts are called so."""
    from pipeline.jobs import answered, decide

    with pytest.raises(IntakeError) as refused:
        decide(cfg, "张伟", "accepted")
    text = str(refused.value)
    assert "找不到" not in text and "2025-KJZY-001" in text and "zhangwei_wb@126.com" in text
    assert "zhangwei.q@qq.com" not in text  # who only asked cannot be decided on: not a candidate
    with pytest.raises(IntakeError, match="zhangwei.q@qq.com"):
        answered(cfg, "张伟")  # …but may be the one whose question was answered
    assert answered(cfg, "张伟 <zhangwei.q@qq.com>", by="赵津") == (1, "zhangwei.q@qq.com（仅来信咨询）")


def test_answered_closes_what_an_office_that_sent_for_two_units_wrote_since(cfg, conf, capsys):
    """`answered hqkx_office@163.com` after the office (which sent for two units) asked something was
    refused as ambiguous, though its own mail is all there is to close (QA round 11)."""
    from pipeline.jobs import answered

    p = Pipeline(cfg.storage_dir)
    p.feed(form_mail("办公室 <hqkx_office@163.com>", [], ON_TIME + timedelta(hours=2), "请问材料收到了吗"), ON_TIME + timedelta(hours=2))
    p.judge()
    p.close()
    open_mail = "SELECT sha256 FROM mails WHERE sender='hqkx_office@163.com' AND category='other' AND answered_at IS NULL"
    assert len(rows(cfg, open_mail)) == 1
    code, out, err = run_cli(capsys, "answered", "--config", conf, "hqkx_office@163.com", "--by", "赵津")
    assert code == 0, err
    assert out.strip() == "已标记为已处理：hqkx_office@163.com，咨询或待人工查看的邮件 1 封"
    assert rows(cfg, open_mail) == []
    assert answered(cfg, "hqkx_office@163.com") == (0, "hqkx_office@163.com")  # nothing left: not ambiguous either
    # One unit's contact (another address) also left a mail: whether staff mean that unit is a real question.
    store = Store.open(cfg.db_path)
    old = store.one("SELECT key FROM applicants WHERE unit=?", (OLD,))["key"]
    with store.transaction():
        store.db["mails"].insert({"sha256": "l1", "sender": "li@hq.cn", "applicant": old, "category": "application"})
        store.db["mails"].insert({"sha256": "l2", "sender": "li@hq.cn", "category": "other"})
        store.db["mails"].insert({"sha256": "o3", "sender": "hqkx_office@163.com", "category": "other"})
    store.close()
    with pytest.raises(IntakeError, match="2025-KJZY-00[34].*2025-KJZY-00[34]"):
        answered(cfg, "hqkx_office@163.com")


@pytest.mark.parametrize("ref", ["卫滨区科协", "２０２５－ＫＪＺＹ－００２", "kjzy-002", "002"])
def test_decide_says_which_unit_and_number_it_changed(conf, ref, capsys):
    """The confirmation echoed what staff typed (已记录改判：002 → 受理), not the unit changed."""
    code, out, err = run_cli(capsys, "decide", "--config", conf, ref, "needs-correction", "--note", "请补充经费测算依据")
    assert code == 0, err
    assert out.strip() == f"已记录改判：{WEIBIN}（2025-KJZY-002） → 需补正"


def test_an_unknown_receipt_number_is_told_its_form(cfg):
    from pipeline.jobs import decide

    with pytest.raises(IntakeError, match="受理编号形如 2025-KJZY-001"):
        decide(cfg, "2026-KJZY-002", "accepted")


# -- decide twice ------------------------------------------------------------------


def test_the_same_decision_again_sends_no_second_letter(cfg):
    """`decide … accept --reply` run twice (staff unsure whether it worked) sent two receipts."""
    from pipeline.jobs import decide

    first = decide(cfg, "zhangwei_wb@126.com", "accepted", reply=True)
    again = decide(cfg, "zhangwei_wb@126.com", "accepted", reply=True)
    letters = rows(cfg, "SELECT * FROM outbox WHERE trigger_mail LIKE 'decision:%'")
    assert len(letters) == 1 and len(rows(cfg, "SELECT * FROM decisions")) == 1
    assert first.unchanged == "" and first.label == f"{WEIBIN}（2025-KJZY-002）"
    assert "未重复" in again.unchanged
    store = Store.open(cfg.db_path)
    store.set_reply_state(letters[0]["id"], "sent")
    store.close()
    third = decide(cfg, "002", "accepted", reply=True)
    assert "受理回执已于" in third.unchanged and "zhangwei_wb@126.com" in third.unchanged
    # A changed mind is not a repeat: the correction goes out.
    assert decide(cfg, "002", "needs_correction", note="请补充经费测算依据", reply=True).unchanged == ""
    assert len(rows(cfg, "SELECT * FROM outbox WHERE trigger_mail LIKE 'decision:%'")) == 2


# -- resend ------------------------------------------------------------------------


def test_an_outdated_letter_is_resent_only_on_purpose_and_says_to_whom(cfg):
    """After accept → needs-correction, `resend <the receipt>` sent the outdated receipt without a
    word, and printed only 已重发（新编号 N）."""
    from pipeline.jobs import decide, resend

    decide(cfg, "002", "accepted", reply=True)
    receipt = rows(cfg, "SELECT id FROM outbox WHERE trigger_mail LIKE 'decision:%'")[0]["id"]
    decide(cfg, "002", "needs_correction", note="请补充经费测算依据", reply=True)
    before = len(rows(cfg, "SELECT id FROM outbox"))
    with pytest.raises(IntakeError) as refused:
        resend(cfg, receipt)
    assert "受理回执" in str(refused.value) and "需补正" in str(refused.value) and "--force" in str(refused.value)
    assert len(rows(cfg, "SELECT id FROM outbox")) == before
    done = resend(cfg, receipt, force=True)
    assert (done.what, done.to, done.label) == ("受理回执", "zhangwei_wb@126.com", f"{WEIBIN}（2025-KJZY-002）")


def test_resend_to_a_mistyped_address_changes_nothing(cfg, conf, capsys):
    """`--to "x@126.com。"` (from a chat): a traceback, the reply stuck 发送中, the unit's address
    changed to the bad one so its next reply crashed too."""
    reply = rows(cfg, "SELECT id FROM outbox WHERE to_addr='zhangwei_wb@126.com'")[0]["id"]
    before = rows(cfg, "SELECT id, state, to_addr FROM outbox")
    code, out, err = run_cli(capsys, "replies", "--config", conf, "resend", str(reply), "--to", "zhangwei_wb@126.com。")
    assert code == 1 and "“zhangwei_wb@126.com。”" in err and "Traceback" not in err
    assert rows(cfg, "SELECT id, state, to_addr FROM outbox") == before
    assert rows(cfg, "SELECT sender FROM applicants WHERE unit=?", (WEIBIN,)) == [{"sender": "zhangwei_wb@126.com"}]


# -- the listing and the run's line ------------------------------------------------


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_the_replies_listing_has_a_header_and_columns_that_line_up(cfg, conf, capsys):
    """No header, and the state column drifted: str.ljust counts 不确定是否送达 as 7 columns, not 14."""
    store = Store.open(cfg.db_path)
    replies = store.outbox()
    store.set_reply_state(replies[0]["id"], "uncertain", "发送中断")
    store.close()
    code, out, err = run_cli(capsys, "replies", "--config", conf)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["编号", "状态", "收件人", "主题（说明）"]
    columns = {width(line[: line.index(r["to_addr"])]) for line, r in zip(lines[1:], replies, strict=True)}
    assert columns == {width(lines[0][: lines[0].index("收件人")])}  # every recipient begins under 收件人


def test_the_runs_line_tells_replies_queued_from_replies_held(tmp_path, unit_mails, capsys):
    """`生成回复 8 封` counted the 3 replies the per-address daily limit held back."""
    from pipeline.cli import _report

    p = Pipeline(tmp_path)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, replies=dataclasses.replace(p.runner.cfg.replies, max_per_address_per_day=1))
    for data, when in unit_mails[2:]:  # the office's two units: one answer today, the other held
        p.feed(data, when)
    p.judge()
    stats = p.runner.stats
    p.close()
    assert (stats.replies_queued, stats.replies_held) == (1, 1)
    _report(stats, dry_run=False)
    line = capsys.readouterr().out
    assert "生成回复 1 封" in line and "另有 1 封暂缓" in line


def test_who_answered_is_written_without_a_stray_space():
    """咨询已由赵津 于 … : no space between a Chinese name and 于."""
    from pipeline.summary import _closed_by

    assert _closed_by({"answered_by": "赵津", "answered_at": "2025-06-20T02:00:00+00:00"}) == "赵津于 2025-06-20 10:00"


def test_resend_while_the_server_is_down_queues_one_copy_and_says_so(cfg, monkeypatch):
    """Each `resend` tried while SMTP was down printed only the error and queued another copy: the
    unit later got the same letter as many times as staff had tried (QA round 11)."""
    import socket

    from pipeline.config import SmtpConfig
    from pipeline.jobs import resend

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TEST_SMTP_CODE", "x")
    down = dataclasses.replace(cfg, smtp=SmtpConfig("127.0.0.1", port, OWN, "TEST_SMTP_CODE", f"科普中心 <{OWN}>", ssl=False, timeout=5))
    reply = rows(cfg, "SELECT id FROM outbox WHERE to_addr='zhangwei_wb@126.com'")[0]["id"]
    messages = []
    for _ in range(2):
        with pytest.raises(IntakeError) as failed:
            resend(down, reply)
        messages.append(str(failed.value))
    copies = rows(cfg, "SELECT id, state FROM outbox WHERE trigger_mail LIKE ?", (f"resend:{reply}:%",))
    assert len(copies) == 1 and copies[0]["state"] == "rendered"
    assert all(f"已排队（新编号 {copies[0]['id']}）" in m and "不必再次重发" in m for m in messages)
