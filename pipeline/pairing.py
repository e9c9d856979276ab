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
    pdf_ocr: Callable[[str], bool] = lambda sha: False,
) -> dict[str, str]:
    """Which applicant each file of one mail belongs to: {sha256: key}.

    `files` are (sha256, role). What the documents say wins over the address:
    a Word form names its unit, looked up among the sender's units and then all
    known ones as people write one name (`units.probably_same_unit`); a PDF
    follows the Word of the same mail, else the unit its text names, a new one
    too (a contact sends another unit's PDF on its behalf) but never from OCR text
    (`pdf_ocr`: a misread name is no new unit). What names no unit
    goes with the mail's one unit, else the unit this sender last wrote for;
    with nothing to go on the sender address is the applicant.
    """
    from .units import normalize_unit

    history, known = _scope(sender_units), _scope(known_units)
    out: dict[str, str | None] = {}
    mail: dict[str, tuple[str, ...]] = {}  # key -> names, the units this mail's Words name
    for sha, role in files:
        unit = word_unit(sha) if role == "word" else ""
        if normalize_unit(unit):
            key = out[sha] = _lookup([history, known], *_writes([unit])) or unit_key(unit)
            mail[key] = mail.get(key, history.get(key, known.get(key, ()))) + (unit,)
    for sha, role in files:
        if sha not in out and role == "pdf":
            out[sha] = next(iter(mail)) if len(mail) == 1 else _pdf_unit(pdf_text(sha), [mail, history, known], pdf_ocr(sha))
    found = set(mail) | {key for key in out.values() if key}
    fallback = next(iter(found)) if len(found) == 1 else sender_units[-1][0] if sender_units else sender
    return {sha: out.get(sha) or fallback for sha, _ in files}


def _scope(units: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    # A unit is known by its key and by the name its latest Word gives.
    return {key: (key.removeprefix("unit:"), unit) for key, unit in units}


def _writes(names: list[str]) -> tuple[Callable[[str], bool], Callable[[str], bool]]:
    """Whether a known name is one of `names`: exactly, then as people write one unit."""
    from .units import probably_same_unit, same_unit

    return (lambda known: any(same_unit(n, known) for n in names), lambda known: any(probably_same_unit(n, known) for n in names))


def _lookup(scopes: list[dict[str, tuple[str, ...]]], *tests: Callable[[str], bool]) -> str | None:
    """The one unit a test finds in the nearest scope (this mail, the sender's, everyone's),
    the tests tried in turn; None when none does, or two units do (no guess)."""
    for test in tests:
        for scope in scopes:
            hits = {key for key, names in scope.items() if any(test(n) for n in names)}
            if hits:
                return hits.pop() if len(hits) == 1 else None
    return None


def _pdf_unit(text: str, scopes: list[dict[str, tuple[str, ...]]], ocr: bool = False) -> str | None:
    """The unit a PDF's text names: its 申报单位 as a known unit, or a new one when the text
    is the file's own (OCR misreads names), else the one known unit written anywhere in it;
    None when it names none."""
    from .consistency import pdf_units
    from .units import normalize_unit, unit_in_text

    # Read as a text layer and as OCR (gaps between characters closed): which one it is is not known here.
    named = [n for n in dict.fromkeys(pdf_units(text) + pdf_units(text, ocr=True)) if len(normalize_unit(n)) >= 4]
    if named:
        found = _lookup(scopes, *_writes(named))
        if found or not ocr:
            return found or unit_key(named[0])
    return _lookup(scopes, lambda known: unit_in_text(known, text))
