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


from pipeline.pairing import assign_files, unit_key  # noqa: E402

HQ = "新乡市红旗区科学技术协会"
WB = "新乡市卫滨区科学技术协会"


def assign(files, words=None, texts=None, history=(), known=(), waiting=()):
    return assign_files(
        "a@qq.com",
        files,
        word_unit=lambda sha: (words or {}).get(sha, ""),
        pdf_text=lambda sha: (texts or {}).get(sha, ""),
        sender_units=list(history),
        known_units=list(known),
        waiting=frozenset(waiting),
    )


def test_pdf_follows_the_word_of_its_mail():
    out = assign([("w", "word"), ("p", "pdf")], words={"w": HQ})
    assert out == {"w": unit_key(HQ), "p": unit_key(HQ)}
    assert unit_key("新乡市红旗区 科协") == unit_key(HQ)


def test_one_address_two_units_in_one_mail_split_by_pdf_text():
    out = assign(
        [("w1", "word"), ("w2", "word"), ("p1", "pdf"), ("p2", "pdf")],
        words={"w1": HQ, "w2": WB},
        texts={"p1": f"申报单位：{WB}", "p2": f"申报单位：{HQ}"},
    )
    assert out == {"w1": unit_key(HQ), "w2": unit_key(WB), "p1": unit_key(WB), "p2": unit_key(HQ)}


def test_pdf_alone_goes_to_the_senders_last_unit():
    out = assign([("p", "pdf")], history=[(unit_key(WB), WB), (unit_key(HQ), HQ)])
    assert out == {"p": unit_key(HQ)}


def test_pdf_from_a_second_address_found_by_its_text():
    out = assign([("p", "pdf")], texts={"p": f"{HQ} 科技志愿服务试点申报书"}, known=[(unit_key(HQ), HQ), (unit_key(WB), WB)])
    assert out == {"p": unit_key(HQ)}


def test_nothing_to_go_on_means_the_address():
    assert assign([("p", "pdf")], texts={"p": "扫描件"}) == {"p": "a@qq.com"}
    assert assign([("w", "word")], words={"w": ""}) == {"w": "a@qq.com"}


def test_on_a_time_tie_the_file_recorded_last_wins():
    docs = [doc("申报书.docx", "docx", 0), doc("申报书（修改）.docx", "docx", 0)]
    assert build_submission("x", "x", docs, []).word.filename == "申报书（修改）.docx"


SCHOOL = "河南师范大学科学技术协会"
# The headings that make a PDF's text the form (consistency.looks_like_form), after its cover.
FORM = "\n一、申报单位基本情况\n三、工作基础\n四、试点建设方案\n五、考核指标\n八、申报单位意见"


def test_pdf_naming_another_unit_goes_to_that_unit_not_the_senders():
    """A county contact sending a school's stamped PDF on its behalf (代报)."""
    out = assign([("p", "pdf")], texts={"p": f"申报单位：{SCHOOL}\n主要负责人：陈志刚{FORM}"}, history=[(unit_key(HQ), HQ)], known=[(unit_key(HQ), HQ)])
    assert out == {"p": unit_key(SCHOOL)}


def test_pdf_naming_a_unit_outside_a_long_history_is_not_filed_under_the_last_one():
    history = [(unit_key(WB), WB), (unit_key(HQ), HQ)]
    assert assign([("p", "pdf")], texts={"p": f"申报单位：{SCHOOL}{FORM}"}, history=history, known=history) == {"p": unit_key(SCHOOL)}
    assert assign([("p", "pdf")], texts={"p": f"单位名称 {WB}"}, history=history, known=history) == {"p": unit_key(WB)}
    medical = "新乡市医学会"
    known = history + [(unit_key(medical), medical)]
    assert assign([("p", "pdf")], texts={"p": f"{medical} 申报书"}, history=history, known=known) == {"p": unit_key(medical)}


def test_pdf_before_any_word_is_keyed_by_the_unit_it_names():
    """So the Word a colleague sends later from another address joins it."""
    assert assign([("p", "pdf")], texts={"p": f"申报单位：{HQ}（盖章）2025年6月20日{FORM}"}) == {"p": unit_key(HQ)}


def test_pdf_naming_no_unit_goes_to_the_senders_last_unit():
    history = [(unit_key(WB), WB), (unit_key(HQ), HQ)]
    assert assign([("p", "pdf")], texts={"p": "扫描件"}, history=history) == {"p": unit_key(HQ)}


def test_pdf_naming_the_senders_unit_a_little_differently_stays_with_it():
    out = assign([("p", "pdf")], texts={"p": "申报单位：红旗区科协"}, history=[(unit_key(HQ), HQ)], known=[(unit_key(HQ), HQ)])
    assert out == {"p": unit_key(HQ)}


def test_resent_word_with_the_unit_written_in_full_stays_with_the_senders_unit():
    short = "红旗区科协"
    history = [(unit_key(short), short)]
    assert assign([("w", "word")], words={"w": HQ}, history=history, known=history) == {"w": unit_key(short)}
    history = [(unit_key(HQ), HQ)]
    assert assign([("w", "word")], words={"w": "河南省红旗区科协"}, history=history, known=history) == {"w": unit_key("河南省红旗区科协")}  # another place
    assert assign([("w", "word")], words={"w": "新乡红旗区科协"}, history=history, known=history) == {"w": unit_key(HQ)}


def test_word_is_matched_against_the_senders_units_before_everyones():
    hospitals = [(unit_key("卫辉市人民医院"), "卫辉市人民医院"), (unit_key("辉县市人民医院"), "辉县市人民医院")]
    out = assign([("w", "word")], words={"w": "人民医院"}, history=hospitals[:1], known=hospitals)
    assert out == {"w": unit_key("卫辉市人民医院")}
    out = assign([("w", "word")], words={"w": "人民医院"}, known=hospitals)  # a colleague's address, two candidates
    assert out == {"w": unit_key("人民医院")}  # ambiguous: no guess
    out = assign([("w", "word")], words={"w": "红旗区科协"}, known=[(unit_key(HQ), HQ)])
    assert out == {"w": unit_key(HQ)}


def test_word_matching_two_of_the_senders_units_is_not_guessed():
    hospitals = [(unit_key("卫辉市人民医院"), "卫辉市人民医院"), (unit_key("辉县市人民医院"), "辉县市人民医院")]
    assert assign([("w", "word")], words={"w": "人民医院"}, history=hospitals, known=hospitals) == {"w": unit_key("人民医院")}


def test_sibling_unit_from_one_address_is_its_own_applicant():
    history = [(unit_key(HQ), HQ)]
    assert assign([("w", "word")], words={"w": WB}, history=history, known=history) == {"w": unit_key(WB)}
    one, two = "新乡市第一中学", "新乡市第二中学"
    history = [(unit_key(one), one)]
    assert assign([("w", "word")], words={"w": two}, history=history, known=history) == {"w": unit_key(two)}


def test_word_without_a_unit_goes_with_the_pdf_of_its_mail():
    out = assign([("w", "word"), ("p", "pdf")], words={"w": ""}, texts={"p": f"申报单位：{SCHOOL}{FORM}"}, history=[(unit_key(HQ), HQ)])
    assert out == {"w": unit_key(SCHOOL), "p": unit_key(SCHOOL)}
    out = assign([("w", "word")], words={"w": ""}, history=[(unit_key(WB), WB), (unit_key(HQ), HQ)])
    assert out == {"w": unit_key(HQ)}


def test_an_ocr_read_pdf_naming_an_unknown_unit_stays_with_the_senders_unit():
    """A scan read by OCR with the unit misread by two characters: no new applicant (it would
    draw a second notice); the sender's own unit keeps it, as a text-layer PDF would not."""
    from pipeline.pairing import assign_files

    history = [("unit:新乡市红旗区科学技术协会", "新乡市红旗区科学技术协会")]
    text = "申报单位：新乡市红旗区科掌技木协会\n主要负责人：王建国" + FORM
    common = dict(word_unit=lambda sha: "", pdf_text=lambda sha: text, sender_units=history, known_units=history)
    assert assign_files("a@qq.com", [("p", "pdf")], pdf_ocr=lambda sha: True, **common) == {"p": "unit:新乡市红旗区科学技术协会"}
    assert assign_files("a@qq.com", [("p", "pdf")], **common) == {"p": "unit:新乡市红旗区科掌技木协会"}


def test_units_one_character_apart_stay_two():
    """新乡学院 and 新乡医学院, 中心医院 and 中医院, a 市 and a 县: other units, not typos."""
    for first, second in [("新乡学院科学技术协会", "新乡医学院科学技术协会"), ("新乡市中心医院", "新乡市中医院"),
                          ("新乡市第一中学", "新乡市第一小学"), ("新乡市科协", "新乡县科协")]:
        units = [(unit_key(first), first)]
        assert assign([("w", "word")], words={"w": second}, history=units, known=units) == {"w": unit_key(second)}
        assert assign([("w", "word")], words={"w": second}, known=units) == {"w": unit_key(second)}


def test_a_pdf_naming_another_unit_goes_to_the_senders_unit_waiting_for_its_pdf():
    """A unit's PDF printed from last year's form (another unit's name): it is still the
    PDF its Word waits for; the unit check tells the unit, no phantom applicant is made."""
    history = [(unit_key(WB), WB)]
    out = assign([("p", "pdf")], texts={"p": f"申报单位：{HQ}{FORM}"}, history=history, known=history, waiting={unit_key(WB)})
    assert out == {"p": unit_key(WB)}


def test_a_pdf_that_is_not_the_form_starts_no_unit():
    """An appendix or a certificate naming a partner (合作单位名称) goes with the sender's unit."""
    history = [(unit_key(HQ), HQ)]
    out = assign([("p", "pdf")], texts={"p": "合作协议\n合作单位名称：新乡市中心医院"}, history=history, known=history)
    assert out == {"p": unit_key(HQ)}


def test_files_after_the_cutoff_are_kept_apart_but_the_same_bytes_again_are_no_new_version():
    word, pdf = doc("a.docx", "docx", 0), doc("b.pdf", "pdf", 10)
    again = ("word", Document(word[1].sha256, "a.docx", "docx", 1, T0 + timedelta(days=2), "m2"))  # identical bytes
    newer = doc("c.pdf", "pdf", 60 * 48)
    sub = build_submission("x", "x", [word, pdf, again, newer], [T0], cutoff=T0 + timedelta(days=1))
    assert (sub.word.filename, sub.pdf.filename) == ("a.docx", "b.pdf")  # the on-time pair is judged
    assert [d.filename for d in sub.late_files] == ["c.pdf"]
