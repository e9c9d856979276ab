"""Render the reply an applicant gets (jinja2) and build the MIME message.

Pure apart from reading templates. Templates render under StrictUndefined, so
a missing value is an error for that reply (recorded), never a blank in it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import encoders
from email import policy as email_policy
from email.header import Header
from email.mime.base import MIMEBase
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .checks import Call, fmt_time
from .judge import REPLY_KIND
from .models import Document, Finding, Reply, Verdict
from .resources import shipped

if TYPE_CHECKING:
    import jinja2

# CRLF line ends, and headers written as built (see _attachment).
WIRE_POLICY = email_policy.SMTP.clone(refold_source="none")

# Headers written as stored (set_raw) are kept on one line, not encoded.
THREADING_POLICY = email_policy.default.clone(refold_source="none")
MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")  # printable ASCII, no spaces, no inner < >
MAX_ID_LEN = 900
SYNTHETIC_ID = "@intake.invalid>"  # what run.py and mime.py give a mail without Message-ID

SUBJECT_TAG = {"receipt": "受理回执", "correction": "补正通知", "late": "逾期通知", "question": "来信收到"}


def reply_name(kind: str) -> str:
    """A reply as staff call it in a sentence: 补正通知, “来信收到”回复."""
    return "“来信收到”回复" if kind == "question" else SUBJECT_TAG.get(kind, "回复")


def reply_owner(reply: dict) -> str:
    """`受理编号 单位` of an outbox row joined with its applicant; a 来信收到 letter named neither."""
    return "" if reply["kind"] == "question" else " ".join(x for x in (reply["receipt_no"], reply["unit"]) if x)


@dataclass(frozen=True)
class ReplyInput:
    """What a reply may say: only this applicant's own data."""

    verdict: Verdict
    to: str
    sender_name: str
    unit: str
    pilot_type: str
    receipt_no: str
    files: tuple[Document, ...]
    received_at: datetime
    in_reply_to: str
    references: tuple[str, ...]
    # A late verdict for a correction that missed its window: the window's end
    # (the notice then says 补正期限, not only the call's deadline).
    correction_until: datetime | None = None
    # Whether the applicant has submitted something (files, a link, an over-limit mail): only
    # then does a correction notice open a window past the deadline. Without it (questions,
    # files forgotten) the reply is a 来信收到 letter, never "your materials arrived".
    opens_window: bool = True


def one_line(value: str, limit: int = 120) -> str:
    """Header-safe text: no CR/LF or control characters, bounded length."""
    value = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", value or "").strip()
    return value[:limit]


def environment(template_dirs: list[Path] | None = None) -> "jinja2.Environment":
    import jinja2  # only when something is rendered: cron's idle poll never is

    dirs = template_dirs or [shipped("templates")]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
    )
    env.filters["size"] = _human_size
    return env


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


def _section_of(f: Finding) -> str:
    return f.location.split("/")[0].strip() if f.location else "其他"


_NUMERALS = "一二三四五六七八九十"


def _form_order(section: str) -> tuple[int, int]:
    """Where a section comes when the applicant goes through the files: the mail and
    its attachments, the Word form from the cover through 一…八, then the PDF."""
    if section.startswith(("邮件", "附件")):
        return (0, 0)
    if section.startswith("封面"):
        return (1, 0)
    if section[:1] in _NUMERALS and section[1:2] in "、.．":
        return (2, _NUMERALS.index(section[0]))
    if section.startswith(("Word", "申报书")):
        return (2, -1)
    if section.startswith("PDF") or "盖章" in section:
        return (3, 0)
    return (4, 0)


def _says_where(f: Finding) -> bool:
    """The message already names its place (the whole location, or its section: messages
    that name the section name the field too)."""
    return not f.location or f.location in f.message or _section_of(f) in f.message


def group_by_section(findings: tuple[Finding, ...]) -> list[tuple[str, list[dict[str, str]]]]:
    """Errors grouped under their section, in the form's order; `where` only when the message doesn't say it."""
    groups: dict[str, list[dict[str, str]]] = {}
    for f in findings:
        section = _section_of(f)
        where = f.location if f.location != section and not _says_where(f) else ""
        groups.setdefault(section, []).append({"message": f.message, "where": where})
    return sorted(groups.items(), key=lambda item: _form_order(item[0]))  # stable: rule order within a rank


def warning_points(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
    """Warnings as listed in a reply: the place first, unless the message starts by naming it."""
    return [{"location": "" if _says_where(f) else f.location, "message": f.message} for f in findings]


# Errors that only one of the two files can fix: the other file need not be sent again.
_WORD_ONLY = frozenset({"missing_word"})
_PDF_ONLY = frozenset({"missing_pdf", "missing_stamp"})
# Why a file is missing (it was in an archive we could not open, or too large): the
# missing_word / missing_pdf beside it says which file to send.
_REASON_FOR_MISSING = frozenset({"archive_unreadable", "attachment_too_large"})


def files_to_send(errors: tuple[Finding, ...], files: tuple[Document, ...]) -> str:
    """Which files the correction asks for: "word", "pdf" or "both".

    A content error means a new Word and a PDF printed and stamped from it; a missing,
    unreadable or unstamped file is fixed by sending that file alone (the latest Word
    and the latest PDF are paired, whatever mail each came in).
    """
    need: set[str] = set()
    has_word = any(d.kind not in ("pdf", "image", "ofd") for d in files)
    has_pdf = any(d.kind == "pdf" for d in files)
    for f in errors:
        if f.code in _REASON_FOR_MISSING:
            if f.location.startswith("Word"):
                need.add("word")  # the Word came too large to read: that notice stands for missing_word
            elif "PDF" in f.location:
                need.add("pdf")
            continue
        if f.code in _WORD_ONLY or (f.code == "format_unreadable" and f.location.startswith("Word")):
            need.add("word")
        elif f.code in _PDF_ONLY or (f.code == "format_unreadable" and "PDF" in f.location):
            need.add("pdf")
        elif f.code == "attachment_link_only" and has_word != has_pdf:
            need.add("pdf" if has_word else "word")  # the link stood for the file not received
        else:
            need.update(("word", "pdf"))
    return need.pop() if len(need) == 1 else "both"


def render_reply(inp: ReplyInput, call: Call, sender: str, env: "jinja2.Environment", now: datetime) -> Reply:
    """Render the reply the verdict calls for. Raises jinja2 errors (caller records them)."""
    kind = REPLY_KIND[inp.verdict.status]
    # The letter the applicant reads, and what the outbox records it as.
    letter = "question" if not inp.opens_window and not inp.files and kind != "receipt" else kind
    # Late, or written after the deadline (a backlog after an outage, an import): no invitation.
    closed = kind == "late" or now > call.deadline
    form = blank_form_attachment(call) if (letter == "question" and not closed) or (
        kind == "correction" and any(f.code == "wrong_form" for f in inp.verdict.errors)) else None
    unit = one_line(inp.unit, 60)
    sender_name = one_line(inp.sender_name, 40)
    tz = call.timezone
    window_end = call.cutoff(now) if inp.opens_window else call.deadline
    ctx = {
        "call": call,
        "kind": kind,
        "unit": unit or "（未能识别）",
        # Whom the letter greets: the unit, else the person who wrote, else nobody
        # ("申报单位：" read as if we had not looked at the mail).
        "addressee": unit or sender_name,
        "sender_name": sender_name,
        "pilot_type": inp.pilot_type or "（未勾选）",
        # A question is no application: no 受理编号 in its acknowledgement.
        "receipt_no": "" if letter == "question" else inp.receipt_no,
        "closed": closed,
        "blank_form": form is not None,
        "files": [
            {"name": one_line(d.filename, 100), "size": d.size, "received": fmt_time(d.received_at, tz), "kind": d.kind}
            for d in inp.files
        ],
        "received": fmt_time(inp.received_at, tz),
        "deadline": fmt_time(call.deadline, tz),
        "errors": group_by_section(inp.verdict.errors),
        "warnings": warning_points(inp.verdict.applicant_warnings),
        # What the correction asks for: "word", "pdf" or "both"; none_received: no file yet.
        "send": files_to_send(inp.verdict.errors, inp.files),
        "none_received": not inp.files,
        "correction_days": int(call.correction_window.total_seconds() // 86400),
        # The exact end of the correction window this notice opens (never before the deadline).
        "correction_until": fmt_time(window_end, tz),
        "window_is_deadline": window_end == call.deadline,
        "late_correction_until": fmt_time(inp.correction_until, tz) if inp.correction_until else "",
        "today": fmt_time(now, tz),
    }
    text = env.get_template(f"mail/{letter}.txt.j2").render(ctx)
    html = env.get_template(f"mail/{letter}.html.j2").render(ctx)
    if letter == "question":
        subject = one_line(f"【{SUBJECT_TAG[letter]}】{call.name}申报", 160)
    else:
        subject = one_line(f"【{SUBJECT_TAG[kind]}】{call.name}申报{' - ' + unit if unit else ''}（{inp.receipt_no}）", 160)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "intake.local"
    attachments = (form,) if form else ()
    return Reply(
        attachments=attachments,
        applicant=inp.verdict.applicant,
        kind=letter,  # a question's letter is recorded as one: bounce notes and staff name it so
        to=inp.to,
        subject=subject,
        text=text,
        html=html,
        message_id=make_msgid(idstring="intake", domain=domain),
        in_reply_to=inp.in_reply_to,
        references=inp.references,
    )


def build_message(reply: Reply, sender: str, now: datetime) -> EmailMessage:
    """The MIME message: From is the mailbox (163 rejects a mismatch), one recipient."""
    msg = EmailMessage(policy=THREADING_POLICY)
    msg["From"] = sender
    msg["To"] = reply.to
    msg["Subject"] = reply.subject
    msg["Date"] = format_datetime(now.astimezone(ZoneInfo("Asia/Shanghai")))
    msg["Message-ID"] = reply.message_id
    parent = reply.in_reply_to if threading_id(reply.in_reply_to) else ""
    refs = [r for r in reply.references if r != parent and threading_id(r)][-10:] + ([parent] if parent else [])
    # Raw values: the email package turns an id longer than a line into an
    # encoded-word, which is no msg-id and threads nothing.
    if parent:
        msg.set_raw("In-Reply-To", parent)
    if refs:
        msg.set_raw("References", "\n ".join(refs))
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(reply.text)
    msg.add_alternative(reply.html, subtype="html")
    if reply.attachments:
        msg.make_mixed()
    for name, data in reply.attachments:
        msg.attach(_attachment(name, data))
    return msg


def threading_id(value: str) -> bool:
    """Can `value` go verbatim into In-Reply-To/References?

    Only a plain ASCII `<id>` short enough for one header line (RFC 5322
    caps lines at 998): an 8-bit id from an OA system would have to be
    encoded, and our own `@intake.invalid` stand-in for a missing
    Message-ID names no mail the applicant has.
    """
    return bool(value) and len(value) < MAX_ID_LEN and bool(MSG_ID.fullmatch(value)) and not value.endswith(SYNTHETIC_ID)


def _attachment(name: str, data: bytes) -> MIMEBase:
    """An attachment whose Chinese name every client shows.

    RFC 2231 `filename*` alone shows as tcmime.NNNN.bin in old QQ Mail, so
    Content-Type also carries an RFC 2047 encoded `name=` (kept as written by
    serialising with WIRE_POLICY, which does not refold it).
    """
    maintype, subtype = _mime_type(name)
    part = MIMEBase(maintype, subtype)
    part.set_param("name", Header(name, "utf-8").encode(maxlinelen=998).replace("\n", "").replace(" ", ""))
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
    part.set_payload(data)
    encoders.encode_base64(part)
    return part


def _mime_type(name: str) -> tuple[str, str]:
    if name.lower().endswith(".docx"):
        return "application", "vnd.openxmlformats-officedocument.wordprocessingml.document"
    if name.lower().endswith(".pdf"):
        return "application", "pdf"
    return "application", "octet-stream"


def blank_form_attachment(call: Call) -> tuple[str, bytes] | None:
    """The call's blank form, as attached to a correction notice."""
    if not call.blank_form:
        return None
    path = shipped("templates") / "forms" / call.blank_form
    if not path.is_file():
        return None
    return (f"{call.name}申报书（空白模板）.docx", path.read_bytes())
