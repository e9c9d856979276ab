"""Pairing across mails and the status decision (pure functions)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pipeline.judge import judge, waiting_for_partner
from pipeline.models import Document, Finding
from pipeline.pairing import build_submission, role_of

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 6, 20, 9, tzinfo=CST)


def doc(name: str, kind: str, minutes: int) -> tuple[str, Document]:
    return role_of(kind), Document(name * 4, name, kind, 1, T0 + timedelta(minutes=minutes), "m")


def test_latest_word_and_pdf_win_and_complete_time_is_when_both_were_there():
    docs = [doc("a.docx", "docx", 0), doc("b.pdf", "pdf", 30), doc("c.docx", "docx", 60)]
    sub = build_submission("x", "x", docs, [T0])
    assert sub.word.filename == "c.docx" and sub.pdf.filename == "b.pdf"
    assert sub.complete_at == T0 + timedelta(minutes=30)
    assert sub.first_received_at == T0 and sub.last_received_at == T0 + timedelta(minutes=60)


def test_form_name_beats_appendix_in_one_mail():
    docs = [doc("附件1.docx", "docx", 0), doc("申报书.docx", "docx", 0), doc("附件2.docx", "docx", 0)]
    sub = build_submission("x", "x", docs, [])
    assert sub.word.filename == "申报书.docx"


def test_no_documents():
    sub = build_submission("x", "x", [], [T0])
    assert sub.word is None and sub.pdf is None and sub.complete_at is None


def test_roles():
    assert role_of("docx") == role_of("doc") == role_of("wps") == "word"
    assert role_of("pdf") == "pdf"
    assert role_of("image") == role_of("zip") == "other"


def f(code, severity="error"):
    return Finding(code, severity, "m")


def test_status():
    assert judge("x", ()).status == "accepted"
    assert judge("x", (f("text_near_limit", "warning"),)).status == "accepted"
    assert judge("x", (f("missing_pdf"),)).status == "needs_correction"
    assert judge("x", (f("missing_pdf"), f("late"))).status == "late"


def test_waiting_for_partner_only_when_exactly_one_file_is_missing():
    assert waiting_for_partner(judge("x", (f("missing_pdf"),)))
    assert waiting_for_partner(judge("x", (f("missing_pdf"), f("budget_over_limit"))))
    assert not waiting_for_partner(judge("x", (f("missing_pdf"), f("missing_word"))))
    assert not waiting_for_partner(judge("x", (f("missing_pdf"), f("late"))))
    assert not waiting_for_partner(judge("x", ()))
