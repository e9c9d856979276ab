"""Committed generator of the demo's sample mails (data/samples/*.eml).

`python scripts/make_samples.py` rewrites data/samples from this module, so
anyone can rebuild the corpus; `intake demo` falls back to building it in
memory when the folder is not shipped.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from ..models import Application

TZ = ZoneInfo("Asia/Shanghai")
MAILBOX = "kpzx350@163.com"


def mail(
    sender: str,
    subject: str,
    body: str,
    when: datetime,
    attachments: list[tuple[str, bytes, str]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    """One mail as a Chinese webmail would send it (UTF-8, RFC 2231 names)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(idstring=when.strftime("%Y%m%d%H%M%S"), domain=sender.rpartition("@")[2].strip(">"))
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"


def _over_budget(app: Application) -> Application:
    items = list(app.budget_items)
    first = items[0]
    extra = Decimal("1500")
    items[0] = dataclasses.replace(first, amount=first.amount + extra, amount_text=f"{first.amount + extra}")
    total = sum(i.amount for i in items)
    return dataclasses.replace(app, budget_items=tuple(items), budget_total=total, budget_total_text=f"{total}")


def sample_mails() -> list[tuple[str, bytes]]:
    """(file name, raw bytes) for each demo mail, in arrival order."""
    from .apps import sample_applications
    from .forms import build_form_docx
    from .pdfs import build_form_pdf

    apps = sample_applications()

    def t(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 6, day, hour, minute, tzinfo=TZ)

    def both(app: Application, **pdf_kwargs) -> list[tuple[str, bytes, str]]:
        unit = app.unit
        return [
            (f"{unit}-科技志愿服务试点申报书.docx", build_form_docx(app), DOCX),
            (f"{unit}-申报书（盖章版）.pdf", build_form_pdf(app, **pdf_kwargs), PDF),
        ]

    a0, a1, a2, a3, a4 = apps[:5]
    out: list[tuple[str, bytes]] = []
    body = "您好！附件为我单位科技志愿服务试点申报书（Word 版和盖章 PDF 版），请查收。"
    out.append(("01-complete.eml", mail(f"{a0.contact.name} <{a0.contact.email}>", f"{a0.unit}科技志愿服务试点申报材料", body, t(20, 10, 15), both(a0))))
    bad = _over_budget(a1)
    out.append(("02-needs-correction.eml", mail(f"{a1.contact.name} <{a1.contact.email}>", f"申报书-{a1.unit}", body, t(21, 16, 40), both(bad, seal="none"))))
    word_only = both(a2)[:1]
    pdf_only = both(a2)[1:]
    out.append(("03a-word-first.eml", mail(f"{a2.contact.name} <{a2.contact.email}>", f"{a2.unit}试点申报书 Word 版", "Word 版申报书见附件，盖章版稍后发送。", t(22, 9, 0), word_only)))
    out.append(("03b-pdf-later.eml", mail(f"{a2.contact.name} <{a2.contact.email}>", f"{a2.unit}试点申报书盖章版", "盖章 PDF 版见附件。", t(22, 9, 20), pdf_only)))
    out.append(("04-missing-pdf.eml", mail(f"{a3.contact.name} <{a3.contact.email}>", f"{a3.unit}科技志愿服务试点申报", body, t(23, 17, 5), both(a3)[:1])))
    out.append(("05-late.eml", mail(f"{a4.contact.name} <{a4.contact.email}>", f"{a4.unit}申报材料", body, t(24, 8, 30), both(a4))))
    out.append(
        (
            "06-auto-reply.eml",
            mail(
                "王老师 <wang.teacher@126.com>",
                "自动回复: 关于组织申报新乡市科技志愿服务试点建设的通知",
                "您好，我正在休假，回来后尽快回复。",
                t(19, 8, 0),
                headers={"Auto-Submitted": "auto-replied"},
            ),
        )
    )
    out.append(
        (
            "07-question.eml",
            mail(
                "李主任 <li.office@qq.com>",
                "咨询试点申报",
                "请问高校科协可以申报科技志愿服务试点吗？申报书模板在哪里下载？",
                t(19, 14, 30),
            ),
        )
    )
    out.append(
        (
            "08-newsletter.eml",
            mail(
                "科普周刊 <news@kepu-weekly.cn>",
                "本周科普资讯",
                "本周科普资讯汇总……",
                t(20, 7, 0),
                headers={"List-Id": "<weekly.kepu-weekly.cn>", "List-Unsubscribe": "<mailto:unsub@kepu-weekly.cn>"},
            ),
        )
    )
    return out
