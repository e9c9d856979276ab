"""Plain records passed between the stages.

RawMail -> Mail -> Submission -> Application / PdfFacts -> Verdict -> Reply.
Every record is frozen so a stage can only return a new one, never mutate what
an earlier stage produced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ERROR = "error"
WARNING = "warning"

# Applicant status values (the summary JSON contract).
ACCEPTED = "accepted"
NEEDS_CORRECTION = "needs_correction"
LATE = "late"

# The finding run.py puts on a mail about the call with nothing attached (most likely a
# question): staff-only, listed in summaries until `intake answered`.
QUESTION_CODE = "mail_without_files"
# Findings about attachments that came but could not be opened (too large, a locked or broken
# archive): run.py keeps them until that file comes again; `unopened_attachments` passes them on.
UNOPENED_CODES = ("archive_unreadable", "attachment_too_large")
# Words that make a mail without forms one about the call, unless the rules file says others
# ([call] topic_words).
TOPIC_WORDS = ("申报", "申请", "试点", "志愿服务")

# The four pilot types printed on the form's cover, in form order.
PILOT_TYPES = ("县级科协试点", "高校科协试点", "市级学会试点", "其它单位")
# Other wordings applicants type for an option: shortened, or copied from the notice's address line
# (各县（市、区）科协). Each counts as that option only where it stands as a whole option name (beside a
# box, alone on its line, or all that follows 试点类型：), never inside a sentence. Brackets may be
# full- or half-width and 、 written as / or ，.
PILOT_TYPE_ALIASES = {
    "县级科协试点": ("县（市、区）科协试点", "县（市、区）科协", "县级科协", "县科协试点", "县科协"),
    "高校科协试点": ("高校科协",),
    "市级学会试点": ("市级学会",),
    "其它单位": ("其他单位", "其它", "其他"),
}


@dataclass(frozen=True)
class Finding:
    """One problem found in a mail, a file or an application.

    `code` is stable (tests and staff filters rely on it); `message` is the
    Chinese text an applicant or staff member reads; `location` names the
    section/field so the reply can say where to fix it.
    """

    code: str
    severity: str
    message: str
    location: str = ""
    staff_only: bool = False  # a note for staff, never shown to the applicant


@dataclass(frozen=True)
class RawMail:
    """Bytes of one mail exactly as the server (or a .eml file) gave them."""

    data: bytes = field(repr=False)
    sha256: str
    source: str  # "imap" | "import" | "demo"
    received_at: datetime | None  # server receive time (INTERNALDATE), aware
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A file carried by a mail; `kind` is decided from content, not name."""

    filename: str
    kind: str  # docx | pdf | doc | wps | rtf | zip | image | other ...
    data: bytes = field(repr=False)
    sha256: str
    content_type: str = "application/octet-stream"

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Mail:
    """A parsed mail: who sent it, when, and the files it carries."""

    sha256: str
    message_id: str
    sender: str  # lower-cased address
    sender_name: str
    subject: str
    sent_at: datetime | None  # Date header
    received_at: datetime  # what the deadline is judged on
    body_text: str
    attachments: tuple[Attachment, ...] = ()
    references: tuple[str, ...] = ()
    # Why this mail must never get an automatic answer (None: it may).
    no_reply_reason: str | None = None
    problems: tuple[Finding, ...] = ()
    # Where the writer asked answers to go (Reply-To), when that is another person's address.
    reply_to: str = ""


@dataclass(frozen=True)
class Person:
    name: str = ""
    title: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Participant:
    seq: str = ""
    name: str = ""
    gender: str = ""
    title: str = ""
    employer: str = ""
    role: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Stage:
    name: str = ""
    goal: str = ""
    period: str = ""


@dataclass(frozen=True)
class BudgetItem:
    seq: str = ""
    item: str = ""
    amount_text: str = ""
    amount: Decimal | None = None
    basis: str = ""


@dataclass(frozen=True)
class Section:
    """A free-text section (三/四/五) with the applicant's text only."""

    text: str = ""
    chars: int = 0  # Word's 字数 of `text`


@dataclass(frozen=True)
class Application:
    """What the Word form says. Empty strings mean 'not filled'."""

    pilot_types: tuple[str, ...] = ()  # checked boxes, subset of PILOT_TYPES
    # With no box ticked, the one option set apart by formatting (bold, underline, colour…):
    # named in the correction, never taken as the choice (formatting is also pasted or a reviewer's).
    pilot_type_marked: str = ""
    cover_unit: str = ""  # 申报单位 on the cover
    cover_leader: str = ""  # 主要负责人
    cover_contact: str = ""  # 联系方式
    cover_date: str = ""  # 申报时间
    unit_name: str = ""  # 一、单位名称
    leader: Person = Person()  # 试点负责人, 职称/职务, 电子邮箱, 联系电话
    contact: Person = Person()  # 试点联系人, 职称/职务, 电子邮箱, 手机号码
    address: str = ""
    participants: tuple[Participant, ...] = ()
    work_basis: Section = Section()  # 三、工作基础
    plan: Section = Section()  # 四、试点建设方案
    indicators: Section = Section()  # 五、考核指标
    schedule: tuple[Stage, ...] = ()
    budget_items: tuple[BudgetItem, ...] = ()
    budget_total_text: str = ""
    budget_total: Decimal | None = None
    budget_total_capital: str = ""  # 合计（大写）beside the figure, as written (checked against it)
    account_name: str = ""
    account_bank: str = ""
    account_number: str = ""
    opinion_filled: bool = False
    opinion_date: str = ""
    problems: tuple[Finding, ...] = ()

    @property
    def unit(self) -> str:
        """The unit as the applicant names it: section 一 first, then the cover."""
        return self.unit_name or self.cover_unit


@dataclass(frozen=True)
class SealEvidence:
    kind: str  # "red" | "electronic" | "grey" | "none" | "error" (the search itself failed)
    page: int | None = None  # 1-based
    confidence: float = 0.0
    detail: str = ""
    # With kind "none": the page of a red seal that was set aside as an appendix's (a certificate's
    # issuer), so the applicant is told why the red seal they see does not count.
    appendix_page: int | None = None


# Text read from page images misreads characters (OCR_SOURCES); whole-document
# text (not only cover and last page) is in FULL_TEXT_SOURCES.
OCR_SOURCES = frozenset({"ocr", "scan_layer"})
FULL_TEXT_SOURCES = frozenset({"layer", "scan_layer"})


@dataclass(frozen=True)
class PdfFacts:
    """What the stamped PDF shows."""

    pages: int = 0
    text: str = ""
    page_sizes: tuple[tuple[float, float], ...] = ()  # points, per page
    encrypted: bool = False
    has_text_layer: bool = False
    seal: SealEvidence | None = None
    problems: tuple[Finding, ...] = ()
    repaired: bool = False  # qpdf had to repair the file
    # "layer" (the file's own text), "scan_layer" (a scanner's invisible OCR text over
    # the page images: every page), "ocr" (our OCR of cover and last page), "" (none)
    text_source: str = ""
    opinion_page: int | None = None  # the page holding 八、申报单位意见 / (公章)


@dataclass(frozen=True)
class Document:
    """A stored Word or PDF file of one applicant, one version."""

    sha256: str
    filename: str
    kind: str
    size: int
    received_at: datetime
    mail_sha256: str


@dataclass(frozen=True)
class Submission:
    """Everything one applicant has sent so far: the latest Word and PDF."""

    applicant: str  # applicant key (sender address)
    sender: str
    word: Document | None
    pdf: Document | None
    first_received_at: datetime
    last_received_at: datetime
    complete_at: datetime | None  # when both files were first on record
    mail_problems: tuple[Finding, ...] = ()
    correction_notice_at: datetime | None = None  # our latest correction notice (its window counts)
    images: tuple[Document, ...] = ()  # pictures sent along (photos of the stamped pages?)
    # Word/PDF versions that came after the cut-off (deadline, or the end of the
    # correction window) while an on-time pair was on record: not judged.
    late_files: tuple[Document, ...] = ()


@dataclass(frozen=True)
class Verdict:
    applicant: str
    status: str  # ACCEPTED | NEEDS_CORRECTION | LATE
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARNING)

    @property
    def applicant_warnings(self) -> tuple[Finding, ...]:
        """Warnings the applicant is told about (staff notes left out)."""
        return tuple(f for f in self.warnings if not f.staff_only)


@dataclass(frozen=True)
class Reply:
    """A rendered answer to one applicant, ready for the outbox."""

    applicant: str
    kind: str  # receipt | correction | late | question (来信收到: a letter without files, nothing submitted)
    to: str
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str
    references: tuple[str, ...] = ()
    attachments: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
