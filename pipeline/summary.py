"""The staff receipt summary: one row per applicant, as JSON, CSV, HTML or XLSX."""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import shutil
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .models import LATE, QUESTION_CODE
from .privacy import mask_account  # summaries travel by mail: the last four only
from .replies import environment
from .store import Store, failed_in_a_row, findings_from_json, open_other, open_question, now_utc, parse_iso, submitted_by

log = logging.getLogger(__name__)

STATUS_ZH = {"accepted": "已受理", "needs_correction": "需补正", "late": "逾期", "inquiry": "仅来信咨询"}
# A sender who has only written without files (questions): listed, but not an application.
INQUIRY = "inquiry"
SEVERITY_ZH = {"error": "需补正", "warning": "提醒"}
# An error reads as what it means for this applicant: a late applicant's problems
# are not asked to be corrected, and an error staff overruled no longer counts.
# So the label always agrees with the status, and so do counts and filters.
ERROR_ZH = {"late": "逾期", "needs_correction": "需补正", "accepted": "已改判"}
DECISION_ZH = {"accepted": "改判为已受理", "needs_correction": "改判为需补正"}
LATE_CODE = "late"  # the deadline rule's code (rules/*.toml); judge.py keys the late status on it
OTHER_MAIL_ZH = {"no_reply": "自动回复或群发", "other": "需人工查看"}
REPLY_STATE_ZH = {
    "rendered": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "uncertain": "不确定是否送达",
    "held": "暂缓发送（满 24 小时后自动补发）",  # the per-address limit: sent by a later run
    "bounced": "被退回",
    "superseded": "未发送（已有更新的回复）",
}
FORMATS = ("json", "csv", "html", "xlsx")
TZ = ZoneInfo("Asia/Shanghai")
# What `--format json` has always held; anything else in a row is for the other formats.
JSON_KEYS = (
    "receipt_no", "unit", "sender", "status", "pilot_type", "received_at", "first_received_at",
    "word_file", "pdf_file", "word_path", "pdf_path", "account", "seal", "pdf_similarity",
    "problems", "reply", "decision",
)
UNREAD_FORM_CODES = frozenset({"format_unreadable", "wrong_form"})


def _local(value: str | None) -> str | None:
    """ISO 8601 in Beijing time, to the second (microseconds only confuse readers)."""
    dt = parse_iso(value)
    return dt.astimezone(TZ).replace(microsecond=0).isoformat() if dt else None


def _naive(value: str | None) -> datetime | None:
    """Beijing wall-clock time without offset: what a spreadsheet cell can hold."""
    dt = parse_iso(value)
    return dt.astimezone(TZ).replace(tzinfo=None, microsecond=0) if dt else None


def minute_text(value: str | None) -> str:
    """`YYYY-MM-DD HH:MM` Beijing time: what staff read, and what Excel takes for a date."""
    dt = _naive(value)
    return f"{dt:%Y-%m-%d %H:%M}" if dt else ""


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rows per status, in STATUS_ZH's order; questions-only senders last, not as applications."""
    return {key: sum(1 for r in rows if r["status"] == key) for key in STATUS_ZH}


def totals_line(rows: list[dict[str, Any]], unit: str = "") -> str:
    """`申报单位 5 个：已受理 2 个，…；另有 1 位发件人仅来信咨询、未报送材料` for the digest and demo."""
    counts = status_counts(rows)
    asked = counts.pop(INQUIRY)
    line = f"申报单位 {sum(counts.values())} 个：" + "，".join(f"{STATUS_ZH[k]} {n}{unit}" for k, n in counts.items())
    return line + (f"；另有 {asked} 位发件人仅来信咨询、未报送材料" if asked else "")


def applicant_rows(store: Store) -> list[dict[str, Any]]:
    """The summary records: the JSON contract (JSON_KEYS) plus keys the other formats show."""
    files = {r["id"]: r for r in store.rows("SELECT id, filename, path, size, parsed FROM files")}
    last_reply = {}
    for r in store.rows("SELECT applicant, kind, state, sent_at, updated_at FROM outbox ORDER BY id"):
        last_reply[r["applicant"]] = r
    decisions = {d["id"]: d for d in store.rows("SELECT * FROM decisions")}
    questions: dict[str, list[dict[str, Any]]] = {}
    answered = answered_questions(store)
    for q in question_mails(store):
        questions.setdefault(q["applicant"], []).append(q["problem"])
    mails: dict[str, list[dict[str, Any]]] = {}
    for m in store.rows("SELECT applicant, received_at, problems FROM mails WHERE category='application'"):
        mails.setdefault(m["applicant"], []).append(m)
    out = []
    # Numbered applications first, then those who only asked (no receipt number).
    for a in store.rows("SELECT * FROM applicants ORDER BY receipt_no IS NULL, receipt_no, first_received_at"):
        decision = decisions.get(a["decision_id"])
        word = files.get(a["word_file_id"]) or {}
        pdf = files.get(a["pdf_file_id"]) or {}
        reply = last_reply.get(a["key"])
        # Only questions so far: not an application needing correction (its missing files are no problem
        # to list), unless staff decided otherwise.
        wrote = mails.get(a["key"], [])
        inquiry = bool(wrote) and not decision and not word and not pdf and not submitted_by(wrote)
        out.append(
            {
                "receipt_no": a["receipt_no"] or "",
                "unit": a["unit"] or "",
                "sender": a["sender"],
                "status": INQUIRY if inquiry else a["status"],
                "pilot_type": a["pilot_type"] or "",
                "received_at": _local(a["last_received_at"]),
                "first_received_at": _local(a["first_received_at"]),
                "word_file": word.get("filename"),
                "pdf_file": pdf.get("filename"),
                "word_path": word.get("path"),
                "pdf_path": pdf.get("path"),
                "account": mask_account(_parsed(word).get("account_number", "")),
                "seal": seal_text(_parsed(pdf)),
                "pdf_similarity": a.get("pdf_similarity"),
                # A question is read from its mail, not the verdict: the verdict is remade from the
                # latest files, and a unit that sent them after asking still awaits an answer.
                "problems": [
                    {"code": f.code, "severity": f.severity, "message": f.message, "location": f.location}
                    for f in findings_from_json(a["findings"])
                    if f.code != QUESTION_CODE and not inquiry  # questions: listed from the mails below, until answered
                ]
                + questions.get(a["key"], [])
                + answered.get(a["key"], []),
                "reply": {"kind": reply["kind"], "state": reply["state"]} if reply else None,
                "decision": (
                    {"status": decision["status"], "note": decision["note"], "by": decision["by"], "at": _local(decision["at"])}
                    if decision
                    else None
                ),
                "seal_short": seal_short(_parsed(pdf)),
                "form_read": form_was_read(_parsed(word)),
            }
        )
    return out


SEAL_ZH = {"red": "红色公章", "electronic": "电子签章", "grey": "公章无红色，疑为复印件或黑白扫描", "none": "未发现公章",
           "error": "公章检测出错，请人工核对"}
BW_SCAN_ZH = "黑白扫描，看不出红章"  # "grey" without a page: no ring at all, on pages that cannot show colour


def _seal_kind_text(seal: dict[str, Any]) -> str:
    if seal.get("kind") == "grey" and not seal.get("page"):
        return BW_SCAN_ZH
    if seal.get("kind") == "none" and seal.get("appendix_page"):
        # A red seal staff will see when they open the file, but on an appendix (a certificate's issuer's).
        return f"未发现公章，第{seal['appendix_page']}页附件上有红色印章"
    return SEAL_ZH.get(seal.get("kind"), seal.get("kind") or "")


def seal_text(pdf_facts: dict[str, Any]) -> str:
    """The seal evidence as staff read it: kind, page, and where 八 is."""
    seal = pdf_facts.get("seal") or {}
    if not seal:
        return ""
    text = _seal_kind_text(seal)
    if seal.get("page"):
        text += f"（第 {seal['page']} 页"
        if pdf_facts.get("opinion_page") and pdf_facts["opinion_page"] != seal["page"]:
            text += f"；“申报单位意见”在第 {pdf_facts['opinion_page']} 页"
        text += f"，置信度 {float(seal.get('confidence') or 0):.0%}）"
    if seal.get("detail"):
        text += f" {seal['detail']}"
    return text


def seal_short(pdf_facts: dict[str, Any]) -> str:
    """The seal in one short line for a table cell; `seal_text` has the evidence."""
    seal = pdf_facts.get("seal") or {}
    if not seal:
        return ""
    text = _seal_kind_text(seal)
    return f"{text}（第{seal['page']}页）" if seal.get("page") else text


def form_was_read(word_facts: dict[str, Any]) -> bool:
    """True when a Word file was read as the call's form, so an empty 试点类型 means unticked."""
    if not word_facts:
        return False
    codes = {p.get("code") for p in word_facts.get("problems") or () if isinstance(p, dict)}
    return not codes & UNREAD_FORM_CODES


def _parsed(file_row: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(file_row.get("parsed") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def problem_label(problem: dict[str, Any], status: str | None) -> str:
    """The bracketed word before a problem: errors follow the applicant's status (ERROR_ZH);
    a late applicant's deadline note reads 逾期 even when the rule made it a warning."""
    if problem["severity"] == "error" or (status == LATE and problem.get("code") == LATE_CODE):
        return ERROR_ZH.get(status or "", SEVERITY_ZH["error"])
    return SEVERITY_ZH.get(problem["severity"], problem["severity"])


def problem_lines(row: dict[str, Any]) -> list[str]:
    """`[label] message` per problem, as the HTML shows them, for the flat formats."""
    return [f"[{problem_label(p, row['status'])}] {p['message']}" for p in row["problems"]]


def decision_text(decision: dict[str, Any] | None) -> str:
    """Why a row's status can differ from its problems: the staff decision, its note, who and when."""
    if not decision:
        return ""
    text = DECISION_ZH.get(decision["status"], decision["status"] or "改判")
    if decision.get("note"):
        text += f"：{decision['note']}"
    who = "，".join(x for x in (decision.get("by") or "", minute_text(decision.get("at"))) if x)
    return text + (f"（{who}）" if who else "")


def pilot_type_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Applicants per pilot type. A unit whose Word form was not read (none yet, unreadable,
    not the form) has no type to count: they are counted apart, so the types add up to the units."""
    counts: dict[str, int] = {}
    unread = 0
    for r in rows:
        if r.get("status") == INQUIRY:
            continue
        if not r.get("form_read"):
            unread += 1
            continue
        key = r["pilot_type"] or "未勾选"
        if "、" in key:
            key = "勾选多项"
        counts[key] = counts.get(key, 0) + 1
    return {**counts, **({"申报书未收到或未能读取": unread} if unread else {})}


def other_mail_rows(store: Store) -> list[dict[str, Any]]:
    """Mail that is not an application: shown to staff, never answered."""
    return [
        {
            "sender": r["sender"],
            "subject": r["subject"],
            "received_at": _local(r["received_at"]),
            "category": r["category"],
            "reason": _handled(r["no_reply_reason"] or "", r),
        }
        for r in store.rows("SELECT * FROM mails WHERE category IN ('no_reply','other') ORDER BY received_at")
    ]


def _closed_by(mail) -> str:
    """Who closed a mail with `intake answered`, and when: "王老师于 2025-06-20 10:00" (no space
    after a Chinese name; the digits keep theirs)."""
    return f"{mail['answered_by'] or '工作人员'}于 {minute_text(mail['answered_at'])}"


def _handled(reason: str, mail) -> str:
    """The staff reason of a left mail, with who closed it (`intake answered`) and when."""
    return f"{reason}（已由{_closed_by(mail)} 处理）" if mail["answered_at"] else reason


ANSWERED_CODE = "question_answered"


def answered_questions(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Questions staff marked answered (`intake answered`), per applicant, as a note: a colleague
    must see that the question was answered, by whom and when, not that it vanished."""
    out: dict[str, list[dict[str, Any]]] = {}
    for m in store.rows(
        "SELECT applicant, subject, answered_at, answered_by FROM mails WHERE answered_at IS NOT NULL AND applicant IS NOT NULL"
        " ORDER BY received_at"
    ):
        message = f"咨询已由{_closed_by(m)} 答复（主题：“{m['subject'] or '（无主题）'}”）"
        out.setdefault(m["applicant"], []).append(
            {"code": ANSWERED_CODE, "severity": "warning", "message": message, "location": "邮件正文"}
        )
    return out


def question_mails(store: Store) -> list[dict[str, Any]]:
    """Mail about the call without any file (most likely a question), oldest first: each needs
    a person to answer it, whatever became of the applicant since."""
    numbers = {a["key"]: a for a in store.rows("SELECT key, receipt_no, unit FROM applicants")}
    out = []
    condition, params = open_question()
    for m in store.rows(f"SELECT applicant, sender, subject, received_at, problems FROM mails WHERE {condition} ORDER BY received_at", params):
        for f in findings_from_json(m["problems"]):
            if f.code != QUESTION_CODE:
                continue
            applicant = numbers.get(m["applicant"]) or {}
            came = "，".join(
                x
                for x in (
                    f"{minute_text(m['received_at'])} 收到" if m["received_at"] else "",
                    f"发件人 {m['sender']}" if m["sender"] else "",
                )
                if x
            )
            out.append(
                {
                    "applicant": m["applicant"],
                    "receipt_no": applicant.get("receipt_no") or "",
                    "unit": applicant.get("unit") or "",
                    "sender": m["sender"] or "",
                    "subject": m["subject"] or "",
                    "received_at": _local(m["received_at"]),
                    "problem": {
                        "code": f.code,
                        "severity": f.severity,
                        "message": f.message + (f"（{came}）" if came else ""),
                        "location": f.location,
                    },
                }
            )
    return out


def question_lines(store: Store) -> list[str]:
    """The questions as the digest lists them: when, who, which applicant, the subject."""
    lines = []
    for q in question_mails(store):
        who = " ".join(x for x in (q["receipt_no"], q["unit"]) if x)
        lines.append(f"  {minute_text(q['received_at'])} {q['sender']}{f'（{who}）' if who else ''}：{q['subject'] or '（无主题）'}")
    return lines


def left_mail_lines(store: Store) -> list[str]:
    """The mails left for staff and not yet closed, as the digest lists them: when, who (with the
    unit the address wrote for), the subject and why no automatic reply was sent."""
    lines = []
    for m in store.rows(f"SELECT * FROM mails WHERE {open_other()} ORDER BY received_at"):
        units = [u for _, u in store.sender_units(m["sender"])] if m["sender"] else []
        who = f"（{units[-1]}）" if units else ""
        lines.append(
            f"  {minute_text(m['received_at'])} {m['sender'] or '（无发件地址）'}{who}：{m['subject'] or '（无主题）'}"
            f"——{m['no_reply_reason'] or '请查看原邮件'}"
        )
    return lines


def render(store: Store, fmt: str, *, out: Path | None = None, links: bool = True) -> bytes:
    """The summary in `fmt`. For HTML written to `out`, the stored Word and PDF
    files are copied beside it and linked relatively, so the folder works from a
    USB stick; without `out` links point into the storage directory, and with
    `links=False` (a mailed copy) file names are plain text."""
    rows = applicant_rows(store)
    if fmt == "json":
        data = [{k: row[k] for k in JSON_KEYS} for row in rows]
        return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    if fmt == "csv":
        return _csv(rows)
    if fmt == "html":
        for row in rows:
            row["word_href"] = _href(row, "word", out) if links else ""
            row["pdf_href"] = _href(row, "pdf", out) if links else ""
        return _html(store, rows)
    if fmt == "xlsx":
        return _xlsx(rows, other_mail_rows(store))
    raise ValueError(fmt)


# One applicant per row, in the HTML's order; the two times are real dates in XLSX.
REGISTER_COLUMNS = (
    "受理编号", "申报单位", "试点类型", "发件人", "首次收到", "最近收到", "状态", "改判", "问题",
    "Word 文件", "PDF 文件", "公章", "账号", "回复",
)
CSV_COLUMNS = REGISTER_COLUMNS  # the CSV is the 受理登记 sheet
TIME_COLUMNS = (5, 6)  # 1-based: 首次收到, 最近收到
PROBLEM_COLUMN = 9
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _register_values(row: dict[str, Any], problem_sep: str) -> list[Any]:
    """One 受理登记 row; times as naive Beijing datetimes, everything else text."""
    return [
        row["receipt_no"] or "",
        row["unit"],
        row["pilot_type"],
        row["sender"] or "",
        _naive(row["first_received_at"]),
        _naive(row["received_at"]),
        STATUS_ZH.get(row["status"], row["status"] or ""),
        decision_text(row["decision"]),
        problem_sep.join(problem_lines(row)),
        row["word_file"] or "",
        row["pdf_file"] or "",
        row["seal_short"],
        row["account"],
        reply_cell(row["reply"]),
    ]


def reply_cell(reply: dict[str, Any] | None) -> str:
    """The latest reply as the 回复 column shows it: which letter and where it is ("补正通知 已发送").
    The state alone told staff who had just accepted a unit that "已发送" — of the old 补正通知."""
    if not reply:
        return ""
    from .replies import SUBJECT_TAG

    state = REPLY_STATE_ZH.get(reply["state"], reply["state"])
    kind = SUBJECT_TAG.get(reply["kind"])
    return f"{kind} {state}" if kind else state


def csv_cell(value: Any) -> str:
    """A CSV cell Excel will not run: text that starts like a formula gets a leading quote
    (OWASP CSV injection); times are written the way Excel reads a date."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(v) for v in _register_values(row, "；")])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel reads UTF-8


def _href(row: dict[str, Any], role: str, out: Path | None) -> str:
    path = row.get(f"{role}_path")
    if not path or not Path(path).is_file():
        return ""
    if out is None:
        return Path(path).resolve().as_uri()
    folder = out.parent / f"{out.stem}_文件"
    target = folder / _copy_name(row["receipt_no"], row.get(f"{role}_file") or role, Path(path).suffix)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    except OSError as exc:  # one file that cannot be copied leaves its row without a link, not the table unwritten
        log.warning("copying %s for the HTML summary failed: %s", target.name, exc)
        return ""
    return quote(f"{folder.name}/{target.name}")


COPY_NAME_BYTES = 200  # file systems allow 255 bytes a name; a Chinese character takes 3


def _copy_name(receipt_no: str | None, filename: str, stored_suffix: str) -> str:
    """The applicant's own file name behind the receipt number, safe for any file system.

    The stored suffix says the kind; .bin only says "not one we convert", so the
    applicant's own ending is kept then. A long name is cut in its stem, by bytes.
    """
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", filename)
    suffix = stored_suffix if stored_suffix != ".bin" else Path(name).suffix[:16]
    stem = name[: -len(suffix)] if suffix and name.lower().endswith(suffix.lower()) else name
    prefix = f"{receipt_no}-"
    room = COPY_NAME_BYTES - len((prefix + suffix).encode("utf-8"))
    stem = stem.encode("utf-8")[: max(room, 1)].decode("utf-8", "ignore").rstrip(". ") or "file"
    return f"{prefix}{stem}{suffix}"


def _html(store: Store, rows: list[dict[str, Any]]) -> bytes:
    totals = status_counts(rows)
    for r in rows:
        r["problem_view"] = [
            {
                # A question waits for a staff answer: not a grey reminder that asks nothing.
                "css": "question" if p["code"] == QUESTION_CODE else p["severity"],
                "label": problem_label(p, r["status"]),
                "message": p["message"],
            }
            for p in r["problems"]
        ]
        r["decision_text"] = decision_text(r["decision"])
        r["first_text"] = minute_text(r["first_received_at"])
        r["last_text"] = minute_text(r["received_at"])
        similarity = f"PDF 与 Word 正文相似度 {r['pdf_similarity']:.0%}" if r["pdf_similarity"] is not None else ""
        r["seal_title"] = "\n".join(x for x in (r["seal"], similarity) if x)
    others = other_mail_rows(store)
    for o in others:
        o["time_text"] = minute_text(o["received_at"])
    html = environment().get_template("summary/summary.html.j2").render(
        rows=rows,
        others=others,
        totals=totals,
        applications=len(rows) - totals[INQUIRY],
        by_type=pilot_type_counts(rows),
        questions=sum(p["code"] == QUESTION_CODE for r in rows for p in r["problems"]),  # applicant_rows lists them
        status_zh=STATUS_ZH,
        reply_cell=reply_cell,
        generated=datetime.now(TZ).strftime("%Y-%m-%d %H:%M"),
    )
    return html.encode("utf-8")


_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _append_text_safe(ws, values: list[Any] | tuple[Any, ...]) -> None:
    """Append a row whose text cells stay text: openpyxl would make `=…` a live formula
    (and `#N/A` an error), and refuses control characters a file name may carry."""
    cleaned = [(_XLSX_ILLEGAL.sub("", v)[:32767] or None) if isinstance(v, str) else v for v in values]
    ws.append(cleaned)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


LINE_HEIGHT_PT = 15


def _wrapped_lines(value: Any, width: int) -> int:
    """How many lines `value` takes in a wrapping column `width` characters wide
    (a Chinese character is two)."""
    if not isinstance(value, str):
        return 1
    room = max(width - 1, 1)
    total = 0
    for line in value.split("\n"):
        used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in line)
        total += max(1, math.ceil(used / room))
    return total


def _finish_sheet(ws, widths: tuple[int, ...], *, wrap: tuple[int, ...] = (), dates: tuple[int, ...] = ()) -> None:
    """Bold frozen header with filter, column widths, and a landscape A4 print that fits the
    width and repeats the header on every page."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for r in range(2, ws.max_row + 1):
        for c in dates:
            ws.cell(r, c).number_format = "yyyy-mm-dd hh:mm"
        for c in range(1, len(widths) + 1):
            ws.cell(r, c).alignment = Alignment(wrap_text=c in wrap, vertical="top")
        # Not every spreadsheet program grows a row for wrapped text by itself.
        lines = max((_wrapped_lines(ws.cell(r, c).value, widths[c - 1]) for c in wrap), default=1)
        if lines > 1:
            ws.row_dimensions[r].height = LINE_HEIGHT_PT * lines
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _xlsx(rows: list[dict[str, Any]], others: list[dict[str, Any]]) -> bytes:
    """The register staff print and filter: applicants, one row per problem, and the mail
    that was not an application (the HTML's lower table)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "受理登记"
    ws.append(REGISTER_COLUMNS)
    for row in rows:
        _append_text_safe(ws, _register_values(row, "\n"))
    _finish_sheet(
        ws,
        (13, 20, 12, 20, 15, 15, 7, 18, 44, 20, 20, 17, 9, 9),
        wrap=(2, 3, 4, 8, PROBLEM_COLUMN, 10, 11, 12),
        dates=TIME_COLUMNS,
    )

    ws2 = wb.create_sheet("问题明细")
    ws2.append(("受理编号", "申报单位", "代码", "类别", "位置", "说明"))
    for row in rows:
        for p in row["problems"]:
            label = problem_label(p, row["status"])
            _append_text_safe(ws2, (row["receipt_no"] or "", row["unit"], p["code"], label, p["location"] or "", p["message"]))
    _finish_sheet(ws2, (14, 24, 20, 8, 24, 70), wrap=(2, 5, 6))

    ws3 = wb.create_sheet("其他邮件")
    ws3.append(("发件人", "主题", "收到时间", "类别", "原因"))
    for o in others:
        _append_text_safe(
            ws3,
            (
                o["sender"] or "",
                o["subject"] or "",
                _naive(o["received_at"]),
                OTHER_MAIL_ZH.get(o["category"], o["category"] or ""),
                o["reason"] or "非申报邮件",
            ),
        )
    _finish_sheet(ws3, (28, 40, 16, 14, 50), wrap=(2, 5), dates=(3,))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def bounced_lines(store: Store) -> list[str]:
    """Replies that came back undelivered and were not resent since, newest first: staff phone these units."""
    from .replies import reply_name, reply_owner

    return [
        f"{reply_owner(r)} {r['to_addr']}：{reply_name(r['kind'])}，{r['error'] or '被退回'}（回复编号 {r['id']}）".strip()
        for r in store.rows(
            "SELECT o.id, o.to_addr, o.kind, o.error, a.receipt_no, a.unit FROM outbox o LEFT JOIN applicants a ON a.key = o.applicant"
            " WHERE o.state='bounced' AND NOT EXISTS (SELECT 1 FROM outbox l WHERE l.message_id = o.message_id"
            " AND l.id > o.id AND l.state='sent') ORDER BY o.updated_at DESC LIMIT 50"
        )
    ]


NEVER_POLLED = "还没有收过信（若已设置 cron 定时任务，请查看 poll.log：多为找不到 intake 命令或授权码未读入）"


def status_lines(store: Store) -> list[str]:
    """What `intake status` prints: is intake working, and what needs a person."""
    polls = store.finished_polls(50)
    last_ok, last = store.last_good_poll(), (polls[0] if polls else None)
    failures = failed_in_a_row(polls)
    counts = {r["state"]: r["n"] for r in store.rows("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")}
    condition, params = open_question()
    attention = store.one(
        f"SELECT COUNT(*) AS n FROM mails WHERE problems LIKE '%mail_unparseable%' OR ({open_other()}) OR ({condition})", params
    )["n"]
    ahead = bool(last_ok) and parse_iso(last_ok) > now_utc()
    lines = [
        f"上次成功运行：{_local(last_ok)[:19].replace('T', ' ') if last_ok else '从未成功'}（收信 intake poll）"
        + ("——这个时间晚于现在，本机时钟可能被往回调整过，请核对系统时间" if ahead else ""),
        "最近一次运行："
        + ("成功" if last and last["ok"] else ("失败：" + (last["error"] or "") if last else NEVER_POLLED)),
        f"连续失败次数：{failures}",
        "回复："
        + "，".join(f"{REPLY_STATE_ZH.get(k, k)} {v}" for k, v in sorted(counts.items()))
        if counts
        else "回复：无",
        f"需要人工查看的邮件：{attention} 封",
    ]
    older = store.meta("older_mail")
    if older:
        since, _, where = older.partition("|")
        lines.append(f"通知日期（{since}）之前收到、不属于本次征集而未处理的邮件：{where}")
    return lines
