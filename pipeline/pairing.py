"""Pair each applicant's Word form and stamped PDF, also across several mails.

Pure: takes the applicant's stored documents, returns a Submission. The latest
Word and the latest PDF count; earlier versions stay on record in the store.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from .archives import ARCHIVE_KINDS
from .models import Document, Finding, Submission

WORD_KINDS = frozenset({"docx", "doc", "wps", "rtf", "html_doc", "word2003xml", "odt", "office_encrypted"})
# Files an applicant sends: these make a mail an application whatever its subject or text says.
APPLICATION_KINDS = WORD_KINDS | {"pdf", "image", "ofd"} | ARCHIVE_KINDS
FORM_HINTS = ("申报书", "申报", "试点")
# The file name endings that claim a role: a file so named that is not of that role's kinds
# (the Word renamed .pdf, an empty upload) stands where the file should be (`Store.images`).
NAMED_AS = {"pdf": (".pdf",), "word": (".docx", ".doc", ".wps")}


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
            kept = {d.sha256 for _, d in on_time}  # the same bytes sent again late are no new version
            judged, late_files = on_time, tuple(d for _, d in documents if d.received_at > cutoff and d.sha256 not in kept)
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
    waiting: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Which applicant each file of one mail belongs to: {sha256: key}.

    `files` are (sha256, role). What the documents say wins over the address:
    a Word form names its unit, found among the sender's units and then everyone's
    as people write one name (`units.probably_same_unit`: with or without its
    places); two units one character apart stay two (新乡学院, 新乡医学院). A PDF follows the
    Word of the same mail, else the unit its text names. It starts a new unit
    only when it is clearly the form, read from its own text layer (OCR misreads
    names), and none of the sender's units is `waiting` for its PDF: a contact
    sending another unit's PDF on its behalf, not a unit whose PDF still shows an
    old name (the unit check then says so). What names no unit goes with the
    mail's one unit, else the sender's unit waiting for a PDF, else the unit this
    sender last wrote for; with nothing to go on the sender address is the applicant.
    """
    from .units import normalize_unit

    history, known = _scope(sender_units), _scope(known_units)
    out: dict[str, str | None] = {}
    mail: dict[str, tuple[str, ...]] = {}  # key -> names, the units this mail's Words name
    for sha, role in files:
        unit = word_unit(sha) if role == "word" else ""
        if normalize_unit(unit):
            key = out[sha] = _find(unit, [history, known]) or unit_key(unit)
            mail[key] = mail.get(key, history.get(key, known.get(key, ()))) + (unit,)
    for sha, role in files:
        if sha not in out and role == "pdf":
            out[sha] = next(iter(mail)) if len(mail) == 1 else _pdf_unit(
                pdf_text(sha), mail, history, known, ocr=pdf_ocr(sha), may_start=not (waiting & set(history)))
    found = set(mail) | {key for key in out.values() if key}
    pending = [key for key, _ in sender_units if key in waiting]
    fallback = (next(iter(found)) if len(found) == 1 else pending[-1] if pending
                else sender_units[-1][0] if sender_units else sender)
    return {sha: out.get(sha) or fallback for sha, _ in files}


def _scope(units: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    # A unit is known by its key and by the name its latest Word gives.
    return {key: (key.removeprefix("unit:"), unit) for key, unit in units}


def _find(name: str, scopes: list[dict[str, tuple[str, ...]]]) -> str | None:
    """The one unit `name` is in the nearest scope (this mail's, the sender's, everyone's):
    exactly, then as people write one name (`probably_same_unit`). None when none is,
    or two are (no guess)."""
    from .units import probably_same_unit, same_unit

    for test in (same_unit, probably_same_unit):
        for scope in scopes:
            hits = {key for key, names in scope.items() if any(test(name, n) for n in names)}
            if hits:
                return hits.pop() if len(hits) == 1 else None
    return None


def _pdf_unit(text: str, mail, history, known, *, ocr: bool, may_start: bool) -> str | None:
    """The unit a PDF's text names: its 申报单位 as a known unit, or a new one (see
    `assign_files`), else the one known unit written anywhere in it; None when it names none."""
    from .consistency import looks_like_form, pdf_units
    from .units import normalize_unit, unit_in_text

    # Read as a text layer and as OCR (gaps between characters closed): either may be the case.
    named = [n for n in dict.fromkeys(pdf_units(text) + pdf_units(text, ocr=True)) if len(normalize_unit(n)) >= 4]
    for name in named:
        if found := _find(name, [mail, history, known]):
            return found
    if named and not ocr and may_start and looks_like_form(text):
        return unit_key(min(named, key=len))  # the cover and section 一 name it: the plain name
    for scope in (mail, history, known):
        hits = {key for key, names in scope.items() if any(unit_in_text(n, text) for n in names)}
        if hits:
            return hits.pop() if len(hits) == 1 else None
    return None
