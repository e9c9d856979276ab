"""Pair each applicant's Word form and stamped PDF, also across several mails.

Pure: takes the applicant's stored documents, returns a Submission. The latest
Word and the latest PDF count; earlier versions stay on record in the store.
"""
from __future__ import annotations

from datetime import datetime

from .models import Document, Finding, Submission

WORD_KINDS = frozenset({"docx", "doc", "wps", "rtf", "html_doc", "word2003xml"})
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


def build_submission(
    applicant: str,
    sender: str,
    documents: list[tuple[str, Document]],
    mail_times: list[datetime],
    *,
    mail_problems: tuple[Finding, ...] = (),
    correction_notice_at: datetime | None = None,
) -> Submission:
    """`documents` are (role, Document); `mail_times` every mail's receive time."""
    words = [d for role, d in documents if role == "word"]
    pdfs = [d for role, d in documents if role == "pdf"]
    word = max(words, key=_rank) if words else None
    pdf = max(pdfs, key=_rank) if pdfs else None
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
    )
