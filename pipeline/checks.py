"""Registered check functions, the code side of `rules/*.toml`.

A check is a small function `(ctx, params) -> iterable of Hit`; the engine in
`ruleset.py` turns each hit into a Finding with the rule's code and severity
and renders the message last, from the template registered beside the check
(or the rule's own override). Checks never raise on applicant data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable

from .models import OCR_SOURCES, TOPIC_WORDS, WARNING, Application, Finding, PdfFacts, Submission
from .pairing import NAMED_AS, WORD_KINDS

REQUIRED = object()


@dataclass(frozen=True)
class Call:
    """The call's identity, read from the rules file's [call] table."""

    id: str
    name: str
    notice_date: str
    deadline: datetime
    timezone: str
    mailbox: str
    receipt_prefix: str
    organizer: str
    contact: str
    correction_window: timedelta
    pairing_window: timedelta
    blank_form: str = ""  # file in templates/forms/ attached when the wrong form was used
    # Words that make a mail without forms one about the call (a question to answer, not other mail).
    topic_words: tuple[str, ...] = TOPIC_WORDS
    # What a receipt says comes next, and how a late notice closes: the organizer's own words.
    next_steps: str = "市科协将根据申报情况择优确定试点单位，结果另行通知。"
    late_closing: str = "欢迎贵单位继续关注市科协今后发布的相关通知。"

    def cutoff(self, notice_at: datetime | None) -> datetime:
        """The last moment files count: the deadline, or the end of the window a
        correction notice written at `notice_at` opens (never before the deadline)."""
        return max(self.deadline, notice_at + self.correction_window) if notice_at else self.deadline


@dataclass(frozen=True)
class Context:
    """Everything a check may look at for one applicant."""

    call: Call
    submission: Submission
    application: Application | None  # None: no readable Word form
    pdf: PdfFacts | None  # None: no readable PDF


@dataclass(frozen=True)
class Hit:
    """One failed check: where, the values for the message, which template."""

    location: str
    values: dict[str, Any] = field(default_factory=dict)
    variant: str = ""
    severity: str | None = None  # overrides the rule's (e.g. a weak match is only a warning)
    staff_only: bool = False


@dataclass(frozen=True)
class CheckSpec:
    name: str
    func: Callable[[Context, dict[str, Any]], Iterable[Hit]]
    params: dict[str, tuple[type | tuple[type, ...], Any]]  # name -> (type, default)
    messages: dict[str, str]  # variant -> Chinese template (str.format)


REGISTRY: dict[str, CheckSpec] = {}


def check(name: str, *, messages: dict[str, str] | str, **params: tuple[type | tuple[type, ...], Any]):
    """Register a check under `name` with its parameter types and messages."""
    if isinstance(messages, str):
        messages = {"": messages}

    def register(func: Callable[[Context, dict[str, Any]], Iterable[Hit]]):
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        REGISTRY[name] = CheckSpec(name, func, params, messages)
        return func

    return register


def fmt_time(value: datetime, tz: str) -> str:
    """Chinese display of a moment in the call's time zone."""
    from zoneinfo import ZoneInfo

    local = value.astimezone(ZoneInfo(tz))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def fmt_money(value: Decimal) -> str:
    return f"{value:,.2f}"


# -- submission-level checks ---------------------------------------------------


@check(
    "deadline",
    messages={
        "late": "申报材料于 {received} 收到，已超过截止时间 {deadline}，本次不予受理。",
        # After our 补正通知: staff read the window the applicant was given, as the letter names it.
        "late_window": "补正材料于 {received} 收到，已超过补正期限 {until}（首次报送于 {first}，申报截止时间 {deadline}），本次不予受理。",
        "after_cutoff": "{limit}之后，于 {received} 又收到新版本文件（{names}），未采用，仍按此前收到的材料审核。",
    },
)
def _deadline(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Late when the first complete submission came after the deadline.

    A correction to an on-time submission is still accepted within the
    correction window after our correction notice. Versions sent after the
    cut-off are not judged (a note for staff; with errors in the on-time
    version they make the verdict late: `judge`).
    """
    sub, call = ctx.submission, ctx.call
    deadline = call.deadline
    if sub.late_files:
        first = min(d.received_at for d in sub.late_files)
        names = "、".join(d.filename for d in sub.late_files[:3]) + ("等" if len(sub.late_files) > 3 else "")
        # Which limit passed, with its time (QA round 12: staff could not see the 补正期限 the letter named).
        until = call.cutoff(sub.correction_notice_at)
        limit = (f"补正期限 {fmt_time(until, call.timezone)}" if until > deadline
                 else f"申报截止时间 {fmt_time(deadline, call.timezone)}")
        yield Hit("申报时间", {"received": fmt_time(first, call.timezone), "names": names, "limit": limit},
                  variant="after_cutoff", severity=WARNING, staff_only=True)
        return
    notice = sub.correction_notice_at
    if sub.first_received_at > deadline:
        if notice is not None and notice >= sub.first_received_at:
            # A 补正通知 after late files: staff let the unit correct (`decide`) within its window.
            arrived = sub.complete_at or sub.last_received_at
            if arrived > call.cutoff(notice):
                yield _late_window(arrived, notice, sub, call)
            return
        arrived = sub.complete_at or sub.first_received_at
    elif sub.complete_at is not None and sub.complete_at > deadline:
        # Started on time, completed after the deadline: within the window of our correction
        # notice, or, when none was written in between (the PDF minutes after the Word, judged
        # together), within the window a notice on the first files would have opened.
        if sub.complete_at <= call.cutoff(notice or sub.first_received_at):
            return
        if notice is not None:
            yield _late_window(sub.complete_at, notice, sub, call)
            return
        arrived = sub.complete_at
    else:
        return
    yield Hit(
        "申报时间",
        {"received": fmt_time(arrived, call.timezone), "deadline": fmt_time(deadline, call.timezone)},
        variant="late",
    )


def _late_window(arrived: datetime, notice: datetime, sub, call) -> Hit:
    tz = call.timezone
    values = {"received": fmt_time(arrived, tz), "until": fmt_time(call.cutoff(notice), tz),
              "first": fmt_time(sub.first_received_at, tz), "deadline": fmt_time(call.deadline, tz)}
    return Hit("申报时间", values, variant="late_window")


MAIL_FILES = "邮件附件"  # where a problem of the mail's attachments as a whole is filed
ARCHIVE_PLACE = "压缩包"  # where an archive too large to open is filed: it may hold the Word or the PDF


@check(
    "file_present",
    messages={
        "word": "未收到 Word 版申报书（.docx）。请将填写好的申报书 Word 文件作为附件发送。",
        "pdf": "未收到盖章 PDF 版申报书。请将打印并加盖单位公章的申报书扫描或导出为 PDF，作为附件发送。",
        "pdf_images": "收到的是 {count} 张图片（{names}），不是 PDF 文件。请将盖章后的申报书扫描为一个 PDF 文件"
        "（用手机拍照的，可用扫描类 App 把各页合并导出为一个 PDF），作为附件发送。",
        "pdf_ofd": "收到的“{names}”是 OFD 格式的文件，不是 PDF 文件，无法审核。请在 OFD 阅读器或 WPS 中将盖章后的申报书"
        "导出（另存）为 PDF，作为附件发送。",
        "pdf_misnamed": "收到的“{name}”{what}。请将打印并加盖单位公章的申报书扫描或导出为 PDF，作为附件发送。",
        "word_misnamed": "收到的“{name}”{what}。请将填写好的申报书 Word 文件（.docx）作为附件发送。",
    },
    kind=(str, REQUIRED),
)
def _file_present(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    kind = params["kind"]
    sub = ctx.submission
    doc = sub.word if kind == "word" else sub.pdf
    if doc is not None:
        return
    where = "Word 版申报书" if kind == "word" else "盖章 PDF 版"
    if any(f.code in ("attachment_link_only", "mail_too_large") or (f.code == "format_unreadable" and f.location == MAIL_FILES)
           for f in sub.mail_problems):
        # The link notice already asks for the file as an attachment; a mail too large to
        # open, or encrypted, did carry files: "未收到" would contradict the notice that says so.
        return
    if any(f.code == "attachment_too_large" and f.location in (where, ARCHIVE_PLACE) for f in sub.mail_problems):
        # It came, too large to read, or may be in an archive too large to open:
        # that notice says so and what to do; "未收到" would contradict it.
        return
    # A file whose name says it is the missing one (the Word renamed .pdf, an empty upload):
    # "未收到" beside it in the list of files received would puzzle the applicant.
    named = [d for d in sub.images if d.filename.lower().endswith(NAMED_AS[kind]) and d.kind not in ("image", "ofd")]
    if named:
        yield Hit(where, {"name": named[-1].filename, "what": _really(named[-1], kind)}, variant=f"{kind}_misnamed")
        return
    pictures = [d for d in sub.images if d.kind in ("image", "ofd")]
    if kind == "pdf" and pictures:
        ofd = [d for d in pictures if d.kind == "ofd"]
        shown = ofd or pictures
        names = "、".join(d.filename for d in shown[:3]) + ("等" if len(shown) > 3 else "")
        yield Hit("盖章 PDF 版", {"count": len(shown), "names": names}, variant="pdf_ofd" if ofd else "pdf_images")
        return
    yield Hit(where, variant=kind)


def _really(doc, wanted: str) -> str:
    """What a file named as the missing one really is, in the applicant's words."""
    if doc.size == 0:
        return "是空文件（0 字节），可能是上传没有完成"
    if doc.kind in WORD_KINDS - {"html_doc"}:  # a page saved as .doc is no Word file to the applicant
        return "实际是 Word 文件（只改了文件扩展名），不是 PDF 文件"
    if doc.kind == "pdf":
        return "实际是 PDF 文件（只改了文件扩展名），不是 Word 文件"
    return f"打不开，不是 {'PDF' if wanted == 'pdf' else 'Word'} 文件（可能已损坏，或是网页等其他内容）"


@check("reader_problems", messages="{message}", codes=(list, REQUIRED))
def _reader_problems(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Pass on what the Word and PDF readers found, for the listed codes."""
    wanted = set(params["codes"])
    found: list[Finding] = []
    if ctx.application is not None:
        found.extend(ctx.application.problems)
    if ctx.pdf is not None:
        found.extend(ctx.pdf.problems)
    found.extend(ctx.submission.mail_problems)
    for f in found:
        if f.code in wanted:
            yield Hit(f.location, {"message": f.message}, staff_only=f.staff_only)


@check("unopened_attachments", messages="{message}", codes=(list, REQUIRED))
def _unopened_attachments(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """Attachments we could not open (an encrypted or broken archive, a file over the size
    limit), while the Word or the PDF is still missing: they were most likely inside, and
    "未收到" alone would puzzle an applicant who sent them. With both files in, staff see it
    in the summary; the applicant needs no advice about a spare file."""
    sub = ctx.submission
    both = sub.word is not None and sub.pdf is not None
    for f in sub.mail_problems:
        if f.code in params["codes"]:
            # With both files in (a later "最终版" too large, a spare locked archive), staff see it.
            yield Hit(f.location, {"message": f.message}, **({"severity": WARNING, "staff_only": True} if both else {}))


# What the applicant is told when no seal was found, by what was seen (`stamp_variant`).
STAMP_MESSAGES = {
    "none": "盖章 PDF 版中未发现单位红色公章。请在申报书第八部分“申报单位意见”处加盖单位公章，扫描或导出为 PDF 后重新发送。",
    "grey": "盖章 PDF 版中的公章只见黑白或灰色（未见红色印章），可能是复印件，或扫描时选了黑白/灰度模式。"
    "请在加盖原始红色公章的申报书上用彩色模式扫描（或导出为 PDF）后重新发送。",
    "bw": "盖章 PDF 版是黑白（或灰度）扫描件，页面上没有任何颜色，看不出红色公章。"
    "请在加盖红色公章的申报书上用彩色模式扫描，导出为 PDF 后重新发送。",
    "too_long": "盖章 PDF 版共 {pages} 页，页数较多，只检查了其中 {searched} 页，未找到单位红色公章。"
    "请将盖章的申报书单独扫描或导出为一个 PDF 重新发送（佐证材料不必合并在内）。",
    "appendix": "盖章 PDF 版第八部分“申报单位意见”处未发现单位公章（第 {page} 页的红色印章在附件上，不能代替申报单位公章）。"
    "请在该处加盖单位公章，扫描或导出为 PDF 后重新发送。",
}


def stamp_variant(seal, pages: int, opinion_page: int | None) -> str | None:
    """The STAMP_MESSAGES key a seal verdict calls for; None when a seal (red or electronic)
    was found or none was looked for. A file that shows no colour at all cannot show a red
    seal, and a file longer than the pages searched was not seen whole: neither is told to
    stamp a form it may well have stamped. A red seal seen only on an appendix (a certificate's
    issuer) is named, as the applicant sees it in their file."""
    from .forms.seal import MAX_PAGES

    if seal is None or seal.kind in ("red", "electronic", "error"):
        return None  # "error": the search broke; staff are told (seal_check_failed), the applicant is not
    if seal.kind == "grey":
        return "grey" if seal.page else "bw"  # no page: no ring at all, on pages without colour
    # The page the text names as 八 is searched first: without one, the cap may have hidden it.
    if pages > MAX_PAGES and not opinion_page:
        return "too_long"
    return "appendix" if seal.appendix_page else "none"


@check("seal_present", messages=STAMP_MESSAGES)
def _seal_present(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """No red or electronic seal: say what was seen (`stamp_variant`)."""
    from .forms.seal import MAX_PAGES

    pdf = ctx.pdf
    if pdf is None or any(p.code == "format_unreadable" for p in pdf.problems):
        return  # missing or unreadable PDF is reported by its own rule
    variant = stamp_variant(pdf.seal, pdf.pages, pdf.opinion_page)  # None: detection unavailable or a seal found
    if variant is not None:
        yield Hit("八、申报单位意见（公章）", {"pages": pdf.pages, "searched": MAX_PAGES, "page": pdf.seal.appendix_page}, variant=variant)


def _cut_off(pdf_total: Decimal, word_total: Decimal) -> bool:
    """The PDF's number is the Word's with digits lost to a line break: not a real difference."""
    a, b = str(pdf_total.normalize()), str(word_total.normalize())
    return a != b and (b.startswith(a) or a.startswith(b))


@check(
    "pdf_matches_word",
    messages={
        "unit": "盖章 PDF 版写的申报单位是“{pdf_unit}”，而 Word 版是“{word_unit}”，两份文件不是同一份申报书。请发送同一份申报书的 Word 版和盖章 PDF 版。",
        "unit_note": "盖章 PDF 版读出的申报单位是“{pdf_unit}”，Word 版是“{word_unit}”，可能是笔误或文字识别误差，请工作人员核对。",
        "text": "盖章 PDF 版与 Word 版内容差别较大（第三至五部分相似度 {similarity:.0%}），可能不是同一份（或同一版本的）申报书。请确认后重新发送一致的 Word 版和盖章 PDF 版。",
        "weak": "盖章 PDF 版与 Word 版第三至五部分有出入（相似度 {similarity:.0%}），请工作人员核对是否为同一版本。",
        "budget": "盖章 PDF 版的经费合计为 {pdf_total} 元，而 Word 版为 {word_total} 元，两份文件不是同一版本。请发送同一版本的 Word 版和盖章 PDF 版。",
        "budget_note": "盖章 PDF 版“合计”一行读出的数字是 {pdf_total}，没有一个与 Word 版的合计 {word_total} 元相同（PDF 的表格列读不出来，哪个是合计无法确定），请工作人员核对两份文件是否为同一版本。",
        "pilot": "盖章 PDF 版勾选的试点类型是“{pdf_pilot}”，而 Word 版是“{word_pilot}”，两份文件不是同一版本。请发送同一版本的 Word 版和盖章 PDF 版。",
        "scan": "盖章 PDF 版为扫描件，无法自动核对与 Word 版是否一致（文字识别未安装、已关闭或未识别出单位名称），请工作人员人工核对。",
        "garbled": "盖章 PDF 版的文字层无法读出（字体缺少编码映射，常见于“打印为 PDF”），无法自动核对与 Word 版是否一致，请工作人员人工核对。",
        "scan_garbled": "盖章 PDF 版是扫描件，其文字层读不出申报书的内容（扫描软件的文字识别未能识别中文，或扫描的不是申报书），无法自动核对与 Word 版是否一致，请工作人员人工核对。",
    },
    error_below=(float, 0.3),
    warn_below=(float, 0.8),
)
def _pdf_matches_word(ctx: Context, params: dict[str, Any]) -> Iterable[Hit]:
    """The PDF must be the printed and stamped Word form, not another unit's or an older draft."""
    from .amounts import parse_amount
    from .consistency import containment, form_text, pdf_pilot_types, pdf_total_readings, pdf_units, readable_form_text
    from .units import nearly_same_unit, normalize_unit, probably_same_unit, similar_unit, unit_in_text

    app, pdf = ctx.application, ctx.pdf
    if app is None or pdf is None or any(p.code == "format_unreadable" for p in app.problems + pdf.problems):
        return
    if not pdf.text_source and not pdf.has_text_layer:
        yield Hit("盖章 PDF 版", variant="scan", severity=WARNING, staff_only=True)
        return
    # Text read from page images (our OCR, or the scanner's invisible OCR layer)
    # misreads characters: what it disagrees on is a note for staff, not an error.
    ocr = pdf.text_source in OCR_SOURCES
    note = {"severity": WARNING, "staff_only": True} if ocr else {}
    named = [u for u in pdf_units(pdf.text, ocr=ocr) if normalize_unit(u)]
    word_unit = normalize_unit(app.unit)
    # A long name wraps in a narrow cell ("新乡市…科学技术协\n会"): the label caught its start, so
    # a name the Word's unit begins with, written in full elsewhere, is the same unit. The
    # Word's unit merely appearing somewhere (an account-name line) does not excuse a cover
    # and 单位名称 naming another unit. A corrected Word may write the name with or without
    # its places (河南省新乡市红旗区科协).
    wrapped = unit_in_text(app.unit, pdf.text) and any(word_unit.startswith(normalize_unit(u)) for u in named)
    if app.unit and named and not any(probably_same_unit(u, app.unit) for u in named) and not wrapped:
        near = any(nearly_same_unit(u, app.unit) for u in named)
        # A scanner's layer reads the whole file well: a clearly other unit there is the
        # applicant's error; our own OCR of two pages stays a note (issue #4).
        other = pdf.text_source == "scan_layer" and not any(similar_unit(u, app.unit) for u in named)
        staff = near or (ocr and not other)
        yield Hit(
            "一、申报单位基本情况 / 单位名称",
            {"pdf_unit": named[0], "word_unit": app.unit},
            variant="unit_note" if staff else "unit",
            **({"severity": WARNING, "staff_only": True} if staff else {}),
        )
        return
    if pdf.text_source == "ocr":
        if app.unit and not unit_in_text(app.unit, pdf.text):
            yield Hit("盖章 PDF 版", variant="scan", severity=WARNING, staff_only=True)
        return  # only the cover and seal page were read: no text to compare
    readings, word_total = pdf_total_readings(pdf.text), app.budget_total
    # The Word's total in 元, and as written when it was in 万元 (0.36 under a 万元 header prints as 0.36).
    written = parse_amount(app.budget_total_text or "")
    as_written = {word_total} | ({written} if written is not None and word_total is not None and written * 10000 == word_total else set())
    if readings and word_total is not None and not any(r in as_written or _cut_off(r, word_total) for r in readings):
        if len(readings) == 1:
            yield Hit("七、经费支出预算表 / 合计", {"pdf_total": fmt_money(readings[0]), "word_total": fmt_money(word_total)}, variant="budget", **note)
        else:
            # Several numbers on the 合计 line (more columns than 金额): which one is the total is a guess.
            totals = "、".join(fmt_money(r) for r in readings[:4])
            yield Hit("七、经费支出预算表 / 合计", {"pdf_total": totals, "word_total": fmt_money(word_total)}, variant="budget_note",
                      severity=WARNING, staff_only=True)
        return
    ticked = pdf_pilot_types(pdf.text)
    if len(ticked) == 1 and len(app.pilot_types) == 1 and ticked != app.pilot_types:
        yield Hit("封面 / 试点类型", {"pdf_pilot": ticked[0], "word_pilot": app.pilot_types[0]}, variant="pilot", **note)
        return
    similarity = containment(form_text(app), pdf.text)
    if similarity is None:
        return
    if not readable_form_text(pdf.text):
        # Text layers with broken font maps read as garbage: no verdict for the
        # applicant on that, only a note for staff, naming the cause (a scan has no fonts).
        yield Hit("盖章 PDF 版", variant="scan_garbled" if ocr else "garbled", severity=WARNING, staff_only=True)
        return
    if similarity < params["error_below"]:
        yield Hit("三、工作基础至五、考核指标", {"similarity": similarity}, variant="text", **note)
    elif similarity < params["warn_below"]:
        yield Hit("三、工作基础至五、考核指标", {"similarity": similarity}, variant="weak", severity=WARNING, staff_only=True)
