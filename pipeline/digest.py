"""`intake digest`: mail the receipt summary to the staff (daily, from cron)."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from zoneinfo import ZoneInfo

from .config import Config
from .errors import ConfigError
from .outbox import send_to_staff
from .store import Store
from .summary import INQUIRY, applicant_rows, bounced_lines, left_mail_lines, question_lines, render, status_lines, totals_line

TZ = ZoneInfo("Asia/Shanghai")


def build_digest(store: Store, sender: str, to: str, now: datetime) -> EmailMessage:
    """The staff digest: totals and health in the body, the XLSX and HTML attached."""
    rows = applicant_rows(store)
    local = now.astimezone(TZ)
    # An unopenable archive or a cloud link makes an application without a file; a Word or a PDF
    # alone makes one with half of it. Counted apart: "Word 或 PDF" read as "either one".
    units = [r for r in rows if r["status"] != INQUIRY]
    empty = sum(1 for r in units if not r["word_file"] and not r["pdf_file"])
    partial = sum(1 for r in units if bool(r["word_file"]) != bool(r["pdf_file"]))
    questions = question_lines(store)
    bounced = bounced_lines(store)
    left = left_mail_lines(store)
    lines = [
        f"截至 {local:%Y-%m-%d %H:%M}，{totals_line(rows, ' 个')}"
        + _missing_files_text(empty, partial),
        "",
        *(
            [f"没有附件、可能是咨询、需要人工答复的邮件 {len(questions)} 封（正文见汇总表“问题”列）：", *questions, ""]
            if questions
            else []
        ),
        *(
            [f"未自动回复、请工作人员查看的其他邮件 {len(left)} 封（处理后可用 intake answered 发件地址 标记）：", *left, ""]
            if left
            else []
        ),
        *([f"被退回、未送达的回复 {len(bounced)} 封（请电话联系这些单位，核对邮箱后可用 intake replies resend 回复编号 --to 正确地址 重发）：", *bounced, ""]
          if bounced else []),
        *status_lines(store),
        "",
        "明细见附件（受理登记表.xlsx；汇总.html 可直接用浏览器打开）。",
    ]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"申报材料受理汇总（{local:%Y-%m-%d}）"
    msg["Date"] = format_datetime(local)
    msg["Message-ID"] = make_msgid(idstring="digest", domain=parseaddr(sender)[1].rpartition("@")[2] or "intake.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines))
    stamp = f"{local:%Y%m%d}"
    msg.add_attachment(
        render(store, "xlsx"),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"受理登记表-{stamp}.xlsx",
    )
    # No file links in a mailed copy: on a staff PC they are dead and name a server path.
    html = render(store, "html", links=False)
    msg.add_attachment(html, maintype="text", subtype="html", filename=f"汇总-{stamp}.html", params={"charset": "utf-8"})
    return msg


def _missing_files_text(empty: int, partial: int) -> str:
    """The end of the totals line: units without both files, and units with one of the two."""
    neither = f"{empty} 个 Word 版申报书和盖章 PDF 版均未收到（如压缩包打不开、只发了云附件链接）"
    if empty and partial:
        return f"；申报单位中有 {neither}，另有 {partial} 个只收到其中一个。"
    if empty:
        return f"；申报单位中有 {neither}。"
    if partial:
        return f"；申报单位中有 {partial} 个只收到 Word 版申报书和盖章 PDF 版中的一个。"
    return "。"


def preview_digest(cfg: Config, now: datetime) -> bytes:
    """The digest as the first staff address would get it, sent to nobody (`intake digest --out`)."""
    sender = cfg.smtp.sender if cfg.smtp is not None else "intake <intake@localhost>"
    to = ", ".join(cfg.staff) or "工作人员 <staff@localhost>"
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        return build_digest(store, sender, to, now).as_bytes()
    finally:
        store.close()


def send_digest(cfg: Config, now: datetime) -> int:
    """Send one digest to each staff address; return how many went out."""
    if not cfg.staff:
        raise ConfigError("配置 [staff] addresses 为空，无处发送汇总")
    if cfg.smtp is None:
        raise ConfigError("配置中没有 [smtp]，无法发送汇总")
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        return send_to_staff(cfg.smtp, cfg.staff, lambda to: build_digest(store, cfg.smtp.sender, to, now).as_bytes())
    finally:
        store.close()
