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
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .checks import Call, fmt_time
from .form_checks import has_link, unit_name_problem
from .judge import REPLY_KIND
from .models import Document, Finding, Reply, Verdict
from .pairing import role_of
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
    # When the mail this reply answers came (a later 补正通知 answers the corrected files, not
    # the first mail); None: `received_at`.
    mail_received_at: datetime | None = None
    # The first submission and when both files were first on record: a receipt names both
    # when they differ (None: `received_at` stands for both).
    first_received_at: datetime | None = None
    complete_at: datetime | None = None
    # A staff decision (`intake decide … --reply`): "经审核", not "材料齐全、格式符合要求".
    staff_decision: bool = False
    # Staff let a unit that was sent a 逾期通知 correct after all: the 补正通知 says that letter no longer holds.
    lifts_late: bool = False
    # Whether a Word form was read (only then is an empty pilot type "未勾选"); None: a Word
    # file is among `files`.
    form_read: bool | None = None
    # Pictures (screenshots) that came with a question: passed to staff, not "no attachment".
    pictures: int = 0


def one_line(value: str, limit: int = 120) -> str:
    """Header-safe text: no CR/LF, control, bidi or zero-width characters, bounded length.

    A bidi override (U+202E) in a unit name turns the rest of a subject around, so that
    科协‮fdp.exe reads as 科协exe.pdf; zero-width marks hide inside a name.
    """
    from .units import visible

    value = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", value or "")
    return visible(value).strip()[:limit]


def shown_file_name(name: str) -> str:
    """A received file's name as our letter lists it. A name carrying a web address is not
    repeated to whatever address sent it (a forged sender's advert): its extension stays."""
    name = one_line(name, 100)
    stem, dot, ext = name.rpartition(".")  # not Path: a URL's slashes are no folders
    if not has_link(stem if dot else name):
        return name
    return "（文件名含网址，略）" + (f".{ext}" if dot and len(ext) <= 5 else "")


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


# Display names that name a mail client's account, not a person or a unit.
_GENERIC_NAMES = frozenset({
    "管理员", "系统管理员", "超级管理员", "用户", "默认用户", "本人", "我", "发件人", "收件人", "联系人", "办公室",
    "综合办公室", "邮箱", "网易邮箱", "QQ邮箱", "未命名", "匿名", "无", "测试",
})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def addressee(unit: str, sender_name: str) -> str:
    """Whom a letter greets: the unit, else the writer's display name when it is a Chinese name,
    not a client's account name (Administrator, admin, 管理员) or an address; else nobody.
    A display name carrying a link or a 微信/QQ/phone number (an advert) is no one's name."""
    if unit:
        return unit
    name = sender_name.strip()
    if not _CJK.search(name) or "@" in name or re.sub(r"\s+", "", name) in _GENERIC_NAMES or unit_name_problem(name):
        return ""
    return name


def _strip_section(section: str, message: str) -> str:
    """The message without its section's name when it is listed under that 【section】 heading:
    "七、经费支出预算表：合计…" → "合计…", "一、…基本情况中的“单位地址”…" → "“单位地址”…"."""
    rank, index = _form_order(section)
    if not (rank == 1 or (rank == 2 and index >= 0)) or not message.startswith(section):
        return message  # only the form's own headings (封面, 一…八): "Word 版申报书设置了密码" keeps its subject
    rest = message[len(section):]
    for joint in ("：", "中的"):
        if rest.startswith(joint):
            return rest[len(joint):]
    return rest if rest.startswith(("第", "“")) else message


def _place(location: str) -> str:
    """A location as a reader says it: "七、经费支出预算表 / 合计" → 七、经费支出预算表中的“合计”."""
    head, *rest = [p.strip() for p in location.split("/")]
    return head + "".join(f"中的“{p}”" for p in rest if p)


def _with_place(message: str, where: str) -> str:
    """The place put into the problem's own sentence, before its full stop (not after the instruction)."""
    if not where:
        return message
    note = f"（位置：{_place(where)}）"
    depth = 0
    for i, ch in enumerate(message):
        depth += ch == "“"
        depth -= ch == "”"
        if ch == "。" and depth <= 0:
            return message[:i] + note + message[i:]
    return message + note


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


def group_by_section(findings: tuple[Finding, ...]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Errors grouped under their section, in the form's order, numbered through (one "第 3 条"
    on the phone); the place only when the message doesn't say it, the heading not repeated."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        section = _section_of(f)
        where = f.location if f.location != section and not _says_where(f) else ""
        groups.setdefault(section, []).append({"message": _with_place(_strip_section(section, f.message), where)})
    ordered = sorted(groups.items(), key=lambda item: _form_order(item[0]))  # stable: rule order within a rank
    n = 0
    for _, items in ordered:
        for point in items:
            n += 1
            point["n"] = n
    return ordered


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
    # A "name" that is an advert (a link, a 微信 number: see unit_name_problem) is not repeated
    # to whatever address sent it: the subject, greeting and receipt then say no name (贵单位).
    unit = "" if unit_name_problem(inp.unit) else one_line(inp.unit, 60)
    sender_name = one_line(inp.sender_name, 40)
    tz = call.timezone
    window_end = call.cutoff(now) if inp.opens_window else call.deadline
    # By role, as pairing decides it: a file listed only because it stands where one is missing
    # (a picture, the 0-byte "….pdf") is neither.
    word = next((d for d in inp.files if role_of(d.kind) == "word"), None)
    pdf = next((d for d in inp.files if role_of(d.kind) == "pdf"), None)
    form_read = inp.form_read if inp.form_read is not None else word is not None
    mail_at = inp.mail_received_at or inp.received_at
    ctx = {
        "call": call,
        "kind": kind,
        # Unknown (a staff decision on files never read): the line is left out, no placeholder.
        "unit": unit,
        # Whom the letter greets: the unit, else the person who wrote, else nobody
        # ("申报单位：" read as if we had not looked at the mail; "Administrator：").
        "addressee": addressee(unit, sender_name),
        "sender_name": sender_name,
        # "未勾选" only when a Word form was read; else nothing is known about the type.
        "pilot_type": inp.pilot_type or ("（未勾选）" if form_read else ""),
        "staff_decision": inp.staff_decision,
        "lifts_late": inp.lifts_late,
        "pictures": inp.pictures,
        # The mail this letter answers, and whether every listed file came in it.
        "mail_received": fmt_time(mail_at, tz),
        "one_mail": all(d.received_at == mail_at for d in inp.files),
        "times": [(label, fmt_time(at, tz)) for label, at in _receipt_times(inp)],
        # A late pair sent in two mails: which file came when (the Word may have been on time).
        "late_split": (
            {"word": fmt_time(word.received_at, tz), "pdf": fmt_time(pdf.received_at, tz)}
            if word and pdf and word.received_at != pdf.received_at
            and max(word.received_at, pdf.received_at) == inp.received_at and not inp.correction_until
            else None
        ),
        # A question is no application: no 受理编号 in its acknowledgement.
        "receipt_no": "" if letter == "question" else inp.receipt_no,
        "closed": closed,
        "blank_form": form is not None,
        "files": [
            {"name": shown_file_name(d.filename), "size": d.size, "received": fmt_time(d.received_at, tz), "kind": d.kind}
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


def _receipt_times(inp: ReplyInput) -> list[tuple[str, datetime]]:
    """The times a receipt names: one 收到时间 when everything came at once; else the first
    submission, when the files were complete, and when the latest version came."""
    first = inp.first_received_at or inp.received_at
    complete = inp.complete_at if inp.first_received_at else inp.received_at
    pair = [d.received_at for d in inp.files if role_of(d.kind) in ("word", "pdf")]
    latest = max(pair) if pair else None
    if (complete is None or complete == first) and (latest is None or latest == first):
        return [("收到时间", first)]
    times = [("首次报送", first)]
    if complete is not None and complete != first:
        times.append(("材料报齐", complete))
    if latest is not None and latest > (complete or first):
        times.append(("最近一次报送", latest))
    return times


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
