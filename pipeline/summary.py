"""The staff receipt summary: one row per applicant, as JSON, CSV, HTML or XLSX."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .replies import environment
from .store import Store, findings_from_json, parse_iso

STATUS_ZH = {"accepted": "已受理", "needs_correction": "需补正", "late": "逾期"}
SEVERITY_ZH = {"error": "需补正", "warning": "提醒"}
REPLY_STATE_ZH = {
    "rendered": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
    "uncertain": "不确定是否送达",
    "held": "未自动回复",
}
FORMATS = ("json", "csv", "html", "xlsx")
TZ = ZoneInfo("Asia/Shanghai")


def _local(value: str | None) -> str | None:
    dt = parse_iso(value)
    return dt.astimezone(TZ).isoformat() if dt else None


def applicant_rows(store: Store) -> list[dict[str, Any]]:
    """The summary records (the JSON contract plus a few extra keys)."""
    files = {r["id"]: r for r in store.rows("SELECT id, filename, path, size, parsed FROM files")}
    last_reply = {}
    for r in store.rows("SELECT applicant, kind, state, sent_at, updated_at FROM outbox ORDER BY id"):
        last_reply[r["applicant"]] = r
    decisions = {d["id"]: d for d in store.rows("SELECT * FROM decisions")}
    out = []
    for a in store.rows("SELECT * FROM applicants ORDER BY receipt_no"):
        decision = decisions.get(a["decision_id"])
        word = files.get(a["word_file_id"]) or {}
        pdf = files.get(a["pdf_file_id"]) or {}
        reply = last_reply.get(a["key"])
        out.append(
            {
                "receipt_no": a["receipt_no"],
                "unit": a["unit"] or "",
                "sender": a["sender"],
                "status": a["status"],
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
                "problems": [
                    {"code": f.code, "severity": f.severity, "message": f.message, "location": f.location}
                    for f in findings_from_json(a["findings"])
                ],
                "reply": {"kind": reply["kind"], "state": reply["state"]} if reply else None,
                "decision": (
                    {"status": decision["status"], "note": decision["note"], "by": decision["by"], "at": _local(decision["at"])}
                    if decision
                    else None
                ),
            }
        )
    return out


SEAL_ZH = {"red": "红色公章", "electronic": "电子签章", "grey": "疑似黑白复印", "none": "未发现公章"}


def seal_text(pdf_facts: dict[str, Any]) -> str:
    """The seal evidence as staff read it: kind, page, and where 八 is."""
    seal = pdf_facts.get("seal") or {}
    if not seal:
        return ""
    text = SEAL_ZH.get(seal.get("kind"), seal.get("kind", ""))
    if seal.get("page"):
        text += f"（第 {seal['page']} 页"
        if pdf_facts.get("opinion_page") and pdf_facts["opinion_page"] != seal["page"]:
            text += f"；“申报单位意见”在第 {pdf_facts['opinion_page']} 页"
        text += f"，置信度 {float(seal.get('confidence') or 0):.0%}）"
    if seal.get("detail"):
        text += f" {seal['detail']}"
    return text


def mask_account(number: str) -> str:
    """Staff see only the last 4 digits of a bank account (summaries travel by mail)."""
    digits = "".join(c for c in number or "" if c.isdigit())
    return f"****{digits[-4:]}" if digits else ""


def _parsed(file_row: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(file_row.get("parsed") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def other_mail_rows(store: Store) -> list[dict[str, Any]]:
    """Mail that is not an application: shown to staff, never answered."""
    return [
        {
            "sender": r["sender"],
            "subject": r["subject"],
            "received_at": _local(r["received_at"]),
            "category": r["category"],
            "reason": r["no_reply_reason"] or "",
        }
        for r in store.rows("SELECT * FROM mails WHERE category IN ('no_reply','other') ORDER BY received_at")
    ]


def render(store: Store, fmt: str, *, out: Path | None = None) -> bytes:
    """The summary in `fmt`. For HTML written to `out`, the stored Word and PDF
    files are copied beside it and linked relatively, so the folder works from a
    USB stick; otherwise links point into the storage directory."""
    rows = applicant_rows(store)
    for row in rows:
        row["word_href"] = _href(row, "word", out)
        row["pdf_href"] = _href(row, "pdf", out)
    if fmt == "json":
        for row in rows:
            del row["word_href"], row["pdf_href"]
        return json.dumps(rows, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    if fmt == "csv":
        return _csv(rows)
    if fmt == "html":
        return _html(store, rows)
    if fmt == "xlsx":
        return _xlsx(rows)
    raise ValueError(fmt)


CSV_COLUMNS = ("受理编号", "申报单位", "发件人", "状态", "试点类型", "收到时间", "Word 文件", "PDF 文件", "问题")


def _problem_text(row: dict[str, Any]) -> str:
    return "；".join(f"[{SEVERITY_ZH[p['severity']]}] {p['message']}" for p in row["problems"])


def _flat(row: dict[str, Any]) -> list[Any]:
    return [
        row["receipt_no"],
        row["unit"],
        row["sender"],
        STATUS_ZH.get(row["status"], row["status"] or ""),
        row["pilot_type"],
        row["received_at"] or "",
        row["word_file"] or "",
        row["pdf_file"] or "",
        _problem_text(row),
    ]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_flat(row))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel reads UTF-8


def _href(row: dict[str, Any], role: str, out: Path | None) -> str:
    path = row.get(f"{role}_path")
    if not path or not Path(path).is_file():
        return ""
    if out is None:
        return Path(path).resolve().as_uri()
    folder = out.parent / f"{out.stem}_文件"
    folder.mkdir(parents=True, exist_ok=True)
    # The applicant's own file name (made safe for any file system), behind the receipt number.
    name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", row.get(f"{role}_file") or role)[:80]
    if not name.lower().endswith(Path(path).suffix):
        name += Path(path).suffix
    target = folder / f"{row['receipt_no']}-{name}"
    shutil.copyfile(path, target)
    return quote(f"{folder.name}/{target.name}")


def _html(store: Store, rows: list[dict[str, Any]]) -> bytes:
    totals = {k: sum(1 for r in rows if r["status"] == k) for k in STATUS_ZH}
    by_type: dict[str, int] = {}
    for r in rows:
        by_type[r["pilot_type"] or "未勾选"] = by_type.get(r["pilot_type"] or "未勾选", 0) + 1
    html = environment().get_template("summary/summary.html.j2").render(
        rows=rows,
        others=other_mail_rows(store),
        totals=totals,
        by_type=by_type,
        status_zh=STATUS_ZH,
        severity_zh=SEVERITY_ZH,
        reply_zh=REPLY_STATE_ZH,
        generated=datetime.now(TZ).strftime("%Y-%m-%d %H:%M"),
    )
    return html.encode("utf-8")


def _xlsx(rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "受理登记"
    ws.append(CSV_COLUMNS)
    for row in rows:
        values = _flat(row)
        received = parse_iso(row["received_at"])
        values[5] = received.replace(tzinfo=None) if received else None
        ws.append(values)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEFGHI", (14, 30, 26, 10, 16, 18, 30, 30, 80)):
        ws.column_dimensions[col].width = width
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 6).number_format = "yyyy-mm-dd hh:mm"
        ws.cell(r, 9).alignment = Alignment(wrap_text=True, vertical="top")
    ws2 = wb.create_sheet("问题明细")
    ws2.append(("受理编号", "申报单位", "代码", "类别", "位置", "说明"))
    for row in rows:
        for p in row["problems"]:
            ws2.append((row["receipt_no"], row["unit"], p["code"], SEVERITY_ZH[p["severity"]], p["location"], p["message"]))
    for cell in ws2[1]:
        cell.font = Font(bold=True)
    ws2.freeze_panes = "A2"
    for col, width in zip("ABCDEF", (14, 30, 24, 10, 30, 90)):
        ws2.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def status_lines(store: Store) -> list[str]:
    """What `intake status` prints: is intake working, and what needs a person."""
    last_ok = store.one("SELECT finished_at FROM runs WHERE ok=1 ORDER BY id DESC LIMIT 1")
    last = store.one("SELECT * FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
    failures = 0
    for r in store.rows("SELECT ok FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 50"):
        if r["ok"]:
            break
        failures += 1
    counts = {r["state"]: r["n"] for r in store.rows("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")}
    attention = store.one(
        "SELECT COUNT(*) AS n FROM mails WHERE problems LIKE '%mail_unparseable%' OR category='other'"
    )["n"]
    lines = [
        f"上次成功运行：{_local(last_ok['finished_at'])[:19].replace('T', ' ') if last_ok else '从未成功'}",
        f"最近一次运行：{'成功' if last and last['ok'] else ('失败：' + (last['error'] or '') if last else '无')}",
        f"连续失败次数：{failures}",
        "回复："
        + "，".join(f"{REPLY_STATE_ZH.get(k, k)} {v}" for k, v in sorted(counts.items()))
        if counts
        else "回复：无",
        f"需要人工查看的邮件：{attention} 封",
    ]
    return lines
