"""Every corpus mail through the real pipeline (store, files, rules, replies).

Asserts what a staff member would see: the files found (names, kinds,
hashes), how the mail was classified, the problems recorded, and who gets a
reply. The mails come from the committed generator in mail_corpus.py.
"""
from __future__ import annotations

import dataclasses
import email
import hashlib
import json
import io
import subprocess
import sysconfig
import zipfile
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from mail_corpus import CASES, OWN
from pipeline_harness import ON_TIME, Pipeline
from pipeline.convert import soffice
from pipeline.samples.apps import sample_applications
from pipeline.samples.forms import build_form_docx
from pipeline.samples.pdfs import build_form_pdf

CST = timezone(timedelta(hours=8))


@pytest.fixture
def pipe(tmp_path):
    p = Pipeline(tmp_path)
    yield p
    p.close()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_through_the_pipeline(pipe, case):
    category = pipe.feed(case.data())
    pipe.judge()
    mail = pipe.rows("SELECT * FROM mails")[0]
    files = {(r["filename"], r["kind"], r["sha256"]) for r in pipe.rows("SELECT * FROM files")}
    assert files == set(case.attachments)
    replies = pipe.rows("SELECT * FROM outbox")
    if case.no_reply:
        assert category == "no_reply" and mail["no_reply_reason"]
        assert replies == [] and pipe.rows("SELECT * FROM applicants") == []
        return
    if case.attachments and any(k in ("docx", "pdf") for _, k, _ in case.attachments):
        assert category == "application"
    if "attachment_link_only" in case.codes:
        assert category == "application"
        assert case.expect["links"][0] in mail["links"]
        applicant = pipe.rows("SELECT * FROM applicants")[0]
        assert "attachment_link_only" in applicant["findings"]
        assert replies and replies[0]["kind"] == "correction"
    if category == "application":
        assert len(replies) == 1 and replies[0]["state"] == "rendered"
    for path in pipe.rows("SELECT path FROM files"):
        assert Path(path["path"]).resolve().is_relative_to(pipe.runner.files.root.resolve())


def cpython_email_data() -> list[Path]:
    folder = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    return sorted(folder.glob("msg_*.txt")) if folder.is_dir() else []


@pytest.mark.skipif(not cpython_email_data(), reason="this Python ships without its email test data")
def test_cpython_email_test_data_never_crashes_the_run(pipe):
    paths = cpython_email_data()
    for path in paths:
        pipe.feed(path.read_bytes())
    pipe.judge()
    assert len(pipe.rows("SELECT sha256 FROM mails")) == len({hashlib.sha256(p.read_bytes()).digest() for p in paths})


# -- real forms, as applicants send them ----------------------------------------


def form_mail(sender: str, files: list[tuple[str, bytes]], when: datetime = ON_TIME, subject: str = "试点申报材料") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = OWN
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg.set_content("附件为申报材料。")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


@pytest.fixture(scope="module")
def forms():
    apps = sample_applications()
    return [(a, build_form_docx(a), build_form_pdf(a)) for a in apps[:2]]


def reply_text(outbox_row) -> str:
    """The plain-text body of a queued reply."""
    msg = email.message_from_bytes(Path(outbox_row["eml_path"]).read_bytes(), policy=policy.default)
    return msg.get_body(("plain",)).get_content()


def status_of(pipe) -> dict[str, str]:
    return {r["unit"]: r["status"] for r in pipe.rows("SELECT unit, status FROM applicants")}


def gbk_zip(members: dict[str, bytes]) -> bytes:
    """ZIP as Windows' zipper writes it: GBK names without the UTF-8 flag."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (name, data) in enumerate(members.items()):
            zf.writestr(zipfile.ZipInfo(f"{i:0{len(name.encode('gbk'))}d}"), data)
    raw = buf.getvalue()
    for i, name in enumerate(members):
        raw = raw.replace(f"{i:0{len(name.encode('gbk'))}d}".encode(), name.encode("gbk"))
    return raw


def test_zip_with_gbk_names_is_an_application(pipe, forms):
    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("申报材料.zip", gbk_zip({f"{app.unit}申报书.docx": docx, "盖章版.pdf": pdf}))]))
    pipe.judge()
    names = {r["filename"] for r in pipe.rows("SELECT filename FROM files WHERE role IN ('word','pdf')")}
    assert names == {f"{app.unit}申报书.docx", "盖章版.pdf"}
    assert status_of(pipe) == {app.unit: "accepted"}


@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
@pytest.mark.parametrize("fmt, magic", [("doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), ("odt", b"PK\x03\x04")])
def test_legacy_and_opendocument_forms_are_converted(pipe, forms, tmp_path, fmt, magic):
    app, docx, pdf = forms[0]
    (tmp_path / "in.docx").write_bytes(docx)
    subprocess.run(
        [soffice(), f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless", "--convert-to", fmt, "--outdir", str(tmp_path), str(tmp_path / "in.docx")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    doc = (tmp_path / f"in.{fmt}").read_bytes()
    assert doc[: len(magic)] == magic
    pipe.feed(form_mail("a@qq.com", [(f"申报书.{fmt}", doc), ("盖章版.pdf", pdf)]))
    pipe.judge()
    assert status_of(pipe) == {app.unit: "accepted"}
    kinds = {r["kind"] for r in pipe.rows("SELECT kind FROM files")}
    assert fmt in kinds and "zip" not in kinds  # the original is what is kept, not unpacked


def test_same_unit_from_two_addresses_is_one_applicant(pipe, forms):
    app, docx, pdf = forms[0]
    pipe.feed(form_mail("office@qq.com", [("申报书.docx", docx)]))
    later = ON_TIME + timedelta(minutes=40)
    pipe.feed(form_mail("leader@163.com", [("盖章版.pdf", pdf)], later), later)
    pipe.judge()
    rows = pipe.rows("SELECT * FROM applicants")
    assert len(rows) == 1 and rows[0]["status"] == "accepted"
    assert rows[0]["sender"] == "leader@163.com"  # replies go to who wrote last


def test_one_address_for_two_units_is_two_applicants(pipe, forms):
    (a1, d1, p1), (a2, d2, p2) = forms
    pipe.feed(form_mail("kexie@163.com", [("1.docx", d1), ("1.pdf", p1), ("2.docx", d2), ("2.pdf", p2)]))
    pipe.judge()
    assert status_of(pipe) == {a1.unit: "accepted", a2.unit: "accepted"}
    assert len(pipe.rows("SELECT * FROM outbox")) == 2
    # Both units are this address's history (the mail row names only one of them).
    assert {unit for _, unit in pipe.store.sender_units("kexie@163.com")} == {a1.unit, a2.unit}


def test_question_first_then_forms_is_one_applicant_numbered_when_it_submits(pipe, forms):
    app, docx, pdf = forms[0]
    earlier = ON_TIME - timedelta(days=1)
    pipe.feed(form_mail("a@qq.com", [], earlier, subject="请问试点申报书模板"), earlier)
    pipe.feed(form_mail("b@qq.com", [], earlier, subject="请问截止时间"), earlier)
    pipe.judge()
    # Someone who only asked takes no receipt number (the register has no gaps for questions).
    assert [r["receipt_no"] for r in pipe.rows("SELECT receipt_no FROM applicants")] == [None, None]
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    pipe.judge()
    rows = {r["sender"]: r for r in pipe.rows("SELECT * FROM applicants")}
    assert len(rows) == 2 and rows["a@qq.com"]["status"] == "accepted"
    assert rows["a@qq.com"]["receipt_no"] == "2025-KJZY-001" and rows["b@qq.com"]["receipt_no"] is None
    kinds = [r["kind"] for r in pipe.rows("SELECT kind FROM outbox WHERE applicant=? ORDER BY id", (rows["a@qq.com"]["key"],))]
    assert kinds == ["question", "receipt"]
    receipt = pipe.rows("SELECT subject FROM outbox WHERE kind='receipt'")[0]["subject"]
    assert receipt.endswith("（2025-KJZY-001）")
    # The question again later keeps the number; the summary lists the numbered application first.
    pipe.feed(form_mail("a@qq.com", [], subject="请问何时公布结果"))
    pipe.judge()
    assert pipe.rows("SELECT receipt_no FROM applicants WHERE sender='a@qq.com'")[0]["receipt_no"] == "2025-KJZY-001"
    from pipeline.summary import applicant_rows

    assert [r["receipt_no"] for r in applicant_rows(pipe.store)] == ["2025-KJZY-001", ""]


def test_later_version_replaces_earlier_and_both_stay_on_record(pipe, forms):
    import dataclasses
    from decimal import Decimal

    app, docx, pdf = forms[0]
    over = dataclasses.replace(app, budget_total=Decimal("4500"), budget_total_text="4500")
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", build_form_docx(over)), ("盖章版.pdf", pdf)]))
    pipe.judge()
    assert status_of(pipe) == {app.unit: "needs_correction"}
    later = ON_TIME + timedelta(hours=2)
    pipe.feed(form_mail("a@qq.com", [("申报书（修改）.docx", docx)], later), later)
    pipe.judge()
    assert status_of(pipe) == {app.unit: "accepted"}
    assert len(pipe.rows("SELECT * FROM files WHERE role='word'")) == 2


def test_over_limit_mail_is_stored_and_answered_not_dropped(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, replies=dataclasses.replace(p.runner.cfg.replies, max_mail_mb=0.01))
    data = form_mail("big@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)])
    assert p.feed(data) == "application"
    p.judge()
    mail = p.rows("SELECT * FROM mails")[0]
    assert Path(mail["raw_path"]).read_bytes() == data
    assert "mail_too_large" in mail["problems"] and mail["sender"] == "big@qq.com"
    assert p.rows("SELECT * FROM files") == []
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["correction"]
    p.close()


def test_missing_partner_notice_waits_for_the_pairing_window(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    clock = [ON_TIME + timedelta(minutes=5)]
    p.runner.now = lambda: clock[0]
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)]))
    p.judge()
    assert p.rows("SELECT * FROM outbox") == []  # the PDF may be on its way
    clock[0] = ON_TIME + timedelta(minutes=31)
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["correction"]
    p.close()


def test_partner_within_the_window_gets_one_receipt(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    clock = [ON_TIME + timedelta(minutes=1)]
    p.runner.now = lambda: clock[0]
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)]))
    p.judge()
    later = ON_TIME + timedelta(minutes=20)
    clock[0] = later
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], later), later)
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    p.close()


def test_wrong_document_gets_the_blank_form(tmp_path, forms):
    import docx as python_docx
    import email
    from email import policy

    app, _, pdf = forms[0]
    letter = python_docx.Document()
    letter.add_paragraph("关于报送科技志愿服务试点申报材料的函")
    letter.add_paragraph("市科协：我单位已按要求完成申报，请审阅。")
    buf = io.BytesIO()
    letter.save(buf)
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报函.docx", buf.getvalue()), ("盖章版.pdf", pdf)]))
    p.judge()
    findings = p.rows("SELECT findings FROM applicants")[0]["findings"]
    assert "wrong_form" in findings and "field_missing" not in findings and "pilot_type_invalid" not in findings
    reply = p.rows("SELECT * FROM outbox")[0]
    msg = email.message_from_bytes(Path(reply["eml_path"]).read_bytes(), policy=policy.default)
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename().endswith("申报书（空白模板）.docx")
    raw_headers = Path(reply["eml_path"]).read_bytes()
    assert b'name="=?utf-8?b?' in raw_headers and b"filename*=utf-8''" in raw_headers
    from pipeline.forms.docx import read_form

    blank = read_form(attachment.get_content())  # our own blank form: recognised as the form, and as blank
    assert [f.code for f in blank.problems] == ["wrong_form"] and "空白的申报书模板" in blank.problems[0].message
    assert blank.unit == "" and blank.pilot_types == ()
    p.close()


def encrypted_7z(files: list[tuple[str, bytes]]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password="单位密码") as archive:
        for name, data in files:
            archive.writestr(data, name)
    return buf.getvalue()


def test_files_in_a_locked_archive_are_named_as_the_reason_they_were_not_received(tmp_path, forms):
    """"未收到" alone would puzzle a unit that did send both files, in an encrypted archive."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报材料.7z", encrypted_7z([("申报书.docx", docx), ("盖章版.pdf", pdf)]))]))
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    text = reply_text(row)
    assert row["kind"] == "correction"
    assert "压缩包“申报材料.7z”有密码，无法打开" in text and "未收到 Word 版申报书" in text
    # The files sent again as attachments: a receipt that says nothing of the archive.
    later = ON_TIME + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], later), later)
    p.judge()
    receipt = p.rows("SELECT * FROM outbox ORDER BY id")[-1]
    assert receipt["kind"] == "receipt" and "压缩包" not in reply_text(receipt)
    p.close()


def test_an_attachment_over_the_limit_is_named_with_what_to_do(tmp_path, forms):
    import dataclasses

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    replies = dataclasses.replace(p.runner.cfg.replies, max_attachment_mb=0.5)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, replies=replies)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("扫描件.pdf", pdf + b"%" * 600_000)]))
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    text = reply_text(row)
    assert row["kind"] == "correction"
    assert "超过 0 MB" not in text and "盖章 PDF 版“扫描件.pdf”超过 0.5 MB" in text  # the limit as configured, not rounded away
    # It came, too large to read: the notice says so (not also that it never came) and what to do.
    assert "未能处理。请降低扫描分辨率" in text and "未收到盖章 PDF 版" not in text
    p.close()


def test_a_locked_spare_archive_beside_both_files_is_for_staff_only(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf), ("附件材料.7z", encrypted_7z([("照片.jpg", b"x")]))]))
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    assert row["kind"] == "receipt" and "压缩包" not in reply_text(row)
    assert "附件材料.7z" in p.rows("SELECT problems FROM mails")[0]["problems"]  # on record for staff
    p.close()


def test_a_question_without_files_is_shown_to_staff_to_answer(tmp_path):
    """The applicant is told which files to send; the question itself is for staff, in the summary."""
    from pipeline.summary import applicant_rows

    p = Pipeline(tmp_path)
    p.runner.now = lambda: ON_TIME + timedelta(minutes=5)  # answered before the deadline
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "李主任 <li.office@qq.com>", OWN, "咨询试点申报"
    msg["Date"] = format_datetime(ON_TIME)
    msg.set_content("请问高校科协可以申报科技志愿服务试点吗？\n申报书模板在哪里下载？")
    p.feed(msg.as_bytes())
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    assert row["kind"] == "question" and "可能是咨询" not in reply_text(row)
    # The letter acknowledges a letter: no "materials received", no 受理编号, no 补正; the blank form attached.
    msg = email.message_from_bytes(Path(row["eml_path"]).read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert msg["Subject"] == "【来信收到】新乡市科技志愿服务试点建设申报"
    for body in (text, html):
        assert "收到您关于“新乡市科技志愿服务试点建设”的来信，邮件中没有附件" in body
        assert "工作人员会尽快另行回复" in body and "申报截止时间为 2025年6月23日 23:59（北京时间）" in body
        assert "受理编号" not in body and "补正" not in body and "材料已收到" not in body
    [form] = [a.get_filename() for a in msg.iter_attachments()]
    assert form.endswith("申报书（空白模板）.docx")
    [summary] = applicant_rows(p.store)
    [note] = [f for f in summary["problems"] if f["code"] == "mail_without_files"]
    assert "请问高校科协可以申报科技志愿服务试点吗？ 申报书模板在哪里下载？" in note["message"]
    p.close()


def ask(p: Pipeline, asked: datetime, subject: str) -> dict:
    """A question without files from a@qq.com, judged five minutes later: its one outbox row."""
    p.runner.now = lambda: asked + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [], asked, subject=subject), asked)
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    return row


def test_a_question_after_the_deadline_is_not_told_its_materials_came_late(tmp_path):
    """Nothing was ever sent: the letter says the call has closed, not 申报材料于…收到."""
    p = Pipeline(tmp_path)
    row = ask(p, datetime(2025, 6, 25, 15, tzinfo=timezone(timedelta(hours=8))), "试点申报咨询：现在还能报吗？")
    msg = email.message_from_bytes(Path(row["eml_path"]).read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert row["kind"] == "question" and msg["Subject"] == "【来信收到】新乡市科技志愿服务试点建设申报"
    assert "本次申报已于 2025年6月23日 23:59（北京时间）截止" in text
    assert "申报材料于" not in text and "受理编号" not in text and not list(msg.iter_attachments())
    p.close()


def test_a_question_before_the_deadline_buys_no_days_after_it(tmp_path, forms):
    """A notice answering only a question says the deadline, and files first sent after it are late."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    text = reply_text(ask(p, datetime(2025, 6, 21, 15, tzinfo=timezone(timedelta(hours=8))), "试点申报咨询：可以晚两天交吗？"))
    assert "申报截止时间为 2025年6月23日 23:59（北京时间）" in text and "6月24日" not in text
    sent = datetime(2025, 6, 24, 10, tzinfo=timezone(timedelta(hours=8)))
    p.runner.now = lambda: sent + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], sent), sent)
    p.judge()
    assert status_of(p) == {app.unit: "late"}
    assert p.rows("SELECT kind FROM outbox ORDER BY id")[-1]["kind"] == "late"
    p.close()


def test_a_question_before_the_deadline_does_not_make_a_late_word_on_time(tmp_path, forms):
    """The question's date counted as the unit's first submission: a Word alone sent after the
    deadline got a 补正 (send the PDF) instead of the late notice, its window then let the PDF in
    (accepted), and the summary's 首次收到 showed the question's date."""
    from pipeline.summary import applicant_rows

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    asked = datetime(2025, 6, 20, 9, tzinfo=timezone(timedelta(hours=8)))
    sent = datetime(2025, 6, 24, 10, tzinfo=timezone(timedelta(hours=8)))
    p.runner.now = lambda: asked + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [], asked, subject="试点申报咨询"), asked)
    p.judge()
    p.runner.now = lambda: sent + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)], sent), sent)
    p.judge()
    assert status_of(p) == {app.unit: "late"}
    assert p.rows("SELECT kind FROM outbox ORDER BY id")[-1]["kind"] == "late"
    later = sent + timedelta(days=1)
    p.runner.now = lambda: later + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], later), later)
    p.judge()
    assert status_of(p) == {app.unit: "late"}
    row = next(r for r in applicant_rows(p.store) if r["unit"] == app.unit)
    assert row["first_received_at"].startswith("2025-06-24T10:00"), row["first_received_at"]
    p.close()


def test_files_sent_on_time_still_open_a_window_after_an_earlier_question(tmp_path, forms):
    """Question, then an on-time but incomplete submission: its notice opens the usual window."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    asked = datetime(2025, 6, 20, 9, tzinfo=timezone(timedelta(hours=8)))
    sent = datetime(2025, 6, 23, 20, tzinfo=timezone(timedelta(hours=8)))
    p.runner.now = lambda: asked + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [], asked, subject="试点申报咨询"), asked)
    p.judge()
    p.runner.now = lambda: sent + timedelta(hours=1)  # past the pairing window: the Word alone is answered
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)], sent), sent)
    p.judge()
    assert "贵单位的补正期限为 2025年6月26日 21:00（北京时间）" in reply_text(p.rows("SELECT * FROM outbox ORDER BY id")[-1])
    later = datetime(2025, 6, 25, 9, tzinfo=timezone(timedelta(hours=8)))
    p.runner.now = lambda: later + timedelta(minutes=5)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], later), later)
    p.judge()
    assert status_of(p) == {app.unit: "accepted"}
    p.close()


def test_a_question_after_the_files_is_for_staff_not_another_receipt(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    p.judge()
    later = ON_TIME + timedelta(days=1)
    assert p.feed(form_mail("a@qq.com", [], later, subject="请问试点申报结果何时公布？"), later) == "other"
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    mail = p.rows("SELECT * FROM mails ORDER BY received_at DESC")[0]
    assert mail["category"] == "other" and "阅处" in mail["no_reply_reason"]
    p.close()


@pytest.mark.parametrize("ocr", [False, True])
def test_pdf_settings_reach_the_workers(tmp_path, forms, ocr):
    """[pdf] ocr and workers: a scan is OCR'd or not, the applicant's verdict is the same either way."""
    from pipeline.config import PdfConfig
    from pipeline.forms.pdf import ocr_available

    if ocr and not ocr_available():
        pytest.skip("tesseract with chi_sim not installed")
    app, docx, _ = forms[0]
    scan = build_form_pdf(app, scan=True, seed=3)
    p = Pipeline(tmp_path)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, pdf=PdfConfig(ocr=ocr, workers=1))
    p.feed(form_mail("scan@qq.com", [("申报书.docx", docx), ("盖章版.pdf", scan)]))
    assert p.runner._pdf_pool._size == 1  # read ahead by the one configured worker
    p.judge()
    facts = p.runner._parsed[hashlib.sha256(scan).hexdigest()]
    assert facts.text_source == ("ocr" if ocr else "") and facts.seal.kind == "red"
    assert status_of(p) == {app.unit: "accepted"}
    p.close()


def test_an_application_without_a_usable_sender_address_is_for_staff(tmp_path, forms):
    """No address to answer or to file under: listed for staff, not silently counted as an application."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    raw = form_mail("李晓燕", [("申报书.docx", docx), ("盖章版.pdf", pdf)])
    assert p.feed(raw) == "other"
    p.judge()
    mail = p.rows("SELECT * FROM mails")[0]
    assert mail["category"] == "other" and "发件地址" in mail["no_reply_reason"]
    assert p.rows("SELECT * FROM applicants") == [] and p.rows("SELECT * FROM outbox") == []
    assert len(p.rows("SELECT * FROM files WHERE role IN ('word', 'pdf')")) == 2  # kept for staff
    p.close()


def test_photos_instead_of_a_pdf_are_named_in_the_correction_notice(tmp_path, forms):
    from PIL import Image

    app, docx, pdf = forms[0]
    photos = []
    for i in range(2):
        buf = io.BytesIO()
        Image.new("RGB", (60, 80), (250, 250, 250)).save(buf, format="JPEG")
        photos.append((f"盖章页{i + 1}.jpg", buf.getvalue()))
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), *photos]))
    p.runner.now = lambda: ON_TIME + timedelta(days=2)  # past the pairing window: answer now
    p.judge()
    [reply] = p.rows("SELECT * FROM outbox")
    assert reply["kind"] == "correction"
    text = reply_text(reply)
    assert "收到的是 2 张图片（盖章页1.jpg、盖章页2.jpg），不是 PDF 文件" in text
    assert "未收到盖章 PDF 版" not in text
    received = text[text.index("目前已收到的文件"):]
    assert "申报书.docx" in received and "盖章页2.jpg" in received
    p.close()


def test_a_pdf_sent_as_a_cloud_link_is_asked_for_once_and_by_name(tmp_path, forms):
    """Word attached, PDF as a QQ 超大附件 link: one point asking for the PDF as an attachment."""
    app, docx, pdf = forms[0]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@qq.com", OWN, "试点申报材料"
    msg["Date"] = format_datetime(ON_TIME)
    msg.set_content("您好，申报材料请查收。\n\n从QQ邮箱发来的超大附件\n\n盖章版.pdf (32.5M, 2025年07月16日 10:00 到期)\n"
                    "下载链接：https://mail.qq.com/cgi-bin/ftnExs_download?k=abc\n")
    msg.add_attachment(docx, maintype="application", subtype="octet-stream", filename="申报书.docx")
    p = Pipeline(tmp_path)
    p.feed(msg.as_bytes())
    p.runner.now = lambda: ON_TIME + timedelta(days=2)
    p.judge()
    [reply] = p.rows("SELECT * FROM outbox")
    text = reply_text(reply)
    assert "请将盖章 PDF 版作为普通附件" in text
    assert "未收到盖章 PDF 版" not in text and "Word 版申报书和盖章 PDF 版作为普通附件" not in text
    p.close()


def test_the_same_files_again_get_no_second_identical_reply(tmp_path, forms):
    """A resend (new mail, same Word and PDF) would get the receipt word for word again: it gets none."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    p.judge()
    later = ON_TIME + timedelta(hours=3)
    p.feed(form_mail("a@qq.com", [("申报书(1).docx", docx), ("盖章版(1).pdf", pdf)], later, subject="再次发送"), later)
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    resend = p.rows("SELECT * FROM mails ORDER BY received_at DESC")[0]
    assert "未再次自动回复" in resend["no_reply_reason"]
    # A changed PDF is a new version: it is answered.
    other_pdf = build_form_pdf(app, seal="none")
    even_later = later + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", other_pdf)], even_later), even_later)
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt", "correction"]
    # ... and the same wrong files once more get no second identical notice.
    last = even_later + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", other_pdf)], last, subject="重发"), last)
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt", "correction"]
    p.close()


def test_another_copy_of_a_mail_already_on_record_is_not_processed_again(tmp_path, forms):
    """Same Message-ID and sender, other bytes (a webmail export of a polled mail): kept, not answered twice."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    msg = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), policy=policy.default)
    msg["Message-ID"] = "<abc123@qq.com>"
    first = msg.as_bytes()
    copy = first.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    copy = b"X-Saved-By: webmail\r\n" + copy
    assert hashlib.sha256(copy).digest() != hashlib.sha256(first).digest()
    assert p.feed(first) == "application"
    p.judge()
    assert p.feed(copy) == "duplicate"
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    rows = p.rows("SELECT category, no_reply_reason FROM mails ORDER BY processed_at")
    assert [r["category"] for r in rows] == ["application", "duplicate"] and "副本" in rows[1]["no_reply_reason"]
    # (Another unit's form: a stranger's files for the accepted unit would be left for staff.)
    other = form_mail("b@qq.com", [("申报书.docx", forms[1][1])]).replace(b"From: b@qq.com", b"Message-ID: <abc123@qq.com>\r\nFrom: b@qq.com")
    assert p.feed(other) == "application"  # the same id from someone else is not a copy
    p.close()


def test_an_answer_to_our_reply_without_files_is_for_staff_not_answered_again(tmp_path, forms):
    """'Re: 【补正通知】…' with no files (an auto-reply, "好的，马上补发") from a sender with no files
    on record: answering it would start a loop with auto-replies."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [], subject="试点申报咨询"))
    p.runner.now = lambda: ON_TIME + timedelta(days=1)
    p.judge()
    [notice] = p.rows("SELECT * FROM outbox")
    later = ON_TIME + timedelta(days=1, hours=1)
    for i, body in enumerate(["【自动回复】您好，我已收到您的邮件，会尽快处理。", "好的，马上补发。"]):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@qq.com", OWN, f"Re: {notice['subject']}"
        msg["Date"] = format_datetime(later + timedelta(minutes=i))
        msg["In-Reply-To"] = notice["message_id"]
        msg.set_content(body)
        # the auto-reply may already be known by its body (no_reply); the answer by its reference (other)
        assert p.feed(msg.as_bytes(), later + timedelta(minutes=i)) in (("no_reply", "other") if i == 0 else ("other",))
        p.judge()
    assert len(p.rows("SELECT * FROM outbox")) == 1
    [note] = [r["no_reply_reason"] for r in p.rows("SELECT no_reply_reason FROM mails WHERE subject LIKE 'Re:%' ORDER BY received_at DESC LIMIT 1")]
    assert "回信" in note
    # The files sent in answer to the notice are an application again.
    msg = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], later), policy=policy.default)
    msg["In-Reply-To"] = notice["message_id"]
    assert p.feed(msg.as_bytes(), later + timedelta(hours=1)) == "application"
    p.close()


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 6, day, hour, tzinfo=timezone(timedelta(hours=8)))


def _step(p, sender, files, when, subject="试点申报材料"):
    p.runner.now = lambda: when + timedelta(hours=1)  # past the pairing window
    p.feed(form_mail(sender, files, when, subject=subject), when)
    p.judge()


def test_a_pdf_minutes_after_the_deadline_is_judged_like_one_days_later(tmp_path, forms):
    """Word at 23:40 on the last day, the office's stamped PDF at 00:05: judged together (no notice
    in between) it got the 逾期通知, while a PDF sent two days later got a 补正通知 whose window
    then let it in. Both started on time and completed within the window a notice opens."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    word_at = datetime(2025, 6, 23, 23, 40, tzinfo=timezone(timedelta(hours=8)))
    pdf_at = word_at + timedelta(minutes=25)
    p.runner.now = lambda: pdf_at + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)], word_at), word_at)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], pdf_at), pdf_at)
    p.judge()
    assert status_of(p) == {app.unit: "accepted"}
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt"]
    p.close()


def test_an_application_first_sent_on_time_and_completed_past_any_window_is_late(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    word_at = datetime(2025, 6, 23, 23, 40, tzinfo=timezone(timedelta(hours=8)))
    pdf_at = word_at + timedelta(days=4)
    p.runner.now = lambda: pdf_at + timedelta(hours=1)  # both judged together: no notice between them
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)], word_at), word_at)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], pdf_at), pdf_at)
    p.judge()
    assert status_of(p) == {app.unit: "late"}
    p.close()


def test_versions_sent_after_the_deadline_do_not_change_an_accepted_application(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    _step(p, "a@qq.com", [("盖章版-改.pdf", build_form_pdf(app, seal="none"))], _at(25))  # after 6月23日
    [row] = p.rows("SELECT * FROM applicants")
    assert row["status"] == "accepted"
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    pdf_row = p.rows("SELECT filename FROM files WHERE id=?", (row["pdf_file_id"],))[0]
    assert pdf_row["filename"] == "盖章版.pdf"  # the on-time version is the one on record
    note = [f for f in json.loads(row["findings"]) if f["code"] == "late"]
    assert note and note[0]["staff_only"] and "盖章版-改.pdf" in note[0]["message"]
    p.close()


def test_a_correction_after_the_cut_off_is_late_not_accepted(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", build_form_pdf(app, seal="none"))], _at(20))
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["correction"]
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(27))  # deadline 6-23, window 6-20 + 3 days: both passed
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "late"
    notice = reply_text(p.rows("SELECT * FROM outbox ORDER BY id")[0])
    assert "请于 2025年6月23日 23:59（北京时间，即申报截止时间）前完成补正" in notice  # 6-20 + 3 days ends before the deadline
    late = p.rows("SELECT * FROM outbox ORDER BY id")[-1]
    text = reply_text(late)
    assert late["kind"] == "late" and "补正材料于 2025年6月27日" in text and "补正期限（2025年6月23日 23:59" in text


def test_a_correction_within_the_window_after_the_deadline_is_accepted(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", build_form_pdf(app, seal="none"))], _at(23, 9))
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(25))  # notice 6-23 + 3 days
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "accepted"
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["correction", "receipt"]


def test_forms_in_a_mail_marked_as_bulk_are_not_answered_but_listed_for_staff(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    raw = form_mail("oa@xxgov.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)])
    assert p.feed(b"Precedence: bulk\r\n" + raw) == "other"
    p.judge()
    assert p.rows("SELECT * FROM outbox") == []
    [mail] = p.rows("SELECT * FROM mails")
    assert mail["category"] == "other" and "申报附件" in mail["no_reply_reason"]
    p.close()


# What 163's MX wrote on the forged mails of QA round 10 (From forged to the victim).
FORGED_AR = (b"Authentication-Results: mx.163.com; spf=fail smtp.mailfrom=qq.com; dkim=fail header.d=qq.com;"
             b" dmarc=fail (p=QUARANTINE) header.from=qq.com\r\n")


def test_mail_our_server_found_forged_is_kept_for_staff_and_nobody_is_answered(tmp_path, forms):
    """QA round 10: 20 forged mails drew 20 replies to 20 victims. The forms stay on record for staff."""
    from pipeline.summary import other_mail_rows

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    assert p.feed(FORGED_AR + form_mail("受害人 <victim0@qq.com>", [("申报书.docx", docx), ("盖章版.pdf", pdf)])) == "other"
    later = ON_TIME + timedelta(minutes=2)
    assert p.feed(FORGED_AR + form_mail("王五 <victim1@qq.com>", [], later, subject="咨询试点申报"), later) == "no_reply"
    p.runner.now = lambda: ON_TIME + timedelta(hours=1)
    p.judge()
    assert p.rows("SELECT * FROM outbox") == [] and p.rows("SELECT * FROM applicants") == []
    files = p.rows("SELECT role, path FROM files")
    assert sorted(f["role"] for f in files) == ["pdf", "word"] and all(Path(f["path"]).is_file() for f in files)
    reasons = {r["sender"]: r["reason"] for r in other_mail_rows(p.store)}
    assert set(reasons) == {"victim0@qq.com", "victim1@qq.com"}
    assert all("身份验证" in r and "请工作人员核实" in r for r in reasons.values())
    assert "申报附件" in reasons["victim0@qq.com"]
    p.close()


def test_an_advert_in_the_unit_name_is_corrected_and_not_repeated_to_the_sender(tmp_path):
    """QA round 10: the receipt's subject read 【受理回执】…申报 - 恭喜您获得科普补贴5000元…http://xx-butie.cn 领取."""
    spam = "恭喜您获得科普补贴5000元，请加微信kf8888或访问 http://xx-butie.cn 领取"
    app = dataclasses.replace(sample_applications()[0], unit_name=spam, cover_unit=spam)
    p = Pipeline(tmp_path)
    p.feed(form_mail("victim0@qq.com", [("申报书.docx", build_form_docx(app)), ("盖章版.pdf", build_form_pdf(app))]))
    p.runner.now = lambda: ON_TIME + timedelta(hours=1)
    p.judge()
    [applicant] = p.rows("SELECT status, findings FROM applicants")
    assert applicant["status"] == "needs_correction" and "unit_name_invalid" in applicant["findings"]
    [reply] = p.rows("SELECT * FROM outbox")
    msg = email.message_from_bytes(Path(reply["eml_path"]).read_bytes(), policy=policy.default)
    assert reply["kind"] == "correction" and str(msg["Subject"]).startswith("【补正通知】新乡市科技志愿服务试点建设申报（")
    for text in (str(msg["Subject"]), reply_text(reply), msg.get_body(("html",)).get_content()):
        assert "kf8888" not in text and "xx-butie" not in text and "补贴" not in text
    assert "不是单位名称" in reply_text(reply)
    p.close()


def test_a_copy_with_other_files_under_the_same_message_id_is_processed(tmp_path, forms):
    """Same Message-ID and sender but files the first copy did not bring: not a copy, judged."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    first = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx)]), policy=policy.default)
    first["Message-ID"] = "<same@qq.com>"
    assert p.feed(first.as_bytes()) == "application"
    second = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), policy=policy.default)
    second["Message-ID"] = "<same@qq.com>"
    assert p.feed(second.as_bytes()) == "application"
    p.judge()
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "accepted"
    p.close()


def test_a_later_mail_reusing_a_message_id_is_no_copy(tmp_path, forms):
    """An OA system or script reusing one Message-ID: a question a day after the files has
    another subject and date, so it is a mail of its own (for staff), not a copy."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    first = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), policy=policy.default)
    first["Message-ID"] = "<oa-mail@xxgov.cn>"
    assert p.feed(first.as_bytes()) == "application"
    p.judge()
    later = ON_TIME + timedelta(days=1)
    second = email.message_from_bytes(form_mail("a@qq.com", [], later, subject="咨询：经费预算表能否另附页？"), policy=policy.default)
    second["Message-ID"] = "<oa-mail@xxgov.cn>"
    assert p.feed(second.as_bytes(), later) == "other"  # a unit with files on record writes again: for staff
    p.close()


@pytest.mark.parametrize("sender", ["区政务OA <noreply@oa.hqq.gov.cn>", "区科协办公室 <office@hqq.gov.cn>"])
def test_the_receipt_goes_to_the_reply_to_address(tmp_path, forms, sender):
    """An OA gateway or a shared office mailbox asks answers to go to the person (Reply-To)."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    msg = email.message_from_bytes(form_mail("x@x.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), policy=policy.default)
    msg.replace_header("From", sender)
    msg["Reply-To"] = "王五 <wangwu@163.com>"
    assert p.feed(msg.as_bytes()) == "application"
    p.judge()
    assert [(r["kind"], r["to_addr"]) for r in p.rows("SELECT kind, to_addr FROM outbox")] == [("receipt", "wangwu@163.com")]
    if "office@" in sender:  # staff name the unit by the address they see in From: (decide, answered)
        assert p.store.find_applicant("office@hqq.gov.cn") == p.rows("SELECT key FROM applicants")[0]["key"]
    p.close()


def test_photos_in_answer_to_a_notice_are_answered_and_pictures_do_not_make_receipts_differ(tmp_path, forms):
    from PIL import Image

    app, docx, pdf = forms[0]
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (250, 250, 250)).save(buf, format="JPEG")
    photo = ("盖章页.jpg", buf.getvalue())
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx)], _at(20))
    _step(p, "a@qq.com", [photo], _at(20, 12))  # a unit with files on record, answering with photos
    kinds = [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["correction", "correction"]
    assert "收到的是 1 张图片" in reply_text(p.rows("SELECT * FROM outbox ORDER BY id")[-1])
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(20, 14))
    _step(p, "a@qq.com", [photo[0:1] + (photo[1] + b"\0",)], _at(20, 16))  # more photos once the PDF is here
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["correction", "correction", "receipt"]
    p.close()


def test_a_staff_decision_stands_when_the_same_files_come_again(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    nostamp = build_form_pdf(app, seal="none")
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", nostamp)], _at(20))
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    p.runner.decide(key, "accepted", note="公章经电话核实", by="郭明梅", reply=False)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", nostamp)], _at(21))
    row = p.rows("SELECT * FROM applicants")[0]
    assert row["status"] == "accepted" and row["decision_id"] is not None
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["correction"]
    assert "改判" in p.rows("SELECT no_reply_reason FROM mails ORDER BY received_at DESC")[0]["no_reply_reason"]
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(22))  # a new version re-opens it
    row = p.rows("SELECT * FROM applicants")[0]
    assert row["decision_id"] is None and row["status"] == "accepted"
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["correction", "receipt"]
    p.close()


def test_a_staff_correction_with_nothing_to_correct_is_refused_not_sent_empty(tmp_path, forms):
    """`decide … needs-correction --reply` without --note on an accepted unit sent a 补正通知 whose
    list of problems was empty; it is refused (nothing recorded), and with a note it is sent."""
    from pipeline.errors import IntakeError

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    with pytest.raises(IntakeError, match="--note"):
        p.runner.decide(key, "needs_correction", note="", by="郭明梅", reply=True)
    assert p.rows("SELECT status, decision_id FROM applicants")[0]["status"] == "accepted"
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt"]
    p.runner.decide(key, "needs_correction", note="试点建设方案请补充经费测算依据", by="郭明梅", reply=True)
    last = p.rows("SELECT * FROM outbox ORDER BY id")[-1]
    assert last["kind"] == "correction" and "试点建设方案请补充经费测算依据" in reply_text(last)
    p.close()


def test_the_window_runs_from_the_latest_notice_and_each_notice_names_its_end(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    nostamp = build_form_pdf(app, seal="none")
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", nostamp)], _at(20))
    bad_word = build_form_docx(dataclasses.replace(app, unit_name=""))
    _step(p, "a@qq.com", [("申报书.docx", bad_word)], _at(23, 20))  # a new problem: a second notice
    notices = [reply_text(r) for r in p.rows("SELECT * FROM outbox WHERE kind='correction' ORDER BY id")]
    assert len(notices) == 2 and "补正期限为 2025年6月26日 21:00（北京时间）" in notices[1]  # 6-23 21:00 (clock) + 3 days
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(25))  # within the second window
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "accepted"
    p.close()


def test_a_direct_copy_after_a_forward_set_aside_for_staff_is_processed(tmp_path, forms):
    """The first copy came marked as machine mail (left for staff): the clean copy is the application."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    msg = email.message_from_bytes(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), policy=policy.default)
    msg["Message-ID"] = "<fwd@qq.com>"
    assert p.feed(b"Auto-Submitted: auto-forwarded\r\n" + msg.as_bytes()) == "other"
    assert p.feed(msg.as_bytes()) == "application"
    p.judge()
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    p.close()


def test_supplementary_files_with_an_unchanged_pair_are_noted_for_staff(tmp_path, forms):
    from PIL import Image

    app, docx, pdf = forms[0]
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (250, 250, 250)).save(buf, format="JPEG")
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    _step(p, "a@qq.com", [("活动照片.jpg", buf.getvalue())], _at(21))
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    note = p.rows("SELECT no_reply_reason FROM mails ORDER BY received_at DESC")[0]["no_reply_reason"]
    assert "其他文件" in note and "工作人员查看" in note
    p.close()


def test_files_attached_beside_a_forwarded_earlier_mail_are_the_ones_judged(tmp_path, forms):
    """"新版见附件，原邮件附后": the earlier mail's files, inside the attached .eml, are the older version."""
    app, docx, pdf = forms[0]
    earlier = form_mail("a@qq.com", [("申报书-旧.docx", docx), ("盖章版-旧.pdf", build_form_pdf(app, seal="none"))])
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书-新.docx", docx), ("盖章版-新.pdf", pdf), ("上次邮件.eml", earlier)]))
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    assert row["kind"] == "receipt" and "盖章版-新.pdf" in reply_text(row)
    p.close()


def _codes(p, key: str) -> set[str]:
    row = p.rows("SELECT findings FROM applicants WHERE key=?", (key,))[0]
    return {f["code"] for f in json.loads(row["findings"] or "[]")}


def test_another_units_pdf_sent_on_its_behalf_is_that_units_not_the_senders(tmp_path, forms):
    """A county contact sends its own pair, then a school's stamped PDF (代报): the school is a new
    applicant missing its Word; the county's accepted pair is untouched and gets no notice."""
    from pipeline.pairing import unit_key

    (own, docx, pdf), (school, _, school_pdf) = forms
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章.pdf", pdf)], _at(20))
    _step(p, "a@qq.com", [("学校盖章版.pdf", school_pdf)], _at(20, 13), subject="学校盖章版（代报）")
    assert p.rows("SELECT applicant FROM files WHERE filename='学校盖章版.pdf'")[0]["applicant"] == unit_key(school.unit)
    statuses = {r["key"]: r["status"] for r in p.rows("SELECT key, status FROM applicants")}
    assert statuses == {unit_key(own.unit): "accepted", unit_key(school.unit): "needs_correction"}
    assert "missing_word" in _codes(p, unit_key(school.unit))
    sent = [(r["applicant"], r["kind"]) for r in p.rows("SELECT applicant, kind FROM outbox ORDER BY id")]
    assert sent == [(unit_key(own.unit), "receipt"), (unit_key(school.unit), "correction")]
    p.close()


def test_a_resent_word_with_the_unit_written_in_full_is_the_same_applicant(tmp_path, forms):
    """红旗区科协 first, 新乡市红旗区科学技术协会 in the revised Word: one applicant, judged on the new
    Word and the PDF on record, with its first receipt number."""
    app, docx, pdf = forms[0]
    short = dataclasses.replace(app, unit_name="红旗区科协", cover_unit="红旗区科协")
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", build_form_docx(short)), ("盖章.pdf", pdf)], _at(20))
    _step(p, "a@qq.com", [("申报书（修改）.docx", docx)], _at(20, 13))
    rows = p.rows("SELECT * FROM applicants")
    assert [(r["receipt_no"], r["unit"], r["status"]) for r in rows] == [("2025-KJZY-001", app.unit, "accepted")]
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt", "receipt"]  # the new Word, same number
    p.close()


def test_a_stamped_pdf_before_the_word_from_another_address_is_one_applicant(tmp_path, forms):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.runner.now = lambda: ON_TIME + timedelta(minutes=5)
    p.feed(form_mail("leader@163.com", [("盖章版.pdf", pdf)]))
    p.judge()
    later = ON_TIME + timedelta(minutes=10)
    _step(p, "office@qq.com", [("申报书.docx", docx)], later)
    assert [(r["receipt_no"], r["status"]) for r in p.rows("SELECT * FROM applicants")] == [("2025-KJZY-001", "accepted")]
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    p.close()


def test_an_appendix_sent_alone_does_not_replace_the_stamped_form(tmp_path, forms):
    """A partner agreement (a text layer with none of the form's headings) sent after the form:
    kept on record, but the unit is still judged on its stamped form."""
    import pikepdf

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    p.judge()
    appendix = pikepdf.open(io.BytesIO(build_form_pdf(app, seal="none")))
    page = appendix.pages[0]
    page.obj.Contents = appendix.make_stream(b"BT /F1 12 Tf 72 700 Td (Cooperation agreement 2025) Tj ET")
    del appendix.pages[1:]
    buf = io.BytesIO()
    appendix.save(buf)
    later = ON_TIME + timedelta(days=1)
    p.feed(form_mail("a@qq.com", [("附件-合作协议.pdf", buf.getvalue())], later), later)
    p.judge()
    assert status_of(p) == {app.unit: "accepted"}
    assert [r["kind"] for r in p.rows("SELECT kind FROM outbox")] == ["receipt"]
    assert len(p.rows("SELECT * FROM files WHERE role='pdf'")) == 2
    p.close()


def _ofd() -> bytes:
    """A minimal OFD package (GB/T 33190): a zip whose entry point is OFD.xml."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" '
                              'Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
                              '</ofd:DocBody></ofd:OFD>')
        z.writestr("Doc_0/Document.xml", "<ofd:Document xmlns:ofd=\"http://www.ofdspec.org/2016\"/>")
    return buf.getvalue()


def test_an_ofd_export_instead_of_the_pdf_is_named_and_asked_for_as_pdf(tmp_path, forms):
    """E-sealed documents are often OFD: the applicant is told the OFD is no PDF, not that nothing came."""
    from pipeline.filetypes import sniff

    app, docx, pdf = forms[0]
    assert sniff(_ofd()) == "ofd"
    p = Pipeline(tmp_path)
    p.runner.now = lambda: ON_TIME + timedelta(hours=1)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("申报书盖章.ofd", _ofd())]))
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    text = reply_text(row)
    assert "收到的“申报书盖章.ofd”是 OFD 格式的文件，不是 PDF 文件" in text and "未收到盖章 PDF 版" not in text
    assert "请将盖章 PDF 版发送至本邮箱" in text  # the Word came: only the PDF is asked for
    p.close()


def test_a_question_answered_only_after_the_deadline_is_told_the_call_has_closed(tmp_path):
    """Asked on 6-22, processed on 6-25 (a backlog after an outage, an import): no invitation to
    send files by a deadline already past, no blank form."""
    p = Pipeline(tmp_path)
    asked = datetime(2025, 6, 22, 15, tzinfo=timezone(timedelta(hours=8)))
    p.runner.now = lambda: datetime(2025, 6, 25, 9, tzinfo=timezone(timedelta(hours=8)))
    p.feed(form_mail("a@qq.com", [], asked, subject="试点申报咨询"), asked)
    p.judge()
    [row] = p.rows("SELECT * FROM outbox")
    msg = email.message_from_bytes(Path(row["eml_path"]).read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert "本次申报已于 2025年6月23日 23:59（北京时间）截止" in text and "如要报送" not in text
    assert not list(msg.iter_attachments())
    p.close()


def test_staff_cannot_decide_on_someone_who_only_asked(tmp_path):
    """`intake decide` on an inquiry (or an empty reference) is refused: a receipt would tell a
    person who asked something that materials arrived and were accepted."""
    from pipeline.config import default_config
    from pipeline.errors import IntakeError
    from pipeline.jobs import decide

    cfg = default_config(tmp_path)
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [], subject="试点申报咨询"))
    p.judge()
    assert p.store.find_applicant("") is None
    p.close()
    for ref in ("a@qq.com", "", "2025-KJZY-001"):
        with pytest.raises(IntakeError):
            decide(cfg, ref, "accepted", reply=True)


def test_stored_times_sort_in_time_order_whatever_zone_they_came_in(tmp_path, forms):
    """A polled mail's INTERNALDATE (UTC) and an imported mail's Date (+08:00): the later one is
    the latest, though its text in its own zone would sort first."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    imported = datetime(2025, 6, 20, 9, 30, tzinfo=CST)  # 01:30 UTC
    polled = datetime(2025, 6, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing: the later mail
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx)], polled), polled)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], imported), imported)
    key = p.rows("SELECT key FROM applicants")[0]["key"]
    assert [m["received_at"] for m in p.store.applicant_mails(key)] == ["2025-06-20T01:30:00+00:00", "2025-06-20T02:00:00+00:00"]
    assert p.store.latest_mail(key) == p.rows("SELECT sha256 FROM mails WHERE received_at LIKE '%T02:00%'")[0]["sha256"]
    p.close()


def test_forms_inside_an_attached_outlook_msg_are_accepted(pipe, forms):
    """The .msg was taken for an old .doc: 补正 '不是可以读取的 .docx' and '未收到盖章 PDF'."""
    import cfb_writer

    app, docx, pdf = forms[0]
    msg = cfb_writer.msg("申报材料", [("申报书.docx", docx), ("盖章版.pdf", pdf)])
    pipe.feed(form_mail("a@qq.com", [("申报材料.msg", msg)]))
    pipe.judge()
    (row,) = pipe.rows("SELECT * FROM applicants")
    assert (row["unit"], row["status"]) == (app.unit_name, "accepted")
    kinds = {r["filename"]: r["kind"] for r in pipe.rows("SELECT filename, kind FROM files")}
    assert kinds == {"申报材料.msg": "msg", "申报书.docx": "docx", "盖章版.pdf": "pdf"}


def test_a_password_protected_word_is_told_to_remove_the_password(pipe, forms):
    import cfb_writer

    app, docx, pdf = forms[0]
    locked = cfb_writer.build({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 40, "EncryptedPackage": b"\x00" * 5000})
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", locked), ("盖章版.pdf", pdf)]))
    pipe.judge()
    (reply,) = pipe.rows("SELECT * FROM outbox")
    text = reply_text(reply)
    assert reply["kind"] == "correction" and "设置了打开密码" in text and "另存为 .docx" not in text


@pytest.mark.parametrize("template_last", [True, False], ids=["template_last", "template_first"])
def test_our_blank_template_forwarded_beside_the_filled_form_is_not_the_form(pipe, forms, template_last):
    """Forwarding our 来信收到/补正通知 keeps our blank template in the mail: when it came after the
    filled form it was read as the Word version (wrong_form, the template listed as received)."""
    from pipeline.resources import shipped

    app, docx, pdf = forms[0]
    blank = (shipped("templates") / "forms" / "申报书.docx").read_bytes()
    name = "新乡市科技志愿服务试点建设申报书（空白模板）.docx"
    files = [("红旗区申报书.docx", docx), ("盖章版.pdf", pdf)]
    files = [*files, (name, blank)] if template_last else [(name, blank), *files]
    pipe.feed(form_mail("a@qq.com", files, subject="转发: 【来信收到】新乡市科技志愿服务试点建设申报"))
    pipe.judge()
    (row,) = pipe.rows("SELECT * FROM applicants")
    assert (row["unit"], row["status"]) == (app.unit_name, "accepted")
    (reply,) = pipe.rows("SELECT * FROM outbox")
    text = reply_text(reply)
    assert "红旗区申报书.docx" in text and "空白模板" not in text


def renamed_main_part(docx: bytes) -> bytes:
    """The package as Word Online / SharePoint downloads it: the main part is word/document2.xml."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            name = {"word/document.xml": "word/document2.xml", "word/_rels/document.xml.rels": "word/_rels/document2.xml.rels"}.get(
                info.filename, info.filename)
            if info.filename in ("_rels/.rels", "[Content_Types].xml"):
                data = data.replace(b"word/document.xml", b"word/document2.xml")
            dst.writestr(name, data)
    return out.getvalue()


def test_a_word_online_package_with_document2_is_the_form_not_an_archive(pipe, forms):
    """Sniffed as a plain zip, its XML parts were unpacked as 'files' and the applicant was told
    every field was missing."""
    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", renamed_main_part(docx)), ("盖章版.pdf", pdf)]))
    pipe.judge()
    (row,) = pipe.rows("SELECT * FROM applicants")
    assert (row["unit"], row["status"]) == (app.unit_name, "accepted")
    assert [r["kind"] for r in pipe.rows("SELECT kind FROM files ORDER BY id")] == ["docx", "pdf"]


def padded(data: bytes, kind: str, size: int) -> bytes:
    """The same file made `size` bytes larger (photos in the Word, a high-dpi scan)."""
    import io
    import os
    import zipfile

    if kind == "pdf":
        return data + b"\n%" + b"0" * size + b"\n"
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr("word/media/photo99.bin", os.urandom(size))
    return buf.getvalue()


@pytest.mark.parametrize("role", ["word", "pdf"])
def test_a_form_over_the_size_limit_is_not_told_it_never_came(pipe, forms, role):
    """A Word form of 55 photos (33 MB) drew both '附件超过 30 MB…（扫描件可改用 200 dpi）' and
    '未收到 Word 版申报书'; the advice is now the file's own and only that file is asked for."""
    import dataclasses as dc

    app, docx, pdf = forms[0]
    limit = max(len(docx), len(pdf)) + 1000
    if role == "word":
        docx = padded(docx, "docx", limit)
    else:
        pdf = padded(pdf, "pdf", limit)
    cfg = pipe.runner.cfg
    pipe.runner.cfg = dc.replace(cfg, replies=dc.replace(cfg.replies, max_attachment_mb=limit / 1048576))
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    pipe.judge()
    (reply,) = pipe.rows("SELECT * FROM outbox")
    text = reply_text(reply)
    if role == "word":
        assert "未收到 Word 版" not in text and "压缩其中的图片" in text and "200 dpi" not in text
        assert "请将 Word 版申报书（.docx）发送至本邮箱" in text and "已收到的盖章 PDF 版无需重复发送" in text
    else:
        assert "未收到盖章 PDF 版" not in text and "200 dpi" in text
        assert "请将盖章 PDF 版发送至本邮箱" in text and "已收到的 Word 版申报书无需重复发送" in text


def test_a_correction_still_queued_is_withdrawn_when_the_receipt_is_queued(pipe, forms):
    """SMTP down or 163 throttling: the 补正通知 and then the 受理回执 for the corrected files were
    both sent, oldest first, when delivery worked again."""
    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", docx)]), ON_TIME - timedelta(hours=2))
    pipe.runner.now = lambda: ON_TIME  # past the pairing window: the correction is written
    pipe.judge()
    assert [r["kind"] for r in pipe.rows("SELECT kind FROM outbox")] == ["correction"]
    pipe.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)]))
    pipe.judge()
    rows = pipe.rows("SELECT kind, state, error FROM outbox ORDER BY id")
    assert [(r["kind"], r["state"]) for r in rows] == [("correction", "superseded"), ("receipt", "rendered")]
    assert "更新的回复" in rows[0]["error"]
    # A withdrawn notice opens no correction window and is not what the applicant was last told.
    assert pipe.store.last_correction_at(pipe.rows("SELECT key FROM applicants")[0]["key"]) is None


def test_a_word_too_large_stays_the_reason_when_the_pdf_comes_later(pipe, forms):
    """The second notice said '未收到 Word 版申报书' after the first had said it came too large."""
    import dataclasses as dc

    app, docx, pdf = forms[0]
    limit = max(len(docx), len(pdf)) + 1000
    cfg = pipe.runner.cfg
    pipe.runner.cfg = dc.replace(cfg, replies=dc.replace(cfg.replies, max_attachment_mb=limit / 1048576))
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", padded(docx, "docx", limit))]), ON_TIME - timedelta(hours=2))
    pipe.judge()
    pipe.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)]))
    pipe.judge()
    texts = [reply_text(r) for r in pipe.rows("SELECT * FROM outbox ORDER BY id")]
    assert len(texts) == 2
    assert "压缩其中的图片" in texts[-1] and "未收到 Word 版" not in texts[-1]


def test_a_final_version_too_large_after_acceptance_is_shown_to_staff(pipe, forms):
    """'最终版，以此为准' over the size limit was recorded nowhere staff look (and the unit heard nothing)."""
    import dataclasses as dc

    from pipeline.summary import applicant_rows

    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), ON_TIME - timedelta(days=1))
    pipe.judge()
    limit = max(len(docx), len(pdf)) + 1000
    cfg = pipe.runner.cfg
    pipe.runner.cfg = dc.replace(cfg, replies=dc.replace(cfg.replies, max_attachment_mb=limit / 1048576))
    pipe.feed(form_mail("a@qq.com", [("申报书最终版.docx", padded(docx, "docx", limit))], subject="申报书最终版，以此为准"))
    pipe.judge()
    (row,) = applicant_rows(pipe.store)
    assert row["status"] == "accepted"
    assert any("申报书最终版.docx" in p["message"] and p["severity"] == "warning" for p in row["problems"])


def test_our_blank_template_forwarded_alone_later_does_not_undo_an_acceptance(pipe, forms):
    """A unit forwarding our 来信收到 (template attached) with a question after acceptance was
    switched to 需补正 and told its Word was a blank template."""
    from pipeline.resources import shipped

    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]), ON_TIME - timedelta(days=1))
    pipe.judge()
    blank = (shipped("templates") / "forms" / "申报书.docx").read_bytes()
    pipe.feed(form_mail("a@qq.com", [("新乡市科技志愿服务试点建设申报书（空白模板）.docx", blank)],
                        subject="转发: 【来信收到】 我们已经提交了，请问还需要纸质材料吗？"))
    pipe.judge()
    (row,) = pipe.rows("SELECT * FROM applicants")
    assert row["status"] == "accepted"
    assert [r["kind"] for r in pipe.rows("SELECT kind FROM outbox ORDER BY id")] == ["receipt"]


def test_staff_name_a_question_sender_by_name_or_as_the_mail_client_shows_them(pipe):
    """Senders who only asked have no receipt number or unit: `answered 张伟` and
    `answered '张伟 <zhangwei_hj@163.com>'` found nobody."""
    pipe.feed(form_mail("张伟 <zhangwei_hj@163.com>", [], subject="请问试点申报书模板在哪里下载"))
    pipe.judge()
    key = pipe.rows("SELECT key FROM applicants")[0]["key"]
    assert pipe.store.find_applicant("张伟") == key
    assert pipe.store.find_applicant("张伟 <zhangwei_hj@163.com>") == key
    assert pipe.store.find_applicant("李四") is None


def test_the_offices_stamped_scan_first_and_the_contacts_word_later_are_one_applicant(pipe, forms, monkeypatch):
    """The office scanned the stamped form and sent it from its own mailbox; the contact sent the
    Word an hour later: two applicants, two numbers, each told a file was missing."""
    from pipeline.forms import ocr

    app, docx, pdf = forms[0]
    from pipeline.samples.pdfs import build_form_pdf

    if not ocr.available():
        pytest.skip("tesseract with chi_sim not installed: the scan's unit cannot be read")
    scan = build_form_pdf(app, scan=True, seed=1)
    pipe.feed(form_mail("office@126.com", [("CamScanner 06-20-2025 10.00.pdf", scan)]), ON_TIME - timedelta(hours=1))
    pipe.judge()
    pipe.feed(form_mail("contact@163.com", [("申报书.docx", docx)]))
    pipe.judge()
    rows = pipe.rows("SELECT * FROM applicants")
    assert len(rows) == 1 and rows[0]["status"] == "accepted" and rows[0]["receipt_no"] == "2025-KJZY-001"
    kinds = [(r["kind"], r["state"]) for r in pipe.rows("SELECT kind, state FROM outbox ORDER BY id")]
    assert kinds[-1] == ("receipt", "rendered") and all(state == "superseded" for _, state in kinds[:-1])


def picture(width: int, height: int, fmt: str = "JPEG") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buf, fmt)
    return buf.getvalue()


def test_a_question_with_a_screenshot_is_a_question_not_a_numbered_application(pipe, forms):
    """'请问截图中这一栏怎么填？' with a phone screenshot got 2025-KJZY-001 and a 补正通知 ('收到的是
    1 张图片，不是 PDF'), and the question was shown to nobody."""
    app, docx, pdf = forms[0]
    pipe.feed(form_mail("a@qq.com", [("Screenshot_20250619_101512.jpg", picture(1080, 2340))], subject="申报书填写咨询"))
    pipe.judge()
    (row,) = pipe.rows("SELECT * FROM applicants")
    assert row["receipt_no"] is None
    (reply,) = pipe.rows("SELECT * FROM outbox")
    assert reply["kind"] == "question" and "不是 PDF" not in reply_text(reply)
    from pipeline.summary import applicant_rows

    (summary_row,) = applicant_rows(pipe.store)
    assert summary_row["status"] == "inquiry"
    assert any("截图" in p["message"] for p in summary_row["problems"])
    # The next real applicant is 001.
    pipe.feed(form_mail("b@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    pipe.judge()
    assert pipe.rows("SELECT receipt_no FROM applicants WHERE sender='b@qq.com'")[0]["receipt_no"] == "2025-KJZY-001"


def test_photos_of_pages_are_still_an_application_told_to_send_a_pdf(pipe):
    pipe.feed(form_mail("a@qq.com", [("IMG_0001.jpg", picture(1200, 1600)), ("IMG_0002.jpg", picture(1200, 1600))]))
    pipe.judge()
    (reply,) = pipe.rows("SELECT * FROM outbox")
    assert reply["kind"] == "correction" and "不是 PDF 文件" in reply_text(reply)


def test_an_answered_question_stays_visible_with_who_answered_it(pipe):
    """After `intake answered` the question vanished from every summary: a colleague could not tell
    whether it was answered or lost."""
    from pipeline.summary import applicant_rows, question_mails

    pipe.feed(form_mail("张伟 <zhangwei_hj@163.com>", [], subject="请问截止时间"))
    pipe.judge()
    key = pipe.rows("SELECT key FROM applicants")[0]["key"]
    assert pipe.store.mark_questions_answered(key, "王老师", ON_TIME + timedelta(hours=2)) == 1
    assert question_mails(pipe.store) == []
    (row,) = applicant_rows(pipe.store)
    (note,) = row["problems"]
    assert note["severity"] == "warning" and "王老师" in note["message"] and "请问截止时间" in note["message"]


def test_a_mail_left_for_staff_is_named_in_the_digest_and_closed_by_answered(tmp_path, forms):
    """A submitted unit writing again without files ('other': not answered automatically) was
    counted in 需要人工查看 but named nowhere in the digest, and `intake answered` could not close
    it: the count never went down."""
    from pipeline.digest import build_digest
    from pipeline.jobs import answered
    from pipeline.summary import other_mail_rows, status_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)]))
    p.judge()
    later = ON_TIME + timedelta(days=1)
    assert p.feed(form_mail("a@qq.com", [], later, subject="请问试点申报结果何时公布？"), later) == "other"
    p.judge()
    digest = build_digest(p.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", later + timedelta(hours=1))
    text = digest.get_body(("plain",)).get_content()
    assert "请问试点申报结果何时公布？" in text and "a@qq.com" in text and app.unit in text
    assert "需要人工查看的邮件：1 封" in status_lines(p.store)
    p.close()
    assert answered(p.runner.cfg, app.unit, by="王老师") == (1, f"{app.unit}（2025-KJZY-001）")
    p = Pipeline(tmp_path)
    assert "需要人工查看的邮件：0 封" in status_lines(p.store)
    text = build_digest(p.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", later + timedelta(hours=2)).get_body(("plain",)).get_content()
    assert "请问试点申报结果何时公布？" not in text
    (row,) = [r for r in other_mail_rows(p.store) if r["subject"] == "请问试点申报结果何时公布？"]
    assert "王老师" in row["reason"]
    p.close()


def test_answered_closes_a_left_mail_from_an_address_that_is_no_applicant(tmp_path, forms):
    """Forms on a mail an OA system marked as bulk: left for staff, the sender is no applicant;
    `intake answered <address>` still closes it."""
    from pipeline.jobs import answered
    from pipeline.summary import status_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    msg = form_mail("oa@xxkx.gov.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)])
    msg = msg.replace(b"Subject:", b"Precedence: bulk\r\nSubject:", 1) if b"\r\n" in msg else msg.replace(b"Subject:", b"Precedence: bulk\nSubject:", 1)
    assert p.feed(msg) == "other"
    p.judge()
    assert "需要人工查看的邮件：1 封" in status_lines(p.store)
    p.close()
    assert answered(p.runner.cfg, "OA <oa@xxkx.gov.cn>") == (1, "oa@xxkx.gov.cn")
    p = Pipeline(tmp_path)
    assert "需要人工查看的邮件：0 封" in status_lines(p.store)
    p.close()


def test_an_application_a_colleague_forwards_is_left_for_staff_not_receipted_to_them(tmp_path, forms):
    """A unit sent its files to a staff member's own mailbox, who forwarded them: the 受理回执 went
    to the colleague, the unit was filed under them and never heard."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, staff=("郭明梅 <GuoMM@xxkx.gov.cn>",))
    fwd = form_mail("郭明梅 <guomm@xxkx.gov.cn>", [("申报书.docx", docx), ("盖章版.pdf", pdf)], subject="转发：卫辉市科协申报材料")
    assert p.feed(fwd) == "other"
    p.judge()
    assert p.rows("SELECT * FROM outbox") == [] and p.rows("SELECT * FROM applicants") == []
    mail = p.rows("SELECT * FROM mails")[0]
    assert "工作人员" in mail["no_reply_reason"] and "intake import" in mail["no_reply_reason"]
    # The same files from the unit itself are an application as ever.
    assert p.feed(form_mail("whkx@163.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)])) == "application"
    p.close()


@pytest.mark.parametrize(
    "files, told, not_told",
    [
        # The Word renamed .pdf ("PDF 版" asked for): "未收到 PDF" next to a listed ".pdf" puzzled the applicant.
        (lambda docx, pdf: [("红旗区科协申报书（盖章版）.pdf", docx)], "实际是 Word 文件", "未收到盖章 PDF 版"),
        (lambda docx, pdf: [("申报书.docx", docx), ("申报书（盖章版）.pdf", docx + b"")], "实际是 Word 文件", "未收到盖章 PDF 版"),
        # An interrupted upload: a 0-byte .pdf, or a 0-byte .docx beside a good PDF.
        (lambda docx, pdf: [("申报书.docx", docx), ("申报书（盖章）.pdf", b"")], "是空文件", "未收到盖章 PDF 版"),
        (lambda docx, pdf: [("申报书.docx", b""), ("申报书（盖章）.pdf", pdf)], "是空文件", "未收到 Word 版"),
        # A PDF renamed .docx.
        (lambda docx, pdf: [("申报书.docx", pdf)], "实际是 PDF 文件", "未收到 Word 版"),
    ],
    ids=["docx-named-pdf", "docx-named-pdf-beside-docx", "empty-pdf", "empty-docx", "pdf-named-docx"],
)
def test_a_file_named_as_the_missing_one_is_named_with_what_it_really_is(tmp_path, forms, files, told, not_told):
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    sent = files(docx, pdf)
    if len(sent) == 2 and sent[1][1] == docx:  # the same Word twice under two names: give the copy other bytes
        sent[1] = (sent[1][0], build_form_docx(dataclasses.replace(app, address=app.address + " ")))
    p.feed(form_mail("a@qq.com", sent))
    p.runner.now = lambda: ON_TIME + timedelta(days=2)
    p.judge()
    [reply] = p.rows("SELECT * FROM outbox")
    text = reply_text(reply)
    assert reply["kind"] == "correction" and told in text and not_told not in text, text
    p.close()


def test_a_question_with_a_late_server_time_note_is_still_a_question(tmp_path):
    """The staff-only arrival note (server time well after the Received stamp) must not turn a
    question into an application without files (a 补正 asking for both files)."""
    p = Pipeline(tmp_path)
    msg = form_mail("a@qq.com", [], subject="请问试点申报截止时间")
    stamp = b"Received: from mx.qq.com by mx.163.com with SMTP; Wed, 18 Jun 2025 10:00:00 +0800\r\n"
    p.feed(stamp + msg.replace(b"\n", b"\r\n") if b"\r\n" not in msg else stamp + msg)
    p.judge()
    [row] = p.rows("SELECT kind FROM outbox")
    assert row["kind"] == "question"
    mail = p.rows("SELECT problems FROM mails")[0]
    assert "arrival_doubt" in mail["problems"] and "mail_without_files" in mail["problems"]
    p.close()


def test_a_reply_held_by_the_per_address_limit_goes_out_once_the_day_has_passed(tmp_path, forms):
    """The daily cap only keeps a loop from mailing on (QA round 10): the held letter is the unit's
    latest answer and is sent when the 24 hours have passed; held letters do not count against it."""
    import dataclasses as dc
    from decimal import Decimal

    app, docx, pdf = forms[0]
    over = build_form_docx(dc.replace(app, budget_total=Decimal("4500"), budget_total_text="4500"))
    p = Pipeline(tmp_path)
    p.runner.cfg = dc.replace(p.runner.cfg, replies=dc.replace(p.runner.cfg.replies, max_per_address_per_day=2))
    clock = [ON_TIME]
    p.runner.now = lambda: clock[0]
    for hours, files in ((1, [("申报书.docx", over), ("盖章版.pdf", pdf)]), (2, [("申报书.docx", docx)]), (3, [("申报书.docx", over)])):
        clock[0] = ON_TIME + timedelta(hours=hours)
        p.feed(form_mail("a@qq.com", files, clock[0]), clock[0])
        p.judge()
        p.store.conn.execute("UPDATE outbox SET state='sent' WHERE state='rendered'")  # delivered
    states = lambda: [(r["kind"], r["state"]) for r in p.rows("SELECT kind, state FROM outbox ORDER BY id")]  # noqa: E731
    assert states() == [("correction", "sent"), ("receipt", "sent"), ("none", "held")]
    clock[0] = ON_TIME + timedelta(hours=10)
    p.judge()  # still within the day: held, and only once
    assert states()[-1] == ("none", "held") and len(states()) == 3
    clock[0] = ON_TIME + timedelta(hours=26)
    p.judge()
    assert states() == [("correction", "sent"), ("receipt", "sent"), ("correction", "rendered")]
    assert p.rows("SELECT dirty FROM applicants")[0]["dirty"] == 0
    p.close()


def test_held_withdrawn_and_failed_replies_do_not_count_against_the_daily_limit(tmp_path):
    from pipeline.store import iso

    p = Pipeline(tmp_path)
    now = ON_TIME + timedelta(hours=5)
    for n, state in enumerate(("held", "superseded", "failed", "sent", "rendered", "uncertain")):
        p.store.db["outbox"].insert({"applicant": "unit:x", "to_addr": "a@qq.com", "trigger_mail": f"m{n}", "state": state,
                                     "kind": "none" if state == "held" else "correction", "created_at": iso(now)})
    assert p.store.replies_since("a@qq.com", now - timedelta(days=1)) == 3
    p.close()


def test_a_host_clock_behind_the_mail_server_does_not_take_the_correction_window_away(tmp_path, forms):
    """The server stamped the unstamped pair 23:58:00 on the last day; this machine's clock read
    23:57:40 when it answered (QA round 10). The notice is dated no earlier than the mail it
    answers: a 3-day 补正期限 from then, and the stamped PDF two days later is accepted."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    arrived = datetime(2025, 6, 23, 23, 58, tzinfo=CST)
    p.runner.now = lambda: arrived - timedelta(seconds=20) + timedelta(minutes=31)  # past the pairing window…
    p.feed(form_mail("a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", build_form_pdf(app, seal="none"))], arrived), arrived)
    p.runner.now = lambda: arrived - timedelta(seconds=20)  # …but answered by a clock 20 s behind
    p.judge()
    [notice] = p.rows("SELECT * FROM outbox")
    assert notice["kind"] == "correction" and "补正期限为 2025年6月26日 23:58（北京时间）" in reply_text(notice)
    later = datetime(2025, 6, 25, 10, tzinfo=CST)
    p.runner.now = lambda: later + timedelta(minutes=31)
    p.feed(form_mail("a@qq.com", [("盖章版.pdf", pdf)], later), later)
    p.judge()
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "accepted"
    p.close()


def test_staff_letting_a_late_unit_correct_opens_a_window_that_is_honoured(tmp_path, forms):
    """`decide <late unit> needs-correction --note … --reply` (QA round 10): the 补正通知 listed
    '已超过截止时间…本次不予受理' as the first thing to correct, and the files sent within its
    补正期限 drew a 逾期通知 dated by the first late mail. Staff's notice opens the window it names."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    nostamp = build_form_pdf(app, seal="none")
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", nostamp)], _at(25))
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "late"
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    p.runner.decide(key, "needs_correction", note="经研究，同意贵单位补正后受理", by="郭明梅", reply=True)
    notice = reply_text(p.rows("SELECT * FROM outbox ORDER BY id")[-1])
    assert "经研究，同意贵单位补正后受理" in notice and "补正期限为 2025年6月28日 11:00（北京时间）" in notice
    assert "不予受理" not in notice and "已超过截止时间" not in notice
    assert "此前发出的逾期通知不再适用" in notice  # the unit holds a letter saying 不予受理 (QA round 12)
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(27))  # within the window staff opened
    assert p.rows("SELECT status FROM applicants")[0]["status"] == "accepted"
    assert p.rows("SELECT kind FROM outbox ORDER BY id DESC LIMIT 1")[0]["kind"] == "receipt"
    _step(p, "b@qq.com", [("申报书.docx", build_form_docx(forms[1][0])), ("盖章版.pdf", forms[1][2])], _at(25))
    assert status_of(p)[forms[1][0].unit] == "late"  # no window for anyone else
    p.close()


def test_staff_read_the_correction_window_a_late_correction_missed(tmp_path, forms):
    """The summary said '申报材料于 6月26日 收到，已超过截止时间 6月23日' while the letter named the
    补正期限 the unit was given; staff could not see the window or that the Word came on 6月22日."""
    from pipeline.summary import applicant_rows, problem_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx)], _at(22))  # the notice at 11:00: a window to 6月25日 11:00
    _step(p, "a@qq.com", [("盖章版.pdf", pdf)], _at(26))
    [row] = applicant_rows(p.store)
    assert row["status"] == "late"
    assert ("[逾期] 补正材料于 2025年6月26日 10:00 收到，已超过补正期限 2025年6月25日 11:00"
            "（首次报送于 2025年6月22日 10:00，申报截止时间 2025年6月23日 23:59），本次不予受理。") in problem_lines(row)
    letter = reply_text(p.rows("SELECT * FROM outbox ORDER BY id DESC LIMIT 1")[0])
    assert "补正期限（2025年6月25日 11:00" in letter  # the letter and the summary name the same limit
    p.close()


def test_a_stranger_cannot_replace_an_accepted_units_files_or_receive_its_letters(tmp_path, forms):
    """Anyone can name any unit (QA round 10): a broken form naming an accepted unit, from an
    address that never wrote for it and that its form does not give, flipped the unit to 需补正
    and sent the stranger the unit's 补正通知 with its receipt number. It is left for staff now."""
    import dataclasses as dc
    from decimal import Decimal

    from pipeline.summary import applicant_rows, left_mail_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "hqqkx2025@163.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    broken = build_form_docx(dc.replace(app, budget_total=Decimal("4500"), budget_total_text="4500"))
    _step(p, "attacker@evil.example", [("申报书.docx", broken)], _at(20, 15))
    [row] = applicant_rows(p.store)
    assert (row["status"], row["sender"]) == ("accepted", "hqqkx2025@163.com")
    assert [(r["kind"], r["to_addr"]) for r in p.rows("SELECT kind, to_addr FROM outbox")] == [("receipt", "hqqkx2025@163.com")]
    [left] = left_mail_lines(p.store)
    assert "attacker@evil.example" in left and "此地址首次为已受理的“" in left and "未替换该单位已有的材料" in left
    # The contact the accepted form gives may send a new version: it is the unit's.
    contact = app.contact.email
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    assert contact and contact.lower() in p.store.unit_addresses(key)
    _step(p, contact, [("申报书（修改）.docx", broken)], _at(21))
    assert applicant_rows(p.store)[0]["status"] == "needs_correction"
    assert p.rows("SELECT to_addr FROM outbox ORDER BY id DESC LIMIT 1")[0]["to_addr"] == contact
    p.close()


def test_a_bidi_override_in_a_unit_name_reaches_no_summary(tmp_path, forms):
    """U+202E in the Word's unit name stayed in the register, the HTML, CSV and XLSX (QA round 10)."""
    import dataclasses as dc

    from pipeline.summary import applicant_rows, render

    app = forms[0][0]
    spoofed = dc.replace(app, unit_name="新乡市红旗区科学技术协会\u202e\u200b", cover_unit="新乡市红旗区\u202d科学技术协会")
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", build_form_docx(spoofed)), ("盖章版.pdf", forms[0][2])], _at(20))
    [row] = applicant_rows(p.store)
    assert row["unit"] == "新乡市红旗区科学技术协会"
    for fmt in ("csv", "json", "html"):
        assert "\u202e" not in render(p.store, fmt).decode("utf-8-sig") and "\u202d" not in render(p.store, fmt).decode("utf-8-sig")
    p.close()


def test_each_line_of_a_note_is_an_item_of_the_letter_numbered_once(tmp_path, forms):
    """A second line stood unindented outside the list (QA round 10); joined, staff's own numbers
    read "1. 1. …。；2. …" (QA round 12). Each line is an item, numbered by the letter alone."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    note = "1. 第三部分经费预算合计有误，请核对。\n  2、请补充试点负责人手机号码；\n（3）盖章页日期请填写完整\n"
    p.runner.decide(key, "needs_correction", note=note, by="郭明梅", reply=True)
    text = reply_text(p.rows("SELECT * FROM outbox ORDER BY id DESC LIMIT 1")[0])
    assert "1. 第三部分经费预算合计有误，请核对。" in text and "2. 请补充试点负责人手机号码。" in text and "3. 盖章页日期请填写完整。" in text
    assert "1. 1." not in text and "。；" not in text
    assert "逾期通知不再适用" not in text  # no 逾期通知 was sent to this unit
    assert p.rows("SELECT note FROM decisions")[0]["note"] == note  # on record as typed
    p.close()


def _reply_to(data: bytes, addr: str) -> bytes:
    return data.replace(b"\nSubject:", f"\nReply-To: {addr}\nSubject:".encode(), 1)


def test_a_forged_from_of_the_units_own_address_cannot_move_its_letters_to_a_reply_to(tmp_path, forms):
    """From: the unit's own address, Reply-To: the attacker's, a broken form (QA round 11): the unit's
    letters went to the Reply-To, which then counted as one of the unit's addresses."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "office@hongqi.gov.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    when = _at(20, 15)
    p.runner.now = lambda: when + timedelta(hours=1)
    bad = build_form_docx(dataclasses.replace(app, unit_name=""))
    p.feed(_reply_to(form_mail("office@hongqi.gov.cn", [("申报书.docx", bad)], when), "attacker@evil.example"), when)
    p.judge()
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    assert p.rows("SELECT sender FROM applicants")[0]["sender"] == "office@hongqi.gov.cn"
    assert "attacker@evil.example" not in p.store.unit_addresses(key)
    assert {r["to_addr"] for r in p.rows("SELECT to_addr FROM outbox")} == {"office@hongqi.gov.cn"}
    p.close()


def test_a_stranger_may_bring_the_file_a_unit_lacks_but_not_replace_one_it_has(tmp_path, forms):
    """Before acceptance (QA round 11): a stranger's Word replaced the Word of a unit waiting for its
    PDF and took its 补正通知. The office sending the missing stamped PDF is still the unit's partner."""
    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "contact@qq.com", [("申报书.docx", docx)], _at(20))
    bad = build_form_docx(dataclasses.replace(app, unit_name=app.unit_name, budget_total=None, budget_total_text=""))
    _step(p, "stranger@evil.example", [("申报书.docx", bad)], _at(20, 12))
    assert p.rows("SELECT category FROM mails ORDER BY received_at")[-1]["category"] == "other"
    assert "stranger@evil.example" not in {r["to_addr"] for r in p.rows("SELECT to_addr FROM outbox")}
    _step(p, "office@qq.com", [("盖章版.pdf", pdf)], _at(20, 14))  # the missing partner, from the office
    assert status_of(p) == {app.unit: "accepted"}
    p.close()


def test_one_mail_for_an_accepted_unit_and_a_new_one_names_both_for_staff(tmp_path, forms):
    (a1, d1, p1), (a2, d2, p2) = forms
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", d1), ("盖章版.pdf", p1)], _at(20))
    _step(p, "agent@163.com", [("1.docx", d1), ("1.pdf", p1), ("2.docx", d2), ("2.pdf", p2)], _at(21))
    from pipeline.summary import left_mail_lines

    [left] = left_mail_lines(p.store)
    assert f"“{a1.unit}”" in left and f"另带有“{a2.unit}”的材料" in left
    p.close()


@pytest.mark.parametrize("cell", ["{0}、backup@qq.com", "backup@qq.com或{0}", "{0} / backup@qq.com"])
def test_every_address_a_form_gives_for_its_contact_speaks_for_the_unit(tmp_path, forms, cell):
    app, docx, pdf = forms[0]
    given = dataclasses.replace(app, contact=dataclasses.replace(app.contact, email=cell.format("lixy@163.com")))
    p = Pipeline(tmp_path)
    _step(p, "office@qq.com", [("申报书.docx", build_form_docx(given)), ("盖章版.pdf", pdf)], _at(20))
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    assert {"lixy@163.com", "backup@qq.com"} <= p.store.unit_addresses(key)
    p.close()


def test_a_staff_letter_is_not_held_by_the_per_address_limit_and_a_release_answers_older_holds(tmp_path, forms):
    """`decide --reply` after the limit was reached held the letter for good (QA round 11); and of two
    held letters only the latest was released, the other kept promising a letter later."""
    import dataclasses as dc
    from decimal import Decimal

    app, docx, pdf = forms[0]
    over = build_form_docx(dc.replace(app, budget_total=Decimal("4500"), budget_total_text="4500"))
    over2 = build_form_docx(dc.replace(app, budget_total=Decimal("4600"), budget_total_text="4600"))
    p = Pipeline(tmp_path)
    p.runner.cfg = dc.replace(p.runner.cfg, replies=dc.replace(p.runner.cfg.replies, max_per_address_per_day=1))
    clock = [ON_TIME]
    p.runner.now = lambda: clock[0]
    for hours, files in ((1, [("申报书.docx", over), ("盖章版.pdf", pdf)]), (2, [("申报书.docx", docx)]), (3, [("申报书.docx", over2)])):
        clock[0] = ON_TIME + timedelta(hours=hours)
        p.feed(form_mail("a@qq.com", files, clock[0]), clock[0])
        p.judge()
        p.store.conn.execute("UPDATE outbox SET state='sent' WHERE state='rendered'")
    assert [r["state"] for r in p.rows("SELECT state FROM outbox ORDER BY id")] == ["sent", "held", "held"]
    [key] = [r["key"] for r in p.rows("SELECT key FROM applicants")]
    row = p.runner.decide(key, "needs_correction", note="请补充经费测算依据", by="郭明梅", reply=True)
    assert row["state"] == "rendered"
    assert [r["state"] for r in p.rows("SELECT state FROM outbox ORDER BY id")] == ["sent", "superseded", "superseded", "rendered"]
    p.close()


@pytest.mark.parametrize("mark", ["\u200b", "\u200e", "\u2060", "\ufeff", "\u202e"])
def test_invisible_marks_in_the_unit_name_of_both_files_make_no_mismatch(tmp_path, forms, mark):
    """Word and PDF both name 新乡市\u200b红旗区\u200b科学技术协会 (pasted from WeChat): the Word's name
    was read without the marks and the PDF's with them, and the applicant got a 补正通知 naming two
    names that look the same (QA round 11, a regression of be26e5a)."""
    app = forms[0][0]
    marked = dataclasses.replace(app, unit_name=f"新乡市{mark}红旗区{mark}科学技术协会", cover_unit=f"新乡市{mark}红旗区{mark}科学技术协会")
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", build_form_docx(marked)), ("盖章版.pdf", build_form_pdf(marked))], _at(20))
    [row] = p.rows("SELECT status, findings FROM applicants")
    assert row["status"] == "accepted" and "unit_mismatch" not in row["findings"]
    p.close()


def test_staff_admit_a_set_aside_mail_as_the_application_it_is(tmp_path, forms):
    """Mail set aside for staff (a new address's files for a unit, a From our server found forged)
    had no way into the register once staff had checked it by phone (QA round 11): `intake admit`
    reads it again as an application, in place of its row, and answers it."""
    from pipeline.errors import IntakeError
    from pipeline.jobs import admit

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "office@hongqi.gov.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    revised = build_form_docx(dataclasses.replace(app, address=app.address + "（新址）"))
    _step(p, "wang.colleague@qq.com", [("申报书（修改）.docx", revised)], _at(21))
    assert p.rows("SELECT category FROM mails ORDER BY received_at")[-1]["category"] == "other"
    with pytest.raises(IntakeError, match="没有来自 nobody@qq.com"):
        admit(p.runner.cfg, "nobody@qq.com")
    n, _stats, address = admit(p.runner.cfg, "王同事 <Wang.Colleague@qq.com>。", by="郭明梅", now=lambda: _at(21, 11))
    assert (n, address) == (1, "wang.colleague@qq.com")
    with pytest.raises(IntakeError, match="已由郭明梅于 2025-06-21 11:00 核实后按申报处理"):
        admit(p.runner.cfg, "wang.colleague@qq.com")  # twice: says it was done
    [mail] = p.rows("SELECT category, applicant, no_reply_reason FROM mails WHERE sender='wang.colleague@qq.com'")
    assert mail["category"] == "application" and mail["no_reply_reason"].startswith("郭明梅于 2025-06-21 11:00 核实后按申报处理")
    assert len(p.rows("SELECT * FROM files WHERE mail_sha256 IN (SELECT sha256 FROM mails WHERE sender='wang.colleague@qq.com')")) == 1
    [row] = p.rows("SELECT status, sender, word_file_id FROM applicants")
    assert (row["status"], row["sender"]) == ("accepted", "wang.colleague@qq.com")
    assert p.rows("SELECT filename FROM files WHERE id=?", (row["word_file_id"],))[0]["filename"] == "申报书（修改）.docx"
    last = p.rows("SELECT kind, to_addr FROM outbox ORDER BY id DESC LIMIT 1")[0]
    assert (last["kind"], last["to_addr"]) == ("receipt", "wang.colleague@qq.com")
    # A From our server found forged, vouched for by staff.
    q = Pipeline(tmp_path / "forged")
    assert q.feed(FORGED_AR + form_mail("李主任 <li@qq.com>", [("申报书.docx", forms[1][1]), ("盖章版.pdf", forms[1][2])])) == "other"
    q.runner.now = lambda: ON_TIME + timedelta(hours=1)
    admit(q.runner.cfg, "li@qq.com", now=lambda: ON_TIME + timedelta(hours=1))
    assert [(r["kind"], r["to_addr"]) for r in q.rows("SELECT kind, to_addr FROM outbox")] == [("receipt", "li@qq.com")]
    q.close()
    p.close()


def test_admit_copes_with_a_copy_a_newer_version_and_a_mail_already_closed(tmp_path, forms):
    """QA round 12: two copies of one set-aside mail made every admit fail (UNIQUE constraint); admitting
    a mail newer files had replaced gave the unit's replies to its sender and erased the admit note;
    a mail `answered` had closed could not be admitted."""
    from pipeline.jobs import admit, answered

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "office@hongqi.gov.cn", [("申报书.docx", docx), ("盖章版.pdf", pdf)], _at(20))
    colleague = form_mail("wang@qq.com", [("申报书（修改）.docx", build_form_docx(dataclasses.replace(app, address=app.address + "（一）")))], _at(21))
    msg = email.message_from_bytes(colleague, policy=policy.default)
    msg["Message-ID"] = "<same@qq.com>"
    first = msg.as_bytes()
    p.runner.now = lambda: _at(21, 11)
    p.feed(first, _at(21))
    p.feed(b"X-Copy: 1\r\n" + first, _at(21))  # the same mail delivered twice
    _step(p, "office@hongqi.gov.cn", [("申报书（二稿）.docx", build_form_docx(dataclasses.replace(app, address=app.address + "（二）")))], _at(22))
    answered(p.runner.cfg, "wang@qq.com", by="赵津")
    n, _stats, _address = admit(p.runner.cfg, "wang@qq.com", by="郭明梅", now=lambda: _at(24))
    assert n == 2
    categories = sorted(r["category"] for r in p.rows("SELECT category FROM mails WHERE sender='wang@qq.com'"))
    assert categories == ["application", "duplicate"]
    [row] = p.rows("SELECT sender, word_file_id FROM applicants")
    assert row["sender"] == "office@hongqi.gov.cn"  # the unit's latest writer keeps its replies
    assert p.rows("SELECT filename FROM files WHERE id=?", (row["word_file_id"],))[0]["filename"] == "申报书（二稿）.docx"
    note = p.rows("SELECT no_reply_reason FROM mails WHERE sender='wang@qq.com' AND category='application'")[0]["no_reply_reason"]
    assert note.startswith("郭明梅于 2025-06-24 10:00 核实后按申报处理")
    p.close()


def test_staff_read_which_limit_a_version_after_it_missed(tmp_path, forms):
    """A pair complete on time, then a correction after its window (QA round 12): the letter named the
    补正期限, the staff row only '截止（或补正期限）后'. It names the limit and its time."""
    from pipeline.summary import applicant_rows, problem_lines

    app, docx, pdf = forms[0]
    p = Pipeline(tmp_path)
    _step(p, "a@qq.com", [("申报书.docx", docx), ("盖章版.pdf", build_form_pdf(app, seal="none"))], _at(22))  # notice 11:00
    _step(p, "a@qq.com", [("盖章版（补）.pdf", pdf)], _at(26))
    [row] = applicant_rows(p.store)
    assert any("补正期限 2025年6月25日 11:00之后，于 2025年6月26日 10:00 又收到新版本文件（盖章版（补）.pdf）" in line
               for line in problem_lines(row)), problem_lines(row)
    p.close()
