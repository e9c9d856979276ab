"""The staff summary from a hand-made database: what each format shows staff, and what it must not do."""
from __future__ import annotations

import csv
import email
import io
import json
import re
import zipfile
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import openpyxl
import pytest

from pipeline.digest import build_digest
from pipeline.store import Store
from pipeline.summary import applicant_rows, csv_cell, render, reply_cell

HOSTILE_UNIT = '=HYPERLINK("http://evil.example/x","点击查看")'
SEAL = {"kind": "red", "page": 5, "confidence": 1.0, "detail": "位置 x=151mm y=92mm（距页面左上角），半径 19.8mm，圆环覆盖 97%"}
FORM = {"pilot_types": ["县级科协试点"], "unit_name": "", "account_number": "6228480012345678901", "problems": []}


def finding(code: str, severity: str = "error", message: str | None = None) -> dict:
    return {"code": code, "severity": severity, "message": message or f"{code} 的说明", "location": "", "staff_only": False}


class Db:
    """A summary database written row by row, so each case shows exactly what it is about."""

    def __init__(self, root: Path):
        self.root = root
        self.store = Store.open(root / "intake.db")
        self.n = 0

    def file(self, applicant: str, name: str, role: str, parsed: dict | None) -> int:
        path = self.root / f"{self.n}-{role}.bin"
        path.write_bytes(b"x")
        return self.store.db["files"].insert(
            {"applicant": applicant, "filename": name, "role": role, "path": str(path), "parsed": json.dumps(parsed) if parsed is not None else None}
        ).last_pk

    def applicant(self, key: str, *, status: str, findings=(), unit: str = "", pilot: str = "", word=None, pdf=None,
                  first="2025-06-20T02:15:00.123456+00:00", last="2025-06-21T08:40:00+00:00", decision=None) -> None:
        self.n += 1
        row = {
            "key": key, "sender": key, "receipt_no": f"2025-KJZY-{self.n:03d}", "unit": unit, "pilot_type": pilot,
            "status": status, "findings": json.dumps(list(findings), ensure_ascii=False),
            "first_received_at": first, "last_received_at": last,
        }
        if word is not None:
            row["word_file_id"] = self.file(key, word[0], "word", word[1])
        if pdf is not None:
            row["pdf_file_id"] = self.file(key, pdf[0], "pdf", pdf[1])
        if decision is not None:
            row["decision_id"] = self.store.db["decisions"].insert({"applicant": key, **decision}).last_pk
        self.store.db["applicants"].insert(row, pk="key")
        self.store.db["outbox"].insert({"applicant": key, "kind": "receipt", "state": "sent", "to_addr": key})

    def question(self, applicant: str, subject: str, text: str, at: str = "2025-06-19T01:00:00+00:00") -> None:
        """A mail without files, as run.py records it: a staff note on the mail itself."""
        note = finding("mail_without_files", "warning", f"邮件没有附件，可能是咨询，请人工查看并答复。主题：“{subject}”；正文：“{text}”")
        self.store.db["mails"].insert(
            {"sha256": f"{applicant}-{at}", "sender": applicant, "subject": subject, "received_at": at,
             "category": "application", "applicant": applicant,
             "problems": json.dumps([{**note, "location": "邮件正文", "staff_only": True}], ensure_ascii=False)}
        )

    def other_mail(self, sender: str, subject: str, category: str, reason: str | None) -> None:
        self.store.db["mails"].insert(
            {"sha256": sender, "sender": sender, "subject": subject, "received_at": "2025-06-21T03:00:00+00:00",
             "category": category, "no_reply_reason": reason}
        )


@pytest.fixture
def db(tmp_path):
    d = Db(tmp_path)
    yield d
    d.store.close()


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def workbook(db: Db) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(render(db.store, "xlsx")))


def header(sheet) -> list[str]:
    return [c.value for c in sheet[1]]


def html_rows(html: str) -> list[str]:
    body = html.split('<table id="applicants">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr class=\"[a-z_]+\">.*?</tr>", body, re.S)


# -- 1. formula injection -----------------------------------------------------


def test_text_that_looks_like_a_formula_stays_text_in_xlsx(db):
    db.applicant("inj@163.com", status="needs_correction", unit=HOSTILE_UNIT, findings=[finding("unit_mismatch")],
                 word=("=1+2.docx", FORM), pdf=("+SUM(A1).pdf", {"seal": SEAL}))
    db.applicant("na@163.com", status="accepted", unit="#N/A", word=("@cmd.docx", FORM))
    data = render(db.store, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    sheet = wb["受理登记"]
    cols = header(sheet)
    cells = {name: sheet.cell(2, cols.index(name) + 1) for name in ("申报单位", "Word 文件", "PDF 文件")}
    assert cells["申报单位"].value == HOSTILE_UNIT and cells["Word 文件"].value == "=1+2.docx"
    assert all(c.data_type == "s" for c in cells.values())
    assert sheet.cell(3, cols.index("申报单位") + 1).value == "#N/A"
    assert sheet.cell(3, cols.index("申报单位") + 1).data_type == "s"
    assert wb["问题明细"].cell(2, 2).data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml


def test_text_that_looks_like_a_formula_is_quoted_in_csv(db):
    db.applicant("inj@163.com", status="needs_correction", unit=HOSTILE_UNIT, findings=[finding("unit_mismatch")],
                 word=("=1+2.docx", FORM), pdf=("-x.pdf", {"seal": SEAL}))
    row = csv_rows(render(db.store, "csv"))[0]
    assert row["申报单位"] == "'" + HOSTILE_UNIT
    assert row["Word 文件"] == "'=1+2.docx" and row["PDF 文件"] == "'-x.pdf"
    assert row["发件人"] == "inj@163.com" and row["受理编号"] == "2025-KJZY-001"
    assert row["最近收到"] == "2025-06-21 16:40"  # a time, not text to neutralise


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cell_neutralises_formula_starts(text):
    assert csv_cell(text) == "'" + text


def test_csv_cell_leaves_ordinary_text_and_formats_times():
    assert csv_cell("新乡市科学技术协会") == "新乡市科学技术协会"
    assert csv_cell("a=b") == "a=b"
    assert csv_cell(None) == ""
    assert csv_cell(datetime(2025, 6, 20, 10, 15)) == "2025-06-20 10:15"


def test_control_characters_in_a_file_name_do_not_break_the_xlsx(db):
    db.applicant("c@163.com", status="accepted", unit="单位\x01名称", word=("a\x07b.docx", FORM))
    sheet = workbook(db)["受理登记"]
    assert sheet.cell(2, header(sheet).index("申报单位") + 1).value == "单位名称"


# -- 2. a late applicant's problems read 逾期 ----------------------------------


def test_a_late_applicants_errors_read_late_everywhere(db):
    late = [finding("late", message="申报材料于 2025年6月24日 08:30 收到，已超过截止时间"), finding("missing_stamp"),
            finding("pdf_not_a4", "warning")]
    db.applicant("late@163.com", status="late", findings=late, unit="新乡学院科学技术协会", word=("a.docx", FORM))
    db.applicant("nc@163.com", status="needs_correction", findings=[finding("missing_pdf")], unit="卫辉市科学技术协会",
                 word=("b.docx", FORM))
    html = render(db.store, "html").decode("utf-8")
    late_row, nc_row = html_rows(html)
    assert "[逾期] 申报材料于" in late_row and "[逾期] missing_stamp" in late_row and "[提醒] pdf_not_a4" in late_row
    assert "需补正" not in late_row and "需补正" in nc_row
    # the browser filter matches text: each status word is found in exactly its header count of rows
    assert "<span>逾期 1 个</span>" in html and "<span>需补正 1 个</span>" in html
    assert sum("逾期" in r for r in html_rows(html)) == 1 and sum("需补正" in r for r in html_rows(html)) == 1
    detail = list(workbook(db)["问题明细"].iter_rows(min_row=2, values_only=True))
    assert [(r[2], r[3]) for r in detail] == [
        ("late", "逾期"), ("missing_stamp", "逾期"), ("pdf_not_a4", "提醒"), ("missing_pdf", "需补正")
    ]
    row = csv_rows(render(db.store, "csv"))[0]
    assert row["问题"].startswith("[逾期] 申报材料于") and "需补正" not in row["问题"]


def test_a_deadline_note_reads_late_only_for_a_late_applicant(db):
    """The deadline rule may leave a warning (a later version came after the cut-off):
    逾期 on a late row, 提醒 on an accepted one, so 逾期 still finds only late rows."""
    note = finding("late", "warning", "截止后又收到一版，未审核")
    db.applicant("a@163.com", status="late", findings=[note, finding("missing_stamp")], unit="甲", word=("a.docx", FORM))
    db.applicant("b@163.com", status="accepted", findings=[note], unit="乙", word=("b.docx", FORM))
    late_row, ok_row = html_rows(render(db.store, "html").decode("utf-8"))
    assert "[逾期] 截止后又收到一版" in late_row and "[提醒] 截止后又收到一版" in ok_row and "逾期" not in ok_row


# -- 3. the staff decision, first receipt, times ------------------------------


def test_an_overruled_row_shows_the_decision_and_both_times(db):
    decision = {"status": "accepted", "note": "公章经电话核实", "by": "郭明梅", "at": "2025-06-22T01:02:03.456789+00:00"}
    db.applicant("kx@htu.edu.cn", status="accepted", findings=[finding("missing_stamp")], unit="河南师范大学科学技术协会",
                 word=("a.docx", FORM), decision=decision)
    row = csv_rows(render(db.store, "csv"))[0]
    assert row["状态"] == "已受理"
    assert row["改判"] == "改判为已受理：公章经电话核实（郭明梅，2025-06-22 09:02）"
    assert row["问题"] == "[已改判] missing_stamp 的说明"
    assert (row["首次收到"], row["最近收到"]) == ("2025-06-20 10:15", "2025-06-21 16:40")
    sheet = workbook(db)["受理登记"]
    cols = header(sheet)
    assert cols.index("最近收到") == cols.index("首次收到") + 1 and "收到时间" not in cols
    assert sheet.cell(2, cols.index("首次收到") + 1).value == datetime(2025, 6, 20, 10, 15)
    assert sheet.cell(2, cols.index("首次收到") + 1).is_date
    assert sheet.cell(2, cols.index("改判") + 1).value.startswith("改判为已受理：公章经电话核实")
    html = render(db.store, "html").decode("utf-8")
    assert "改判为已受理：公章经电话核实（郭明梅，2025-06-22 09:02）" in html and "需补正" not in html_rows(html)[0]


def test_json_keeps_its_contract_with_iso_times_to_the_second(db):
    decision = {"status": "accepted", "note": "", "by": "郭明梅", "at": "2025-06-22T01:02:03.456789+00:00"}
    db.applicant("kx@htu.edu.cn", status="accepted", unit="河南师范大学科学技术协会", word=("a.docx", FORM), decision=decision)
    rows = json.loads(render(db.store, "json"))
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert row["first_received_at"] == "2025-06-20T10:15:00+08:00" and row["received_at"] == "2025-06-21T16:40:00+08:00"
    assert row["decision"]["at"] == "2025-06-22T09:02:03+08:00"
    assert {"unit", "sender", "status", "pilot_type", "received_at", "word_file", "pdf_file", "problems", "seal"} <= set(row)
    assert not {"seal_short", "form_read", "word_href"} & set(row)


# -- 4. other mail ------------------------------------------------------------


def test_other_mail_has_its_own_sheet_and_stays_out_of_the_csv(db):
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", word=("a.docx", FORM))
    db.other_mail("vac@163.com", "自动回复：申报材料", "no_reply", "自动发送的邮件（Auto-Submitted: auto-replied）")
    db.other_mail("wbqkx@126.com", "=请问材料收到了吗", "other", None)
    wb = workbook(db)
    sheet = wb["其他邮件"]
    assert header(sheet) == ["发件人", "主题", "收到时间", "类别", "原因"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows[0] == ("vac@163.com", "自动回复：申报材料", datetime(2025, 6, 21, 11, 0), "自动回复或群发",
                       "自动发送的邮件（Auto-Submitted: auto-replied）")
    assert rows[1][1] == "=请问材料收到了吗" and sheet.cell(3, 2).data_type == "s" and rows[1][4] == "非申报邮件"
    assert len(csv_rows(render(db.store, "csv"))) == 1


# -- 5. XLSX usability --------------------------------------------------------


def test_every_sheet_filters_and_prints_one_page_wide(db):
    db.applicant("a@163.com", status="needs_correction", findings=[finding("missing_pdf")], unit="新乡市医学会",
                 word=("a.docx", FORM), pdf=("a.pdf", {"seal": SEAL}))
    wb = workbook(db)
    assert wb.sheetnames == ["受理登记", "问题明细", "其他邮件"]
    for sheet in wb.worksheets:
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:")
        assert sheet.freeze_panes == "A2"
        assert sheet.page_setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert int(sheet.page_setup.fitToWidth) == 1 and int(sheet.page_setup.fitToHeight) == 0
        assert sheet.print_title_rows == "$1:$1"
    sheet = wb["受理登记"]
    cols = header(sheet)
    assert {"公章", "账号", "回复", "改判"} <= set(cols)
    values = dict(zip(cols, (c.value for c in sheet[2])))
    assert values["公章"] == "红色公章（第5页）" and values["账号"] == "****8901" and values["回复"] == "受理回执 已发送"
    assert sheet.cell(2, cols.index("问题") + 1).alignment.wrap_text
    assert "6228480012345678901" not in json.dumps([list(r) for r in sheet.iter_rows(values_only=True)], default=str)


# -- 6. short seal text -------------------------------------------------------


def test_the_seal_cell_is_short_with_the_evidence_in_a_tooltip(db):
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", word=("a.docx", FORM), pdf=("a.pdf", {"seal": SEAL}))
    row = html_rows(render(db.store, "html").decode("utf-8"))[0]
    cell = re.search(r"<td class=\"nw\" title=\"([^\"]*)\">([^<]*)</td>", row)
    assert cell and cell.group(2) == "红色公章（第5页）"
    assert "圆环覆盖 97%" in cell.group(1)
    assert "圆环覆盖" not in re.sub(r"<[^>]*>", "", row)  # not in the visible text


# -- 7. the mailed HTML has no file links -------------------------------------


def test_the_digest_html_names_files_without_linking_them(db):
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", word=("医学会.docx", FORM), pdf=("医学会.pdf", {"seal": SEAL}))
    msg = build_digest(db.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", datetime(2025, 6, 25, 0, 0, tzinfo=timezone.utc))
    msg = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    page = next(p for p in msg.iter_attachments() if p.get_filename().endswith(".html")).get_content()
    assert "医学会.docx" in page and "医学会.pdf" in page
    assert "file:" not in page and "<a " not in page and str(db.root) not in page
    # the summary written to a file keeps its links
    assert "file:" in render(db.store, "html").decode("utf-8")


# -- 8. the pilot-type count --------------------------------------------------


def test_untyped_counts_only_units_whose_form_was_read(db):
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", pilot="市级学会试点", word=("a.docx", FORM))
    db.applicant("b@163.com", status="needs_correction", findings=[finding("pilot_type_invalid")], unit="青少年宫",
                 word=("b.docx", {**FORM, "pilot_types": []}))
    db.applicant("c@163.com", status="needs_correction", findings=[finding("missing_word")], pdf=("c.pdf", {"seal": SEAL}))
    db.applicant("d@163.com", status="needs_correction", findings=[finding("wrong_form")],
                 word=("letter.docx", {"pilot_types": [], "problems": [finding("wrong_form")]}))
    db.applicant("e@163.com", status="needs_correction", findings=[finding("format_unreadable")],
                 word=("x.docx", {"problems": [finding("format_unreadable")]}))
    db.applicant("f@163.com", status="needs_correction", findings=[finding("pilot_type_invalid")], unit="图书馆",
                 pilot="县级科协试点、其它单位", word=("f.docx", FORM))
    html = render(db.store, "html").decode("utf-8")
    totals = html.split('<div class="totals">', 1)[1].split("</div>", 1)[0]
    assert "<span>未勾选 1 个</span>" in totals
    assert "<span>市级学会试点 1 个</span>" in totals and "<span>勾选多项 1 个</span>" in totals
    # The units without a read form are counted apart (the types add up to the units).
    assert totals.index("勾选多项") < totals.index("<span>申报书未收到或未能读取 3 个</span>")


# -- 9. questions that need a human answer ------------------------------------


def test_a_question_stays_in_every_format_after_the_unit_sends_its_files(db):
    """The note was on the applicant only until its next mail was judged: an answered-by-files
    unit's question vanished from the summary, and nobody answered it."""
    db.question("wang@htu.edu.cn", "咨询：高校科协能否申报试点", "请问试点类型勾选哪一项？")
    db.applicant("wang@htu.edu.cn", status="accepted", unit="河南师范大学科学技术协会", word=("a.docx", FORM),
                 pdf=("a.pdf", {"seal": SEAL}))
    expected = "请问试点类型勾选哪一项？”（2025-06-19 09:00 收到，发件人 wang@htu.edu.cn）"
    [row] = json.loads(render(db.store, "json"))
    assert [p["code"] for p in row["problems"]] == ["mail_without_files"] and row["problems"][0]["message"].endswith(expected)
    assert expected in csv_rows(render(db.store, "csv"))[0]["问题"]
    assert expected in html_rows(render(db.store, "html").decode("utf-8"))[0]
    wb = workbook(db)
    assert wb["问题明细"].cell(2, 3).value == "mail_without_files" and wb["问题明细"].cell(2, 6).value.endswith(expected)


def test_a_question_on_the_applicant_is_listed_once_with_its_time(db):
    note = finding("mail_without_files", "warning", "邮件没有附件，可能是咨询，请人工查看并答复。主题：“经费”；正文：“含劳务费吗？”")
    db.question("zhang@126.com", "经费", "含劳务费吗？", at="2025-06-21T07:00:00+00:00")
    db.applicant("zhang@126.com", status="needs_correction", findings=[finding("missing_word"), finding("missing_pdf"), note])
    [row] = json.loads(render(db.store, "json"))
    # Only a question so far: an inquiry, not an application whose files are missing.
    assert row["status"] == "inquiry" and [p["code"] for p in row["problems"]] == ["mail_without_files"]
    assert row["problems"][0]["message"].endswith("（2025-06-21 15:00 收到，发件人 zhang@126.com）")
    assert csv_rows(render(db.store, "csv"))[0]["状态"] == "仅来信咨询"


def test_the_digest_and_status_count_and_list_the_questions(db):
    db.question("wang@htu.edu.cn", "咨询：高校科协能否申报试点", "请问试点类型勾选哪一项？")
    db.applicant("wang@htu.edu.cn", status="accepted", unit="河南师范大学科学技术协会", word=("a.docx", FORM))
    db.question("zhang@126.com", "经费", "含劳务费吗？", at="2025-06-21T07:00:00+00:00")
    db.applicant("zhang@126.com", status="needs_correction", findings=[finding("missing_word"), finding("missing_pdf")])
    msg = build_digest(db.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", datetime(2025, 6, 25, 0, 0, tzinfo=timezone.utc))
    body = email.message_from_bytes(msg.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert "需要人工查看的邮件：2 封" in body
    assert "没有附件、可能是咨询、需要人工答复的邮件 2 封" in body
    assert "2025-06-19 09:00 wang@htu.edu.cn（2025-KJZY-001 河南师范大学科学技术协会）：咨询：高校科协能否申报试点" in body
    assert "2025-06-21 15:00 zhang@126.com（2025-KJZY-002）：经费" in body
    totals = render(db.store, "html").decode("utf-8").split('<div class="totals">', 1)[1].split("</div>", 1)[0]
    assert "<span>需人工答复的邮件 2 封</span>" in totals


def test_an_answered_question_leaves_the_to_do_but_not_the_record(db):
    """`intake answered`: staff answered by hand; the digest and the row stop asking for it."""
    db.question("wang@htu.edu.cn", "咨询：高校科协能否申报试点", "请问试点类型勾选哪一项？")
    db.applicant("wang@htu.edu.cn", status="needs_correction", findings=[finding("missing_word"), finding("missing_pdf")])
    key = db.store.find_applicant("wang@htu.edu.cn")
    assert db.store.mark_questions_answered(key, "郭明梅", datetime(2025, 6, 20, tzinfo=timezone.utc)) == 1
    assert db.store.mark_questions_answered(key, "郭明梅", datetime(2025, 6, 21, tzinfo=timezone.utc)) == 0
    [row] = applicant_rows(db.store)
    assert not any(p["code"] == "mail_without_files" for p in row["problems"])
    msg = build_digest(db.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", datetime(2025, 6, 25, 0, 0, tzinfo=timezone.utc))
    body = email.message_from_bytes(msg.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert "需要人工答复" not in body and "需要人工查看的邮件：0 封" in body
    [mail] = db.store.rows("SELECT answered_by, problems FROM mails")
    assert mail["answered_by"] == "郭明梅" and "mail_without_files" in mail["problems"]  # still on record


def test_a_question_is_not_greyed_out_like_a_mere_reminder(db):
    """Grey [提醒] lines need nothing from staff; a question needs an answer, so it stands out."""
    db.question("wang@htu.edu.cn", "咨询", "请问？")
    db.applicant("wang@htu.edu.cn", status="accepted", unit="河南师范大学科学技术协会", word=("a.docx", FORM))
    html = render(db.store, "html").decode("utf-8")
    [line] = re.findall(r'<div class="([^"]*)">\[提醒\] 邮件没有附件', html_rows(html)[0])
    assert "question" in line.split() and "warning" not in line.split()
    assert re.search(r"\.question\s*\{[^}]*font-weight:\s*bold", html)


def test_the_digest_says_how_many_counted_units_sent_no_file_yet(db):
    """A question alone makes an applicant row: it must not read as a defective application; an
    application whose files could not be opened is one, without files."""
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", word=("a.docx", FORM), pdf=("a.pdf", {"seal": SEAL}))
    db.question("zhang@126.com", "经费", "含劳务费吗？")
    db.applicant("zhang@126.com", status="needs_correction", findings=[finding("missing_word"), finding("missing_pdf")])
    db.applicant("li@126.com", status="needs_correction", findings=[finding("archive_unreadable")])
    msg = build_digest(db.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", datetime(2025, 6, 25, 0, 0, tzinfo=timezone.utc))
    body = email.message_from_bytes(msg.as_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert ("申报单位 2 个：已受理 1 个，需补正 1 个，逾期 0 个；另有 1 位发件人仅来信咨询、未报送材料；"
            "申报单位中有 1 个 Word 版申报书和盖章 PDF 版均未收到（如压缩包打不开、只发了云附件链接）。") in body


def test_the_digest_counts_units_missing_one_file_apart_from_those_missing_both(db):
    """A cloud link only, a PDF only, a Word only: "尚未收到 Word 或 PDF" said 1 where staff expected 3."""
    db.applicant("cy@163.com", status="needs_correction", findings=[finding("attachment_link_only")])
    db.applicant("yx@163.com", status="needs_correction", pdf=("盖章版.pdf", {"seal": SEAL}))
    db.applicant("wh@163.com", status="needs_correction", word=("申报书.docx", FORM))
    db.applicant("ok@163.com", status="accepted", word=("a.docx", FORM), pdf=("a.pdf", {"seal": SEAL}))
    msg = build_digest(db.store, "中心 <kpzx350@163.com>", "guo@xxkx.gov.cn", datetime(2025, 6, 25, 0, 0, tzinfo=timezone.utc))
    first = email.message_from_bytes(msg.as_bytes(), policy=policy.default).get_body(("plain",)).get_content().splitlines()[0]
    assert first.endswith("申报单位中有 1 个 Word 版申报书和盖章 PDF 版均未收到（如压缩包打不开、只发了云附件链接），"
                          "另有 2 个只收到其中一个。")
    assert "尚未收到 Word 或 PDF" not in first


def test_a_black_and_white_scan_is_not_called_a_photocopied_seal():
    from pipeline.summary import seal_short, seal_text

    bw = {"seal": {"kind": "grey", "page": None, "confidence": 0, "detail": "黑白或灰度扫描件"}}
    copied = {"seal": {"kind": "grey", "page": 5, "confidence": 0.8, "detail": ""}}
    assert seal_short(bw) == "黑白扫描，看不出红章" and "复印" not in seal_text(bw)
    assert seal_short(copied) == "公章无红色，疑为复印件或黑白扫描（第5页）"


LONG_NAME = "关于组织申报新乡市科技志愿服务试点建设的通知" * 4 + "（新乡市红旗区科学技术协会申报书终稿审阅）.docx"


def test_html_summary_copies_a_file_with_a_very_long_chinese_name(db, tmp_path):
    """A name of 100+ Chinese characters is over 255 bytes: cut in its stem, the kind's ending kept."""
    db.applicant("a@x.cn", status="accepted", unit="新乡市红旗区科学技术协会", word=(LONG_NAME, None))
    out = tmp_path / "out" / "汇总.html"
    out.parent.mkdir()
    html = render(db.store, "html", out=out).decode("utf-8")
    copies = list((out.parent / "汇总_文件").iterdir())
    assert len(copies) == 1
    copy = copies[0].name
    assert len(copy.encode("utf-8")) <= 255 and copy.startswith("2025-KJZY-001-关于组织申报") and copy.endswith(".docx")
    assert ".." not in copy
    from urllib.parse import quote

    assert quote(f"汇总_文件/{copy}") in html


def test_copy_name_keeps_the_applicants_ending_for_unconverted_kinds():
    from pipeline.summary import _copy_name

    name = _copy_name("2025-KJZY-007", "申报书" * 40 + ".docx", ".bin")
    assert name.startswith("2025-KJZY-007-申报书") and name.endswith(".docx")
    assert len(name.encode("utf-8")) <= 255 and ".." not in name
    assert _copy_name("2025-KJZY-007", "申报书.", ".pdf") == "2025-KJZY-007-申报书.pdf"
    assert _copy_name("2025-KJZY-007", "a/b:c.pdf", ".pdf") == "2025-KJZY-007-a_b_c.pdf"


def test_html_summary_is_written_when_a_file_cannot_be_copied(db, tmp_path):
    db.applicant("a@x.cn", status="accepted", unit="新乡市红旗区科学技术协会", word=("申报书.docx", None))
    out = tmp_path / "汇总.html"
    (tmp_path / "汇总_文件").write_text("not a folder")
    html = render(db.store, "html", out=out).decode("utf-8")
    assert "新乡市红旗区科学技术协会" in html and "汇总_文件/" not in html


def test_status_is_about_the_mailbox_poll_not_runs_by_hand(db):
    """cron's poll failing while staff import a mail by hand: status must not read "all well"."""
    from pipeline.summary import status_lines

    store = db.store
    lines = "\n".join(status_lines(store))
    assert "还没有收过信" in lines and "poll.log" in lines and "从未成功" in lines
    store.finish_run(store.start_run("poll"), ok=False, error="无法登录邮箱")
    store.finish_run(store.start_run("poll"), ok=False, error="无法登录邮箱")
    store.finish_run(store.start_run("import"), ok=True)
    store.finish_run(store.start_run("reprocess"), ok=True)
    lines = "\n".join(status_lines(store))
    assert "从未成功" in lines and "连续失败次数：2" in lines and "失败：无法登录邮箱" in lines, lines
    store.finish_run(store.start_run("poll"), ok=True)
    lines = "\n".join(status_lines(store))
    assert "从未成功" not in lines and "连续失败次数：0" in lines and "最近一次运行：成功" in lines, lines


def test_the_reply_column_names_the_letter_as_well_as_where_it_is(db):
    """Staff accepted a unit without --reply (QA round 10): 回复 read "已发送" — of the old 补正通知 —
    and they took it that the unit held a receipt."""
    db.applicant("a@163.com", status="accepted", unit="新乡市医学会", decision={"status": "accepted", "by": "郭明梅"})
    db.store.conn.execute("UPDATE outbox SET kind='correction' WHERE applicant='a@163.com'")
    db.store.db["outbox"].insert({"applicant": "b@163.com", "kind": "none", "state": "held", "to_addr": "b@163.com"})
    db.applicant("c@163.com", status="needs_correction", unit="新乡市农学会")
    [row] = [r for r in applicant_rows(db.store) if r["unit"] == "新乡市医学会"]
    assert reply_cell(row["reply"]) == "补正通知 已发送"
    assert reply_cell({"kind": "none", "state": "held"}) == "暂缓发送（满 24 小时后自动补发）"  # it is sent later (QA round 12)
    sheet = workbook(db)["受理登记"]
    cols = header(sheet)
    assert [c.value for c in sheet[2]][cols.index("回复")] == "补正通知 已发送"
    html = render(db.store, "html").decode()
    assert "补正通知 已发送" in html and "受理回执 已发送" in html
