"""A red seal on an appendix is not the unit's 公章 (QA round 9, F1).

Applicants put 证明材料 behind the form: a 荣誉证书 or 获奖证书 carries its issuer's red
round seal. Made as one batch scan, or merged (WPS/Acrobat 合并PDF) after an exported
form, such a page must neither pass an unstamped form nor stand in, in the summary, for
the seal on 八、申报单位意见（公章）.
"""
from __future__ import annotations

import io
import random

import pikepdf
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from pipeline.checks import STAMP_MESSAGES, Context, _seal_present, stamp_variant
from pipeline.forms.pdf import ocr_available, read_pdf
from pipeline.forms.seal import find_seal
from pipeline.models import PdfFacts, SealEvidence
from pipeline.samples.pdfs import _font, build_form_pdf, draw_seal, scan_pdf
from pipeline.summary import seal_short, seal_text

from test_seal import APP

needs_ocr = pytest.mark.skipif(not ocr_available(), reason="tesseract with chi_sim not installed")

ISSUER = "河南省科学技术协会"
APPENDIX_WORDS = "的红色印章在附件上，不能代替申报单位公章"

# What certificates say, as printed: a title, who is honoured, for what, the issuer, the date.
CERTIFICATES = {
    "honour": ("荣誉证书", [f"{APP.unit_name}：", "　　在2024年全国科普日活动中表现突出，", "被评为优秀组织单位。", "　　特发此证，以资鼓励。"]),
    "award": ("获奖证书", ["兹授予", f"{APP.unit_name}", "“河南省科技志愿服务先进集体”荣誉称号。", "证书编号：豫科协〔2024〕第0318号"]),
    # Other proof put behind or before the form, each with its issuer's seal (QA round 9).
    "licence": ("营业执照", ["统一社会信用代码 91410700MA46XXXX1K", "名称 新乡市华科科技服务有限公司",
                          "法定代表人 王建国", "成立日期 2019年03月15日", "登记机关"]),
    "statement": ("情况说明", ["新乡市科学技术协会：", "　　我单位2024年共组织科技志愿服务活动36场，", "服务群众1.2万人次。",
                            "　　以上情况属实，特此说明。"]),
    "notice": ("新乡市红旗区科学技术协会文件", ["红科协〔2024〕12号", "关于成立红旗区科技志愿服务队的通知", "各街道科协、区直各学会：",
                                       "　　经研究，决定成立红旗区科技志愿服务队。", "　　请各单位高度重视，认真组织实施。"]),
    "pledge": ("诚信承诺书", ["我单位郑重承诺：所报申报材料真实、准确、完整。", "如有违反，愿承担相应责任。",
                             "申报单位（公章）：", "法定代表人（签字）："]),
    "recommendation": ("推荐函", ["新乡市科学技术协会：", f"　　{APP.unit_name}长期致力于科技志愿服务工作，",
                                 "同意推荐该单位申报科技志愿服务试点。", "　　特此推荐。"]),
}


def certificate(kind: str = "honour", *, issuer: str = ISSUER, seed: int = 0) -> bytes:
    """One A4 certificate page: border, red title, text, the issuer and date under its red seal."""
    title, lines = CERTIFICATES[kind]
    rng = random.Random(seed)
    w, h = A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    font = _font()
    c.setStrokeColorRGB(0.75, 0.55, 0.1)
    c.setLineWidth(6)
    c.rect(15 * mm, 15 * mm, w - 30 * mm, h - 30 * mm)
    c.setFont(font, 36)
    c.setFillColorRGB(0.8, 0.1, 0.1)
    c.drawCentredString(w / 2, h - 70 * mm, title)
    c.setFillColorRGB(0, 0, 0)
    c.setFont(font, 16)
    for i, line in enumerate(lines):
        c.drawString(35 * mm, h - (110 + 15 * i) * mm, line)
    c.drawString(w - 110 * mm, h - 200 * mm, issuer)
    c.drawString(w - 100 * mm, h - 212 * mm, "二〇二四年十月")
    draw_seal(c, w - 75 * mm + rng.uniform(-6, 6) * mm, h - 205 * mm + rng.uniform(-4, 4) * mm, issuer, rng=rng)
    c.showPage()
    c.save()
    return buf.getvalue()


def photo_page(seed: int = 0) -> bytes:
    """An appendix page of activity photos (blue and green blocks) with a typed caption."""
    rng = random.Random(seed)
    w, h = A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(_font(), 14)
    c.drawString(30 * mm, h - 30 * mm, "附件2：2024年科技活动周志愿服务照片")
    for i in range(2):
        c.setFillColorRGB(rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.6), rng.uniform(0.5, 0.8))
        c.rect(30 * mm, h - (140 + 115 * i) * mm, w - 60 * mm, 100 * mm, stroke=0, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def merged(*parts: bytes) -> bytes:
    """The parts' pages in one PDF, as WPS/Acrobat 合并PDF writes it."""
    out = pikepdf.new()
    opened = [pikepdf.open(io.BytesIO(p)) for p in parts]
    for pdf in opened:
        out.pages.extend(pdf.pages)
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def stamped_cover(form: bytes, seed: int = 0) -> bytes:
    """The form with the unit's seal on its cover only (over 申报单位), none at 八."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    draw_seal(c, 130 * mm, 110 * mm, APP.unit_name, rng=random.Random(seed))
    c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(form))
    seal = pikepdf.open(io.BytesIO(buf.getvalue()))
    pdf.pages[0].add_overlay(seal.pages[0])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def variants(facts: PdfFacts) -> list[str]:
    return [h.variant for h in _seal_present(Context(None, None, None, facts), {})]


def asks_for_the_stamp_citing(facts: PdfFacts, page: int) -> None:
    """An appendix seal only: missing_stamp in the words that explain the red seal the applicant sees."""
    assert facts.seal.kind == "none" and facts.seal.page is None
    assert facts.seal.appendix_page == page
    assert f"第 {page} 页" in facts.seal.detail
    assert variants(facts) == ["appendix"]
    [stamp] = [f for f in facts.problems if f.code == "missing_stamp"]
    assert f"第 {page} 页{APPENDIX_WORDS}" in stamp.message and "加盖单位公章" in stamp.message


# -- an unstamped form with a certificate behind it --------------------------------


@needs_ocr
@pytest.mark.parametrize("kind", sorted(CERTIFICATES))
def test_an_unstamped_batch_scan_with_a_certificate_asks_for_the_stamp(kind):
    """Form and certificate through the scanner in one go: no text layer, our OCR of the last
    page (the certificate) finds no 申报单位意见, so the certificate's words tell."""
    data = scan_pdf(merged(build_form_pdf(APP, seal="none", seed=3), certificate(kind, seed=5)), seed=3)
    asks_for_the_stamp_citing(read_pdf(data), 6)


@needs_ocr
def test_an_unstamped_export_with_a_scanned_certificate_asks_for_the_stamp():
    """The exported form's text layer puts 八 on page 5; the scanned page 6 with the ring,
    read by OCR, is a certificate."""
    data = merged(build_form_pdf(APP, seal="none", seed=3), scan_pdf(certificate(seed=5), seed=5))
    facts = read_pdf(data)
    assert facts.opinion_page == 5
    asks_for_the_stamp_citing(facts, 6)


def stamped_opinion_rescan() -> bytes:
    """The printed last page, stamped and scanned (no text layer)."""
    rescan = scan_pdf(build_form_pdf(APP, seal="red", seed=3), seed=3)
    pdf = pikepdf.open(io.BytesIO(rescan))
    del pdf.pages[:-1]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def stamp_only_scan(seed: int = 0) -> bytes:
    """A scanned page that OCR reads nothing of but the unit's red seal (a phone photo or dim copy
    of the stamped 八 reads no better)."""
    w, h = A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    draw_seal(c, w - 70 * mm, 80 * mm, APP.unit_name, rng=random.Random(seed))
    c.showPage()
    c.save()
    return scan_pdf(buf.getvalue(), seed=seed)


@needs_ocr
@pytest.mark.parametrize("seed", [0, 1])
def test_a_stamped_page_behind_the_export_that_ocr_reads_nothing_of_keeps_its_seal(seed):
    """OCR that reads nothing is no reading: the page cannot be told from a rescan of 八 (QA: 5 of 9
    phone photos and 6 of 9 dim copies of the stamped 八 page were refused)."""
    facts = read_pdf(merged(build_form_pdf(APP, seal="none", seed=3), stamp_only_scan(seed)))
    assert (facts.seal.kind, facts.seal.page, facts.seal.appendix_page) == ("red", 6, None)
    assert variants(facts) == []


def test_without_ocr_an_unread_page_behind_the_export_keeps_its_seal():
    """OCR off or not installed: a scanned page after 八 cannot be read, and a stamped rescan
    of 八 appended to the export (common) looks like a certificate; the seal counts, as before,
    rather than asking a unit that stamped to stamp."""
    facts = read_pdf(merged(build_form_pdf(APP, seal="none", seed=3), stamped_opinion_rescan()), ocr=False)
    assert (facts.seal.kind, facts.seal.page, facts.opinion_page) == ("red", 6, 5)
    assert variants(facts) == []


@needs_ocr
def test_a_certificate_in_the_middle_of_a_scan_is_read_and_skipped():
    """Form, certificate, then a photo page: the last page OCR'd names no 申报单位意见, and
    the certificate page, which has no text of its own, is read when its ring is found."""
    data = scan_pdf(merged(build_form_pdf(APP, seal="none", seed=4), certificate("award", seed=6), photo_page()), seed=4)
    asks_for_the_stamp_citing(read_pdf(data), 6)


# -- a stamped form with a certificate behind it -----------------------------------


@pytest.mark.parametrize("scanned", [False, pytest.param(True, marks=needs_ocr)])
def test_a_stamped_form_with_a_certificate_reports_the_forms_seal(scanned):
    form = build_form_pdf(APP, seal="red", seed=3)
    data = scan_pdf(merged(form, certificate(seed=5)), seed=3) if scanned else merged(form, scan_pdf(certificate(seed=5), seed=5))
    facts = read_pdf(data)
    assert (facts.seal.kind, facts.seal.page) == ("red", 5)
    assert variants(facts) == [] and "missing_stamp" not in [f.code for f in facts.problems]


@needs_ocr
def test_a_unit_that_stamped_only_the_cover_still_passes_with_a_certificate_behind():
    """A ring before the page naming 申报单位意见 counts as before, whatever comes after the form."""
    data = merged(stamped_cover(build_form_pdf(APP, seal="none", seed=3)), scan_pdf(certificate(seed=5), seed=5))
    facts = read_pdf(data)
    assert facts.opinion_page == 5
    assert (facts.seal.kind, facts.seal.page) == ("red", 1)
    assert variants(facts) == []


def test_a_unit_that_stamped_only_the_cover_still_passes():
    facts = read_pdf(stamped_cover(build_form_pdf(APP, seal="none", seed=3)), ocr=False)
    assert (facts.seal.kind, facts.seal.page, facts.opinion_page) == ("red", 1, 5)


@needs_ocr
def test_a_rescan_of_the_stamped_opinion_page_behind_the_export_counts():
    """Export the form, stamp the printed last page, scan it and append it: page 6 reads
    申报单位意见 when OCR'd, so its seal is the unit's although the text layer says 八 is on 5."""
    facts = read_pdf(merged(build_form_pdf(APP, seal="none", seed=3), stamped_opinion_rescan()))
    assert (facts.seal.kind, facts.seal.page) == ("red", 6)
    assert variants(facts) == []


# -- the search itself and what staff read ------------------------------------------


def test_find_seal_keeps_searching_past_a_ring_the_caller_calls_an_appendix():
    data = merged(build_form_pdf(APP, seal="red", seed=3), certificate(seed=5))
    asked = []

    def appendix(page: int) -> str | None:
        asked.append(page)
        return "在“申报单位意见”页（第 5 页）之后" if page > 5 else None

    evidence = find_seal(data, first=5, appendix=appendix)
    assert (evidence.kind, evidence.page) == ("red", 5)
    alone = find_seal(merged(build_form_pdf(APP, seal="none", seed=3), certificate(seed=5)), first=5, appendix=appendix)
    assert (alone.kind, alone.page, alone.appendix_page) == ("none", None, 6)
    assert "第 6 页" in alone.detail and "之后" in alone.detail
    assert find_seal(merged(build_form_pdf(APP, seal="none", seed=3), certificate(seed=5))).kind == "red"  # no caller: as before


def test_the_appendix_wording_and_the_staff_columns():
    seal = SealEvidence("none", detail="第 6 页的红色印章在“申报单位意见”页（第 5 页）之后，不算申报单位公章", appendix_page=6)
    assert stamp_variant(seal, 6, 5) == "appendix"
    assert stamp_variant(seal, 80, None) == "too_long"  # not every page was searched: that reply still says so
    assert STAMP_MESSAGES["appendix"].format(page=6, pages=6, searched=60).startswith("盖章 PDF 版第八部分“申报单位意见”处未发现单位公章（第 6 页")
    facts = {"seal": {"kind": "none", "page": None, "confidence": 0.0, "detail": seal.detail, "appendix_page": 6}, "opinion_page": 5}
    # No seal of the unit's on any page; the red seal staff will see on opening the file is named.
    assert seal_short(facts) == "未发现公章，第6页附件上有红色印章"  # whose seal it is, staff see
    assert "第 6 页" in seal_text(facts)


@needs_ocr
def test_a_certificate_in_front_of_an_exported_form_is_read_and_skipped():
    """The scanned certificate comes first, before the page naming 申报单位意见: a ring there
    counts only if the page does not read like a certificate, so it is OCR'd."""
    data = merged(scan_pdf(certificate("award", seed=7), seed=7), build_form_pdf(APP, seal="none", seed=3))
    facts = read_pdf(data)
    assert facts.opinion_page == 6
    asks_for_the_stamp_citing(facts, 1)


def test_form_pages_mentioning_honours_are_no_certificates():
    """A form's 工作基础 may list honours; only a page of few words (a certificate) is told apart by them."""
    from pipeline.forms.pdf import appendix_reason

    basis = "三、工作基础　我单位近三年获评“全国科普日优秀组织单位”荣誉称号，获得荣誉证书3项，多次受到市科协表彰。" + "组织开展科技志愿服务活动。" * 30
    assert appendix_reason(3, basis, None) is None and appendix_reason(3, basis, 5) is None
    assert appendix_reason(6, "荣誉证书\n新乡市红旗区科学技术协会：\n被评为优秀组织单位。", None)
    assert appendix_reason(6, "八、申报单位意见 同意申报。（公章）", 5) is None  # a rescan of 八 appended
    assert appendix_reason(1, "新乡市科技志愿服务试点建设 申 报 书 申报单位：新乡市红旗区科学技术协会", 5) is None  # a stamped cover
    assert "第 5 页之后" in appendix_reason(7, "附件2：活动照片", 5)


@pytest.mark.parametrize("front", [False, True], ids=["pledge-after", "pledge-first"])
def test_an_exported_pledge_with_the_units_seal_line_is_no_opinion_page(front):
    """申报单位（公章）： is every 承诺书's signature line: a stamped pledge merged with the unstamped
    export was taken for 八 (the last page with （公章）) and its seal passed the form."""
    form, pledge = build_form_pdf(APP, seal="none", seed=3), certificate("pledge", issuer=APP.unit_name, seed=2)
    facts = read_pdf(merged(pledge, form) if front else merged(form, pledge), ocr=False)
    assert facts.opinion_page == (6 if front else 5)
    asks_for_the_stamp_citing(facts, 1 if front else 6)


# -- 八 broken over a page by the export (QA round 10) -------------------------------


def spill_page(lines: tuple[str, ...] = ("（公章）", "2025 年 6 月 20 日"), *, seal: bool = True, seed: int = 0) -> bytes:
    """The page a Word/WPS/LibreOffice export starts when 八's table row breaks: only the end of
    八 is on it, and the unit stamps there, over （公章）."""
    w, h = A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont(_font(), 12)
    for i, line in enumerate(lines):
        c.drawString(w - 90 * mm, h - (40 + 10 * i) * mm, line)
    if seal:
        draw_seal(c, w - 70 * mm, h - 42 * mm, APP.unit_name, rng=random.Random(seed))
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize("lines", [("（公章）", "2025 年 6 月 20 日"), ("年    月    日",), ("法定代表人（签字）：", "（公章）")])
def test_a_seal_on_the_end_of_the_opinion_pushed_onto_the_next_page_counts(lines):
    """An exported form whose 八 row breaks: page 5 names 申报单位意见, page 6 holds （公章） and the
    date with the unit's seal. That is where the unit stamps (QA: refused as an appendix seal)."""
    facts = read_pdf(merged(build_form_pdf(APP, seal="none", seed=3), spill_page(lines)), ocr=False)
    assert facts.opinion_page == 5
    assert (facts.seal.kind, facts.seal.page, facts.seal.appendix_page) == ("red", 6, None)
    assert variants(facts) == []


def test_only_the_page_right_after_the_opinion_can_hold_its_end():
    """A date-and-seal page further on, or a page after 八 with more than its end, is still an appendix."""
    form = build_form_pdf(APP, seal="none", seed=3)
    further = read_pdf(merged(form, photo_page(), spill_page()), ocr=False)
    assert (further.seal.kind, further.seal.appendix_page) == ("none", 7)
    wordy = ("我单位2024年组织科技志愿服务活动三十六场，服务群众一万二千人次，", "开展科普讲座、义诊、农技下乡等活动，", "覆盖全区各街道和社区，",
             "建成科技志愿服务站点十二个，注册志愿者四百余名。", "2024 年 12 月 30 日")
    facts = read_pdf(merged(form, spill_page(wordy)), ocr=False)
    assert (facts.seal.kind, facts.seal.appendix_page) == ("none", 6)
    assert "第 5 页之后" in facts.seal.detail
