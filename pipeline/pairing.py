"""Pair each applicant's Word form and stamped PDF, also across several mails.

Pure: takes the applicant's stored documents, returns a Submission. The latest
Word and the latest PDF count; earlier versions stay on record in the store.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from .archives import ARCHIVE_KINDS
from .models import Document, Finding, Submission

WORD_KINDS = frozenset({"docx", "doc", "wps", "rtf", "html_doc", "word2003xml", "odt"})
# Files an applicant sends: these make a mail an application whatever its subject or text says.
APPLICATION_KINDS = WORD_KINDS | {"pdf", "image"} | ARCHIVE_KINDS
FORM_HINTS = ("申报书", "申报", "试点")


def role_of(kind: str) -> str:
    """'word', 'pdf' or 'other' for a sniffed file kind."""
    if kind in WORD_KINDS:
        return "word"
    if kind == "pdf":
        return "pdf"
    return "other"


def _rank(doc: Document) -> tuple:
    # Latest wins; within one mail a name that says 申报书 beats an appendix.
    return (doc.received_at, any(h in doc.filename for h in FORM_HINTS))


def current(documents: list[tuple[str, Document]], role: str) -> Document | None:
    """The version of the Word form or PDF that counts now.

    Latest wins; `documents` come oldest first, so on a tie the one recorded last wins.
    """
    candidates = [d for r, d in documents if r == role]
    return max(reversed(candidates), key=_rank) if candidates else None


def build_submission(
    applicant: str,
    sender: str,
    documents: list[tuple[str, Document]],
    mail_times: list[datetime],
    *,
    mail_problems: tuple[Finding, ...] = (),
    correction_notice_at: datetime | None = None,
    images: tuple[Document, ...] = (),
    cutoff: datetime | None = None,
) -> Submission:
    """`documents` are (role, Document); `mail_times` every mail's receive time.

    With a `cutoff`, versions received after it do not replace an on-time pair:
    a unit cannot improve (or spoil) its application after the deadline. They
    are kept in `late_files` for the verdict and for staff.
    """
    words = [d for role, d in documents if role == "word"]
    pdfs = [d for role, d in documents if role == "pdf"]
    judged, late_files = documents, ()
    if cutoff is not None:
        on_time = [(role, d) for role, d in documents if d.received_at <= cutoff]
        if {role for role, _ in on_time} >= {"word", "pdf"} and len(on_time) < len(documents):
            judged, late_files = on_time, tuple(d for _, d in documents if d.received_at > cutoff)
    word = current(judged, "word")
    pdf = current(judged, "pdf")
    times = sorted(mail_times + [d.received_at for _, d in documents])
    complete_at = None
    if words and pdfs:
        complete_at = max(min(d.received_at for d in words), min(d.received_at for d in pdfs))
    return Submission(
        applicant=applicant,
        sender=sender,
        word=word,
        pdf=pdf,
        first_received_at=times[0],
        last_received_at=times[-1],
        complete_at=complete_at,
        mail_problems=mail_problems,
        correction_notice_at=correction_notice_at,
        images=images,
        late_files=late_files,
    )


def unit_key(unit: str) -> str:
    """Applicant key of a unit named in a form."""
    from .units import normalize_unit

    return "unit:" + normalize_unit(unit)


def assign_files(
    sender: str,
    files: list[tuple[str, str]],
    word_unit: Callable[[str], str],
    pdf_text: Callable[[str], str],
    sender_units: list[tuple[str, str]],
    known_units: list[tuple[str, str]],
) -> dict[str, str]:
    """Which applicant each file of one mail belongs to: {sha256: key}.

    `files` are (sha256, role). What the documents say wins over the address:
    a Word form names its unit; a PDF follows the Word of the same mail, else
    the unit its text names, else the unit this sender last wrote for; with
    nothing to go on the sender address is the applicant.
    """
    from .units import normalize_unit, unit_in_text

    out: dict[str, str] = {}
    mail_units: dict[str, str] = {}  # key -> unit name
    for sha, role in files:
        if role == "word":
            unit = word_unit(sha)
            if normalize_unit(unit):
                out[sha] = unit_key(unit)
                mail_units[out[sha]] = unit
    history = dict(sender_units)
    default = None
    if len(mail_units) == 1:
        default = next(iter(mail_units))
    elif not mail_units and len(history) == 1:
        default = next(iter(history))
    for sha, role in files:
        if sha in out:
            continue
        key = default
        if key is None and role == "pdf":
            candidates = mail_units or history or dict(known_units)
            text = pdf_text(sha)
            hits = [k for k, unit in candidates.items() if unit_in_text(unit, text)]
            if len(hits) == 1:
                key = hits[0]
        if key is None and history:
            key = sender_units[-1][0]  # the unit this sender wrote for last
        out[sha] = key or sender
    return out
