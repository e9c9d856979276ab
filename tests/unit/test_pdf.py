"""read_pdf: facts and findings from good, bad and hostile PDFs; never raises."""
from __future__ import annotations

import io
import sys
import zlib

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.forms import pdf as pdfmod
from pipeline.forms.pdf import read_pdf
from pipeline.samples.pdfs import build_form_pdf, build_signed_pdf, scan_pdf, searchable_scan_pdf

from test_seal import APP, last_page


def codes(facts):
    return sorted(f.code for f in facts.problems)


def only_problem_is_unreadable(facts):
    assert codes(facts) == ["format_unreadable"]
    f = facts.problems[0]
    assert (f.severity, f.location) == ("error", "盖章 PDF 版")
    assert f.message


def saved(pdf: pikepdf.Pdf, **kwargs) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **kwargs)
    return out.getvalue()


@pytest.fixture(scope="module")
def red_pdf() -> bytes:
    return build_form_pdf(APP, seal="red")


def test_stamped_vector_form(red_pdf):
    facts = read_pdf(red_pdf)
    assert facts.problems == ()
    assert facts.pages == 5
    assert facts.page_sizes == ((595.28, 841.89),) * 5
    assert facts.has_text_layer and "申报单位意见" in facts.text
    assert not facts.encrypted
    assert facts.seal.kind == "red" and facts.seal.page == 5


def test_scan_has_no_text_layer_but_a_seal():
    facts = read_pdf(build_form_pdf(APP, seal="image", scan=True, seed=4))
    assert not facts.has_text_layer
    assert facts.seal.kind == "red"
    assert codes(facts) == []  # Pillow's 150 dpi pages are A4 within 5 pt


@pytest.mark.parametrize("seal", ["none", "decoy"])
def test_no_seal_is_missing_stamp(seal):
    facts = read_pdf(build_form_pdf(APP, seal=seal))
    assert facts.seal.kind == "none"
    assert codes(facts) == ["missing_stamp"]
    assert facts.problems[0].location == "八、申报单位意见"
    assert facts.problems[0].severity == "error"


def test_grey_seal_is_missing_stamp_saying_photocopy():
    facts = read_pdf(build_form_pdf(APP, seal="grey"))
    assert facts.seal.kind == "grey"
    assert codes(facts) == ["missing_stamp"]
    assert "复印" in facts.problems[0].message


def test_electronic_seal_is_accepted():
    facts = read_pdf(build_signed_pdf(APP, seal="none"))
    assert facts.seal.kind == "electronic"
    assert codes(facts) == []


def test_user_password_is_unreadable(red_pdf):
    data = saved(pikepdf.open(io.BytesIO(red_pdf)), encryption=pikepdf.Encryption(user="secret", owner="owner"))
    facts = read_pdf(data)
    only_problem_is_unreadable(facts)
    assert facts.encrypted
    assert "密码" in facts.problems[0].message


def test_owner_password_only_opens(red_pdf):
    data = saved(pikepdf.open(io.BytesIO(red_pdf)), encryption=pikepdf.Encryption(user="", owner="owner"))
    facts = read_pdf(data)
    assert facts.encrypted
    assert facts.seal.kind == "red"
    assert codes(facts) == []


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.9])
def test_truncated_file_is_unreadable(red_pdf, fraction):
    only_problem_is_unreadable(read_pdf(red_pdf[: int(len(red_pdf) * fraction)]))


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 not a pdf" * 50, "申报书".encode() * 100, b"%PDF-1.7\n%%EOF"])
def test_not_a_pdf(data):
    only_problem_is_unreadable(read_pdf(data))


def test_too_large_is_refused_before_parsing(monkeypatch, red_pdf):
    monkeypatch.setattr(pdfmod, "MAX_BYTES", 1000)
    only_problem_is_unreadable(read_pdf(red_pdf))


@pytest.mark.parametrize("pages", [pdfmod.MAX_PAGES + 1, 10_000])
def test_too_many_pages(pages):
    import time

    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page()
    start = time.monotonic()
    only_problem_is_unreadable(read_pdf(saved(pdf)))
    assert time.monotonic() - start < 20  # refused early, not parsed page by page


def test_decompression_bomb_is_unreadable_not_a_crash():
    """512 MiB of zeros in a ~0.5 MB page stream: qpdf's limit stops it."""
    co = zlib.compressobj(9)
    chunk = b"\0" * (16 << 20)
    bomb = b"".join([co.compress(chunk) for _ in range(32)] + [co.flush()])
    pdf = pikepdf.new()
    pdf.add_blank_page()
    stream = pikepdf.Stream(pdf, b"")
    stream.write(bomb, filter=pikepdf.Name.FlateDecode)
    pdf.pages[0].obj.Contents = stream
    facts = read_pdf(saved(pdf, compress_streams=False))
    only_problem_is_unreadable(facts)


def _zeros_deflated(mib: int) -> bytes:
    co = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    return b"".join([co.compress(chunk) for _ in range(mib)] + [co.flush()])


def test_many_lossless_pictures_are_read(red_pdf):
    """Twelve 4000x3000 Flate pictures after the stamped form (pasted photos, a lossless scan):
    432 MiB inflated, but drawn a page at a time: read, not refused as damaged."""
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    picture = _zeros_deflated(36)  # 4000 x 3000 RGB, 8 bits
    for _ in range(12):
        pdf.pages.insert(0, pdf.pages[0])
    for page in pdf.pages[:12]:
        image = pikepdf.Stream(pdf, picture)
        image.stream_dict = pikepdf.Dictionary(Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=4000, Height=3000,
                                               ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.FlateDecode)
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        page.obj.Contents = pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    facts = read_pdf(saved(pdf, compress_streams=False), ocr=False)
    assert facts.seal.kind == "red" and codes(facts) == []


def test_page_content_past_the_limit_is_named_as_too_big():
    """Page streams that inflate to more than 400 MiB together: the reply says why."""
    pdf = pikepdf.new()
    part = _zeros_deflated(100)
    for _ in range(5):
        pdf.add_blank_page()
        pdf.pages[-1].obj.Contents = pikepdf.Stream(pdf, part)
        pdf.pages[-1].obj.Contents.stream_dict.Filter = pikepdf.Name.FlateDecode
    facts = read_pdf(saved(pdf, compress_streams=False))
    [problem] = facts.problems
    assert problem.code == "format_unreadable" and "页面内容过大" in problem.message


def test_timeout_is_unreadable(red_pdf):
    only_problem_is_unreadable(read_pdf(red_pdf, timeout=0.01))


def test_crashed_child_is_unreadable(monkeypatch, red_pdf):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    only_problem_is_unreadable(read_pdf(red_pdf))


def test_letter_page_warns_and_rotated_a4_does_not(red_pdf):
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    pdf.pages[1].obj.MediaBox = [0, 0, 612, 792]  # US Letter
    pdf.pages[2].obj.MediaBox = [0, 0, 841.89, 595.28]  # landscape A4 ...
    pdf.pages[2].obj.Rotate = 90  # ... turned upright
    facts = read_pdf(saved(pdf))
    assert codes(facts) == ["pdf_not_a4"]
    assert facts.problems[0].severity == "warning"
    message = facts.problems[0].message
    # The page, the size seen, and no request to redo an accepted file (the paper is nearly always A4).
    assert "第 2 页的页面大小为 216×279 mm" in message and "不影响审核" in message and "请按 A4 纸打印" not in message
    assert facts.page_sizes[1] == (612, 792)
    assert facts.page_sizes[2] == (595.28, 841.89)


@pytest.mark.parametrize("rotate", [0, 90])
def test_a_landscape_a4_page_is_a4_paper(red_pdf, rotate):
    """A wide budget table in a landscape Word section, or a portrait sheet shown sideways."""
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    pdf.pages[3].obj.MediaBox = [0, 0, 841.89, 595.28] if rotate == 0 else [0, 0, 595.28, 841.89]
    pdf.pages[3].obj.Rotate = rotate
    facts = read_pdf(saved(pdf))
    assert facts.page_sizes[3] == (841.89, 595.28)
    assert codes(facts) == []


def test_user_unit_and_cropbox_count(red_pdf):
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    pdf.pages[0].obj.MediaBox = [0, 0, 1190.56, 1683.78]
    pdf.pages[0].obj.CropBox = [0, 0, 297.64, 420.945]
    pdf.pages[0].obj.UserUnit = 2
    facts = read_pdf(saved(pdf))
    assert facts.page_sizes[0] == (595.28, 841.89)
    assert "pdf_not_a4" not in codes(facts)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mangled_pdfs_never_raise(red_pdf, data):
    raw = bytearray(red_pdf)
    for _ in range(data.draw(st.integers(1, 40))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    facts = read_pdf(bytes(raw))
    assert all(f.code in {"format_unreadable", "missing_stamp", "pdf_not_a4", "pdf_repaired"} for f in facts.problems)


from pipeline.forms.pdf import ocr_available  # noqa: E402
from pipeline.models import Application  # noqa: E402


@pytest.mark.skipif(not ocr_available(), reason="tesseract with chi_sim not installed")
def test_scan_is_read_by_ocr_for_the_unit_name():
    from pipeline.units import unit_in_text

    unit = "新乡市红旗区科学技术协会"
    scan = build_form_pdf(Application(unit_name=unit, cover_unit=unit, pilot_types=("县级科协试点",)), scan=True, seed=5)
    facts = read_pdf(scan)
    assert not facts.has_text_layer
    assert facts.text_source == "ocr"
    assert unit_in_text(unit, facts.text)
    assert facts.opinion_page == facts.pages  # 八、申报单位意见 read on the last page


@pytest.mark.skipif(not ocr_available(), reason="tesseract with chi_sim not installed")
def test_ocr_off_leaves_a_scan_unread_in_a_fresh_child_and_in_the_pool():
    from pipeline.forms.pdf import worker_pool

    unit = "新乡市红旗区科学技术协会"
    scan = build_form_pdf(Application(unit_name=unit, cover_unit=unit, pilot_types=("县级科协试点",)), scan=True, seed=6)
    with worker_pool(1, ocr=False) as pool:
        pooled = read_pdf(scan, pool=pool)
    with worker_pool(1) as pool:
        pooled_on = read_pdf(scan, pool=pool)
    fresh = read_pdf(scan, ocr=False)
    for facts in (pooled, fresh):
        assert facts.text_source == "" and facts.text == "" and facts.seal.kind == "red"
    assert pooled_on.text_source == "ocr" and unit in pooled_on.text.replace(" ", "")


def test_text_source_of_an_export_is_the_layer():
    facts = read_pdf(build_form_pdf(Application(unit_name="新乡学院科学技术协会")))
    assert facts.has_text_layer and facts.text_source == "layer"


# Scans whose PDF writer assumed the wrong resolution: A4 paper, pages of any size in points.


def test_scan_without_page_resolution_is_a4_and_stamped():
    data = scan_pdf(build_form_pdf(APP, seal="red", seed=8), seed=8, dpi=200, page_dpi=72)
    facts = read_pdf(data, ocr=False)
    assert facts.page_sizes[0] == (1654.0, 2339.0)  # 200 dpi pixels taken as points
    assert facts.seal.kind == "red"
    assert codes(facts) == []


def test_scan_on_letter_paper_still_warns():
    pdf = pikepdf.open(io.BytesIO(scan_pdf(build_form_pdf(APP, seal="red", seed=9), seed=9)))
    for page in pdf.pages:
        page.obj.MediaBox = [0, 0, 612, 792]  # US Letter: the A4 image still covers 97% of it
    facts = read_pdf(saved(pdf), ocr=False)
    assert codes(facts) == ["pdf_not_a4"]
    assert facts.seal.kind == "red"


@pytest.mark.parametrize("dpi", [150, 300])
def test_scan_on_letter_paper_without_page_resolution_keeps_its_seal(dpi):
    """A scanner left at Letter writing its pixels as points: the seal is still ~40 mm, the paper still not A4."""
    pdf = pikepdf.open(io.BytesIO(scan_pdf(build_form_pdf(APP, seal="red", seed=8), seed=8, dpi=dpi, page_dpi=72)))
    for page in pdf.pages:
        width = float(page.MediaBox[2])
        page.obj.MediaBox = [0, 0, width, width * 11 / 8.5]
    facts = read_pdf(saved(pdf), ocr=False)
    assert facts.seal.kind == "red"
    assert codes(facts) == ["pdf_not_a4"]


def test_exported_a3_and_a5_pages_still_warn(red_pdf):
    """A page with its own text keeps the exact A4 size check."""
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    pdf.pages[1].obj.MediaBox = [0, 0, 841.89, 1190.55]
    pdf.pages[2].obj.MediaBox = [0, 0, 419.53, 595.28]
    facts = read_pdf(saved(pdf))
    assert codes(facts) == ["pdf_not_a4"]
    assert "第 2、3 页" in facts.problems[0].message


@pytest.mark.skipif(not ocr_available(), reason="tesseract with chi_sim not installed")
def test_scan_without_page_resolution_is_read_by_ocr():
    from pipeline.units import unit_in_text

    unit = "新乡市红旗区科学技术协会"
    app = Application(unit_name=unit, cover_unit=unit, pilot_types=("县级科协试点",))
    facts = read_pdf(scan_pdf(build_form_pdf(app), seed=5, dpi=300, page_dpi=72))
    assert facts.text_source == "ocr" and unit_in_text(unit, facts.text)
    assert facts.opinion_page == facts.pages


# Searchable scans: the scanner's invisible OCR text over each page image.

MISREAD = {"科学技术协会": "科学技木协会", "申报单位意见": "申报 单位 意见"}  # OCR spaces words apart


@pytest.mark.parametrize("under", [False, True], ids=["invisible_over", "hidden_under"])
def test_searchable_scan_text_is_a_scan_layer(under):
    data = searchable_scan_pdf(build_form_pdf(APP, seal="red", seed=10), seed=10, misread=MISREAD, under=under)
    facts = read_pdf(data, ocr=False)
    assert facts.has_text_layer and facts.text_source == "scan_layer"
    assert "新乡市红旗区科学技木协会" in facts.text  # the scanner's misread, not the applicant's
    assert facts.seal.kind == "red" and facts.opinion_page == 5
    assert codes(facts) == []


def test_export_with_a_pasted_seal_picture_is_the_layer():
    facts = read_pdf(build_form_pdf(APP, seal="image"))
    assert facts.seal.kind == "red" and facts.text_source == "layer"


def test_exported_pages_and_one_searchable_scan_page_are_the_layer(red_pdf):
    """Only a PDF whose every text-bearing page is a page image is a scan."""
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    scan = pikepdf.open(io.BytesIO(searchable_scan_pdf(last_page(red_pdf), seed=12)))
    del pdf.pages[-1]
    pdf.pages.append(scan.pages[0])
    facts = read_pdf(saved(pdf), ocr=False)
    assert facts.text_source == "layer"
    assert facts.seal.kind == "red"


def image_page(content: bytes, form_matrix=(1, 0, 0, 1, 0, 0), size=(600, 800)) -> bytes:
    """One page drawing a 2 x 2 image, also as /Fm0 (a Form XObject) with `form_matrix`
    and as /Fo (a form drawing /Fm0 stretched); /Im1 is a 1 x 1 image with a soft mask,
    /F1 a font and /Ft a form of invisible text."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=size)
    img = pikepdf.Stream(pdf, b"\x80" * 12, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=2, Height=2,
                         ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8)
    mask = pikepdf.Stream(pdf, b"\x40", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=1, Height=1,
                          ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8)
    masked = pikepdf.Stream(pdf, b"\x80" * 3, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=1, Height=1,
                            ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, SMask=mask)
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    form = pikepdf.Stream(pdf, b"q 100 0 0 100 0 0 cm /Im0 Do Q", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                          BBox=[0, 0, 1000, 1000], Matrix=list(form_matrix), Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=img)))
    outer = pikepdf.Stream(pdf, b"q 1 0 0 2 50 0 cm /Fm0 Do Q", Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form,
                           BBox=[0, 0, 1000, 1000], Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form)))
    words = pikepdf.Stream(pdf, b"BT /F1 12 Tf 3 Tr 72 700 Td (Scanned words) Tj ET", Type=pikepdf.Name.XObject,
                           Subtype=pikepdf.Name.Form, BBox=[0, 0, 1000, 1000], Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=form, Fo=outer, Im0=img, Im1=masked, Ft=words),
                                            Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(content)
    return saved(pdf)


@pytest.mark.parametrize(
    "content, form_matrix, cover",
    [
        (b"q 600 0 0 800 0 0 cm /Im0 Do Q", (1, 0, 0, 1, 0, 0), 1.0),
        (b"q 600 0 0 400 0 0 cm /Im0 Do Q q 600 0 0 400 0 400 cm /Im0 Do Q", (1, 0, 0, 1, 0, 0), 1.0),  # strips
        (b"q 300 0 0 400 0 0 cm /Im0 Do Q", (1, 0, 0, 1, 0, 0), 0.25),
        (b"q 1200 0 0 1600 -300 -400 cm /Im0 Do Q", (1, 0, 0, 1, 0, 0), 1.0),  # overhangs the page
        (b"q 1.5 0 0 1.5 10 20 cm /Fm0 Do Q", (2, 0, 0, 2, 0, 0), 0.1875),  # 300 x 300 pt in a form
        (b"q 3 0 0 4 0 0 cm /Fm0 Do Q", (2, 0, 0, 2, 0, 0), 1.0),
        (b"q 1.5 0 0 1.5 0 0 cm /Fo Do Q", (2, 0, 0, 2, 0, 0), 0.375),  # 300 x 600 pt, a form in a form
        (b"BT ET", (1, 0, 0, 1, 0, 0), 0.0),
    ],
)
def test_image_cover_in_page_space(content, form_matrix, cover):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(image_page(content, form_matrix))
    try:
        assert pdfmod._page_picture(doc[0])[0] == pytest.approx(cover, abs=0.02)
    finally:
        doc.close()


def test_opinion_mark_in_ocr_text_with_spaces():
    assert pdfmod.OPINION_MARK.search("八 、 申报 单位 意见 ：同意")
    assert pdfmod.OPINION_MARK.search("（ 公 章 ）")
    assert not pdfmod.OPINION_MARK.search("申报单位基本情况")


def test_image_cover_stops_at_its_budget():
    """A page of countless objects costs bounded time; what lies past the budget is not seen."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(image_page(b"0 0 m 1 1 l S " * 50 + b"q 600 0 0 800 0 0 cm /Im0 Do Q"))
    try:
        assert pdfmod._page_picture(doc[0], [10])[0] == 0.0
        budget = [1000]
        assert pdfmod._page_picture(doc[0], budget)[0] == 1.0 and budget[0] == 1000 - 51
    finally:
        doc.close()


# Text layers over pictures: a scanner's hidden OCR text, or a typed form on a letterhead background.

PICTURE = b"q 600 0 0 800 0 0 cm /Im0 Do Q "
VISIBLE = b"BT /F1 12 Tf 0 Tr 72 700 Td (Typed words) Tj ET "
INVISIBLE = b"BT /F1 12 Tf 3 Tr 72 700 Td (Scanned words) Tj ET "


@pytest.mark.parametrize(
    "content, hidden",
    [
        (PICTURE + INVISIBLE, True),  # a scanner's OCR layer: render mode 3 over the page image
        (PICTURE + INVISIBLE.replace(b"3 Tr", b"7 Tr"), True),  # clip only: not painted either
        (VISIBLE + PICTURE, True),  # ordinary text hidden under the page image
        (PICTURE + b"/Ft Do ", True),  # invisible text inside a Form XObject
        (PICTURE + VISIBLE, False),  # a typed page on a background picture
        (VISIBLE + PICTURE.replace(b"/Im0", b"/Im1"), False),  # a see-through picture hides nothing
        (VISIBLE + b"q 600 0 0 400 0 0 cm /Im0 Do Q " + PICTURE + VISIBLE, False),  # typed over the last picture
        (PICTURE + INVISIBLE * 30 + VISIBLE, True),  # a date typed onto a searchable scan
        (PICTURE + INVISIBLE * 3 + VISIBLE * 3, False),  # as much typed as hidden
        (PICTURE, False),  # no text at all
    ],
    ids=["invisible", "clip", "under", "in_form", "over", "under_transparent", "over_last", "one_typed", "half_typed", "none"],
)
def test_page_text_hidden_by_render_mode_and_paint_order(content, hidden):
    import pypdfium2 as pdfium

    data = image_page(content)
    with pikepdf.open(io.BytesIO(data)) as pike:
        masked = pdfmod._masked_sizes(pike.pages[0])
    assert masked == {(1, 1)}  # /Im1
    doc = pdfium.PdfDocument(data)
    try:
        cover, text_hidden = pdfmod._page_picture(doc[0], masked=masked)
        assert cover == pytest.approx(1.0) and text_hidden is hidden
    finally:
        doc.close()


def underlay(data: bytes, cover: float = 1.0, *, over: bool = False) -> bytes:
    """Every page drawn over a picture (a letterhead or background) `cover` of its width and height;
    `over`: under a see-through one (soft mask) instead, a watermark."""
    from PIL import Image

    pdf = pikepdf.open(io.BytesIO(data))
    jpeg = io.BytesIO()
    Image.new("RGB", (120, 170), (250, 244, 230)).save(jpeg, "JPEG")
    for page in pdf.pages:
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        w, h = (x1 - x0) * cover, (y1 - y0) * cover
        img = pikepdf.Stream(pdf, jpeg.getvalue(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=120, Height=170,
                             ColorSpace=pikepdf.Name.DeviceRGB, BitsPerComponent=8, Filter=pikepdf.Name.DCTDecode)
        if over:
            img.SMask = pikepdf.Stream(pdf, zlib.compress(b"\x30" * 120 * 170), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                                       Width=120, Height=170, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8,
                                       Filter=pikepdf.Name.FlateDecode)
        name = page.add_resource(img, pikepdf.Name.XObject)
        x, y = x0 + (x1 - x0 - w) / 2, y0 + (y1 - y0 - h) / 2
        page.contents_add(pikepdf.Stream(pdf, f"\nq {w:.2f} 0 0 {h:.2f} {x:.2f} {y:.2f} cm {name} Do Q\n".encode()), prepend=not over)
    return saved(pdf)


@pytest.mark.parametrize("cover, over", [(1.0, False), (0.93, False), (1.0, True)], ids=["background", "background_93", "watermark"])
def test_typed_form_on_a_background_picture_is_the_layer(cover, over):
    """Visible text over a letterhead picture (or under a see-through watermark) is the file's own:
    another unit's PDF is the applicant's error, not a staff note."""
    from test_consistency import codes as unit_codes
    from test_seal import APPS

    facts = read_pdf(underlay(build_form_pdf(APPS[1], seal="red"), cover, over=over), ocr=False)
    assert facts.text_source == "layer" and facts.seal.kind == "red" and codes(facts) == []
    assert APPS[1].unit_name in facts.text
    assert unit_codes(APP, facts) == [("unit_mismatch", "error", False)]


def test_searchable_scan_with_a_typed_date_is_still_a_scan_layer():
    """A line typed onto a searchable scan (PDF editors' "fill & sign") leaves it the scanner's text."""
    data = searchable_scan_pdf(build_form_pdf(APP, seal="red", seed=10), seed=10, misread=MISREAD)
    pdf = pikepdf.open(io.BytesIO(data))
    page = pdf.pages[-1]
    font = page.add_resource(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica),
                             pikepdf.Name.Font)
    page.contents_add(pikepdf.Stream(pdf, f"BT {font} 12 Tf 400 100 Td (2025-06-20) Tj ET".encode()))
    facts = read_pdf(saved(pdf), ocr=False)
    assert facts.text_source == "scan_layer" and "2025-06-20" in facts.text


def test_a_pdf_portfolio_is_named_not_judged_as_unstamped(red_pdf):
    """Acrobat's PDF 包: a placeholder page, the stamped form embedded as a file. Saying
    未发现公章 would send the applicant to re-stamp a form that is stamped."""
    portfolio = pikepdf.new()
    portfolio.add_blank_page(page_size=pdfmod.A4)
    portfolio.attachments["申报书盖章版.pdf"] = pikepdf.AttachedFileSpec(portfolio, red_pdf, mime_type="application/pdf")
    portfolio.Root.Collection = pikepdf.Dictionary(Type=pikepdf.Name.Collection, View=pikepdf.Name.D)
    facts = read_pdf(saved(portfolio))
    assert codes(facts) == ["format_unreadable"] and "PDF 包" in facts.problems[0].message
    # A plain stamped PDF with a file attached is still read as the form.
    with_file = pikepdf.open(io.BytesIO(red_pdf))
    with_file.attachments["申报书.docx"] = pikepdf.AttachedFileSpec(with_file, b"PK\x03\x04", mime_type="application/octet-stream")
    facts = read_pdf(saved(with_file))
    assert codes(facts) == [] and facts.seal.kind == "red"


def test_a_seal_search_that_breaks_is_left_to_staff_never_passed_in_silence(monkeypatch):
    """find_seal raising (a page 1153 px high once did) gave seal=None, read as "not looked for":
    an unstamped scan was accepted and staff saw an empty 公章 cell."""
    import pipeline.forms.seal as seal_module
    from pipeline.checks import stamp_variant

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(seal_module, "find_seal", broken)
    monkeypatch.setattr(pdfmod, "_run_child", lambda data, timeout, ocr: pdfmod.inspect(data))
    facts = read_pdf(build_form_pdf(APP, seal="none"), ocr=False)
    assert facts.seal is not None and facts.seal.kind == "error"
    (note,) = [f for f in facts.problems if f.code == "seal_check_failed"]
    assert note.staff_only and "人工核对" in note.message
    assert stamp_variant(facts.seal, facts.pages, facts.opinion_page) is None  # the applicant is not told to stamp


def test_a_phone_photo_page_gets_no_paper_size_note():
    """Gallery 转 PDF tools write 1080 x 1440 photos at 96 dpi (286 x 381 mm): the receipt told the
    applicant the page was not A4 and to choose A4 next time. A photo says nothing about paper;
    an exported (not scanned) page of those proportions still gets the note."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1080, 1440), (245, 244, 240)).save(buf, format="JPEG", quality=80)
    import img2pdf

    photo = img2pdf.convert(buf.getvalue(), layout_fun=img2pdf.get_fixed_dpi_layout_fun((96, 96)))
    assert "pdf_not_a4" not in codes(read_pdf(photo, ocr=False))


# Scanned A4 sheets are rarely A4 to the millimetre: scan apps (CamScanner, 夸克, WPS 扫描) cut each
# page at the sheet edge they detect, a few mm inside it or out, and a flatbed scanning its whole glass
# gives 216 x 297 mm, or more with the lid's dark border. The receipt told these applicants that
# "189×281 mm" was not A4 and to choose A4 next time: the paper was A4.

SCAN_DPI = 150


def _scanned_page_pdf(w_mm: float, h_mm: float, *, border: int = 0) -> bytes:
    """The stamped last page scanned at 150 dpi and cut (or padded with the scanner's dark lid) to
    w x h mm from its top-left corner, written by img2pdf at the scan's dpi, as scan apps do."""
    import img2pdf
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(last_page(build_form_pdf(APP, seal="red", seed=5)))
    sheet = np.asarray(doc[0].render(scale=SCAN_DPI / 72).to_pil().convert("RGB"))
    doc.close()
    w, h = (round(v / 25.4 * SCAN_DPI) for v in (w_mm, h_mm))
    bed = np.full((max(h, sheet.shape[0]) + border, max(w, sheet.shape[1]) + border, 3), 38, np.uint8)  # the lid
    bed[border : border + sheet.shape[0], border : border + sheet.shape[1]] = sheet
    cut = (sheet.shape[0] - h) // 2, (sheet.shape[1] - w) // 2  # a crop takes a little off every side
    top, left = (max(c, 0) for c in cut)
    jpeg = io.BytesIO()
    Image.fromarray(bed[top : top + h, left : left + w]).save(jpeg, "JPEG", quality=70, dpi=(SCAN_DPI, SCAN_DPI))
    return img2pdf.convert(jpeg.getvalue())


def _size_note(facts) -> str:
    return "".join(f.message for f in facts.problems if f.code == "pdf_not_a4")


@pytest.mark.parametrize("w_mm, h_mm, border", [
    (189, 281, 0),  # auto-cropped inside the sheet (QA round 8)
    (198, 296, 0),  # the long edges found a few mm inside
    (207, 280, 0),  # the foot cut at a shadow
    (180, 266, 0),  # a generous crop: still 86-90% of the sheet
    (212, 288, 0),  # one edge just outside the sheet
    (217, 297, 5),  # the sheet a few mm from the glass's corner: a strip of dark lid beside it
    (205, 297, 0),  # (A-series proportions: no note before either)
])
def test_a_cropped_or_full_bed_scan_of_an_a4_sheet_gets_no_paper_size_note(w_mm, h_mm, border):
    data = _scanned_page_pdf(w_mm, h_mm, border=border)
    facts = read_pdf(data, ocr=False)
    (w, h) = facts.page_sizes[0]
    assert abs(w / 72 * 25.4 - w_mm) < 1 and abs(h / 72 * 25.4 - h_mm) < 1  # the page is what the app cut
    assert "pdf_not_a4" not in codes(facts), _size_note(facts)


@pytest.mark.parametrize("w_mm, h_mm", [
    (215.9, 279.4),  # a scanner left at US Letter: the A4 sheet's foot is cut off
    (150, 250),  # well under an A4 sheet in width: other paper, or half the page lost
    (172, 290),  # under 85% of the sheet's width
    (230, 300),  # wider than any scanner glass round an A4 sheet
])
def test_a_scan_of_another_size_still_gets_the_note(w_mm, h_mm):
    facts = read_pdf(_scanned_page_pdf(w_mm, h_mm), ocr=False)
    assert "pdf_not_a4" in codes(facts)
    assert "不是 A4" in _size_note(facts)


@pytest.mark.parametrize("w_pt, h_pt", [(535.7, 796.5), (612.0, 792.0), (612.0, 841.89)])
def test_an_exported_page_near_a4_keeps_the_strict_check(red_pdf, w_pt, h_pt):
    """189 x 281 mm, Letter, 216 x 297 mm written by Word/WPS: its page setup, which the note is about."""
    pdf = pikepdf.open(io.BytesIO(red_pdf))
    pdf.pages[1].obj.MediaBox = [0, 0, w_pt, h_pt]
    facts = read_pdf(saved(pdf), ocr=False)
    assert codes(facts) == ["pdf_not_a4"]
    assert "第 2 页" in facts.problems[0].message
