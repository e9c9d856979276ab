"""Seal detection on generated forms: every seal kind, scans and a sweep."""
from __future__ import annotations

import io
import time
from decimal import Decimal

import numpy as np
import pikepdf
import pytest

from pipeline.forms.seal import _fit_ellipse, a_series, find_seal, grey_mask, paper_mm, red_mask
from pipeline.models import Application, BudgetItem, Person, Section, Stage
from pipeline.samples.apps import sample_applications
from pipeline.samples.pdfs import build_form_pdf, build_signed_pdf, scan_pdf

APPS = sample_applications()

APP = Application(
    pilot_types=("县级科协试点",),
    cover_unit="新乡市红旗区科学技术协会",
    cover_leader="张伟",
    cover_contact="13800000000",
    cover_date="2025年6月20日",
    unit_name="新乡市红旗区科学技术协会",
    leader=Person("张伟", "主席", "zhangwei@163.com", "0373-1234567"),
    contact=Person("李娜", "科员", "lina@163.com", "13900000000"),
    address="新乡市红旗区人民路1号",
    work_basis=Section("我单位长期开展科技志愿服务活动，组建了多支志愿服务队伍。" * 20, 560),
    plan=Section("围绕组建队伍、开展活动、建设站点三项任务推进试点建设。" * 20, 540),
    indicators=Section("组建科技志愿服务队1支，队员不少于50人。" * 5, 100),
    schedule=(Stage("第一阶段", "组建队伍", "2025年7月至8月"),),
    budget_items=(BudgetItem("1", "宣传材料", "2000", Decimal("2000"), "按实际"),),
    budget_total_text="2000",
    budget_total=Decimal("2000"),
    opinion_filled=True,
)


def last_page(data: bytes) -> bytes:
    """Keep only the last page: scans of one page keep the sweep fast."""
    pdf = pikepdf.open(io.BytesIO(data))
    del pdf.pages[:-1]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def scanned(seal: str, seed: int, app: Application = APP, **scan) -> bytes:
    return scan_pdf(last_page(build_form_pdf(app, seal=seal, seed=seed)), seed=seed, **scan)


@pytest.mark.parametrize(
    "seal, kind",
    [("red", "red"), ("image", "red"), ("grey", "grey"), ("none", "none"), ("decoy", "none")],
)
def test_vector_forms(seal, kind):
    evidence = find_seal(build_form_pdf(APP, seal=seal))
    assert evidence.kind == kind
    if kind != "none":
        assert evidence.page == 5
        assert 0.5 <= evidence.confidence <= 1
        assert "半径" in evidence.detail


@pytest.mark.parametrize(
    "seal, kind",
    [("red", "red"), ("image", "red"), ("grey", "grey"), ("none", "none"), ("decoy", "none")],
)
def test_scanned_forms(seal, kind):
    assert find_seal(scanned(seal, seed=7)).kind == kind


def test_full_scan_through_the_public_builder():
    data = build_form_pdf(APP, seal="red", scan=True, seed=11)
    evidence = find_seal(data)
    assert (evidence.kind, evidence.page) == ("red", 5)


def test_seal_on_another_unit_name_is_still_a_seal():
    data = build_form_pdf(APP, seal="red", seed=3, unit_override="新乡市牧野区科学技术协会")
    assert find_seal(data).kind == "red"


def test_signed_field_is_an_electronic_seal():
    evidence = find_seal(build_signed_pdf(APP, seal="none"))
    assert evidence.kind == "electronic"
    assert evidence.page == 5
    assert "新乡市红旗区科学技术协会" in evidence.detail
    # Staff read the signing time as a date, not as the raw D:20250620103000+08'00'.
    assert "时间 2025-06-20 10:30（UTC+08:00）" in evidence.detail and "D:2025" not in evidence.detail


def test_unsigned_signature_field_is_not_a_seal():
    pdf = pikepdf.open(io.BytesIO(build_form_pdf(APP, seal="none")))
    field = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig, T=pikepdf.String("Sig1"), Rect=[300, 200, 400, 300])
    )
    pdf.pages[-1].obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field])))
    out = io.BytesIO()
    pdf.save(out)
    assert find_seal(out.getvalue()).kind == "none"


def test_masks_reject_yellowed_paper_and_black_ink():
    px = np.array([[[215, 40, 40], [235, 225, 190], [250, 240, 200], [20, 20, 20], [120, 120, 120], [200, 140, 40]]], np.uint8)
    assert red_mask(px).tolist() == [[True, False, False, False, False, False]]
    assert grey_mask(px).tolist() == [[False, False, False, True, True, False]]


def test_speed_per_page():
    data = build_form_pdf(APP, seal="none")  # worst case: every page rendered twice over
    find_seal(data)
    start = time.perf_counter()
    find_seal(data)
    assert (time.perf_counter() - start) / 5 < 0.2


def test_randomised_scan_sweep():
    """Recall >= 97% on noisy, rotated, pale scans; no seal found in decoys."""
    seeds = range(100, 200)  # 100 generated scans
    found = [find_seal(scanned("red" if s % 2 else "image", s)).kind == "red" for s in seeds]
    assert sum(found) / len(found) >= 0.97, [s for s, ok in zip(seeds, found) if not ok]
    false = [s for s in range(200, 220) if find_seal(scanned("decoy" if s % 2 else "none", s)).kind != "none"]
    assert false == []


# Every sample application: with a CJK font installed PDFium draws the text,
# and dense black CJK text once made a "grey" (photocopied seal) verdict.


@pytest.mark.parametrize("index", range(len(APPS)))
def test_text_tables_and_signatures_are_never_a_seal(index):
    app = APPS[index]
    for seal in ("none", "decoy"):
        evidence = find_seal(build_form_pdf(app, seal=seal))
        assert evidence.kind == "none", (seal, evidence)
    # Two scan seeds for each of none and decoy. Under one seed the scans of
    # none and decoy differ only on the last page (same pages, same noise),
    # so one full scan per seed plus last-page scans cover all four.
    for seed, full in ((31 + index, "none"), (37 + index, "decoy")):
        evidence = find_seal(build_form_pdf(app, seal=full, seed=seed, scan=True))
        assert evidence.kind == "none", (full, seed, evidence)
        other = "decoy" if full == "none" else "none"
        evidence = find_seal(scanned(other, seed, app))
        assert evidence.kind == "none", (other, seed, evidence)


@pytest.mark.parametrize("index", range(len(APPS)))
@pytest.mark.parametrize("seal, kind", [("grey", "grey"), ("red", "red"), ("image", "red")])
def test_every_sample_application_seal(index, seal, kind):
    app = APPS[index]
    evidence = find_seal(build_form_pdf(app, seal=seal, seed=index))
    assert (evidence.kind, evidence.page) == (kind, 5), evidence
    seed = 50 + index
    assert find_seal(scanned(seal, seed, app)).kind == kind, seed


def test_grey_ring_radius_is_seal_sized():
    evidence = find_seal(build_form_pdf(APPS[0], seal="grey"))
    radius = float(evidence.detail.split("半径 ")[1].split("mm")[0])
    assert 15 <= radius <= 25


# Oval seals (椭圆形章) and red ink that only looks like a seal.


def test_ellipse_fit_recovers_a_rotated_ellipse():
    t = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    th = np.radians(25)
    ex, ey = 90 * np.cos(t), 60 * np.sin(t)
    x = 300 + np.cos(th) * ex - np.sin(th) * ey
    y = 200 + np.sin(th) * ex + np.cos(th) * ey
    cx, cy, a, b, theta = _fit_ellipse(x, y)
    assert abs(cx - 300) < 0.5 and abs(cy - 200) < 0.5
    assert abs(a - 90) < 0.5 and abs(b - 60) < 0.5
    assert abs(np.sin(theta - th)) < 0.01


def test_oval_seal_vector_form():
    evidence = find_seal(build_form_pdf(APP, seal="oval"))
    assert (evidence.kind, evidence.page) == ("red", 5), evidence
    assert 0.5 <= evidence.confidence <= 1
    assert "椭圆" in evidence.detail
    major = float(evidence.detail.split("长轴 ")[1].split("mm")[0])
    minor = float(evidence.detail.split("短轴 ")[1].split("mm")[0])
    assert 36 <= major <= 52 and 22 <= minor <= 38 and major / minor >= 1.2


def test_oval_seal_full_scan_through_the_public_builder():
    evidence = find_seal(build_form_pdf(APP, seal="oval", scan=True, seed=13))
    assert (evidence.kind, evidence.page) == ("red", 5), evidence


def test_oval_seal_sweep():
    """Oval seals of 40-50 mm, ratio 1.35-1.6, turned +-6 deg, star or not: all found."""
    seeds = range(300, 312)
    missed = []
    for s in seeds:
        app = APPS[s % len(APPS)]
        if find_seal(last_page(build_form_pdf(app, seal="oval", seed=s))).kind != "red":
            missed.append(("vector", s))
        if find_seal(scanned("oval", s, app)).kind != "red":
            missed.append(("scan", s))
    assert missed == []


@pytest.mark.parametrize("seal", ["decoy_circle", "decoy_logo"])
def test_red_ring_round_text_and_red_logo_are_not_seals(seal):
    """A red ring circling black text (no red inside) and a small filled red
    letterhead logo are red and round, but not a seal."""
    assert find_seal(build_form_pdf(APP, seal=seal)).kind == "none"
    false = []
    for s in range(400, 406):
        app = APPS[s % len(APPS)]
        if find_seal(last_page(build_form_pdf(app, seal=seal, seed=s))).kind != "none":
            false.append(("vector", s))
        if find_seal(scanned(seal, s, app)).kind != "none":
            false.append(("scan", s))
    assert false == []


# Scans whose PDF writer assumed the wrong resolution (Pillow's default 72 dpi,
# img2pdf on JPEGs without dpi, phone "images to PDF"): a 200 dpi scan becomes
# a 1654 x 2339 pt page. The paper is still A4; the seal is still 40 mm.


def radius_mm(evidence) -> float:
    return float(evidence.detail.split("半径 ")[1].split("mm")[0])


def test_paper_size_of_a_series_pages_is_a4():
    assert paper_mm(595.28, 841.89) == (210.0, 297.0)
    assert paper_mm(841.89, 595.28) == (297.0, 210.0)  # landscape, or a sideways scan
    assert paper_mm(1654.0, 2339.0) == (210.0, 297.0)  # 200 dpi scan written at 72 dpi
    assert paper_mm(2977.0, 4210.0) == (210.0, 297.0)  # phone photo pages
    assert paper_mm(930.75, 1315.5) == (210.0, 297.0)
    assert a_series(595.28, 841.89 * 1.025) and not a_series(595.28, 841.89 * 1.05)
    w, h = paper_mm(612, 792)  # US Letter: not A-series, so measured in points
    assert (round(w, 1), round(h, 1)) == (215.9, 279.4)
    w, h = paper_mm(600, 600)
    assert round(w, 1) == round(h, 1) == 211.7


@pytest.mark.parametrize("dpi, page_dpi", [(200, 72), (300, 72), (150, 96), (100, 300)])
@pytest.mark.parametrize("seal", ["red", "image", "oval"])
def test_seal_on_a_scan_with_the_wrong_page_resolution(dpi, page_dpi, seal):
    evidence = find_seal(scanned(seal, 21, dpi=dpi, page_dpi=page_dpi))
    assert evidence.kind == "red", evidence
    if seal != "oval":
        assert 18 <= radius_mm(evidence) <= 22, evidence  # drawn 19-21 mm


def test_grey_seal_on_a_scan_with_the_wrong_page_resolution():
    evidence = find_seal(scanned("grey", 22, dpi=200, page_dpi=72))
    assert evidence.kind == "grey" and 18 <= radius_mm(evidence) <= 22, evidence


def test_sideways_scan_with_the_wrong_page_resolution():
    pdf = pikepdf.open(io.BytesIO(scanned("red", 23, dpi=200, page_dpi=72)))
    pdf.pages[0].obj.Rotate = 90  # the scan app turned the page upright
    out = io.BytesIO()
    pdf.save(out)
    evidence = find_seal(out.getvalue())
    assert evidence.kind == "red" and 18 <= radius_mm(evidence) <= 22, evidence


def test_decoys_stay_decoys_on_scans_with_the_wrong_page_resolution():
    """At the corrected scale red ink that is not a seal is still not one."""
    false = []
    for i, seal in enumerate(("none", "decoy", "decoy_circle", "decoy_logo") * 2):
        seed = 500 + i
        app = APPS[seed % len(APPS)]
        for dpi, page_dpi in ((200, 72), (300, 72)):
            if find_seal(scanned(seal, seed, app, dpi=dpi, page_dpi=page_dpi)).kind != "none":
                false.append((seal, seed, dpi))
    assert false == []


def test_full_scan_with_the_wrong_page_resolution_through_the_public_builder():
    data = scan_pdf(build_form_pdf(APPS[1], seal="none", seed=24), seed=24, dpi=200, page_dpi=72)
    assert find_seal(data).kind == "none"


# Phone photos and scans under poor light: a warm lamp tints the paper
# orange (into the red hues), uneven light darkens one side, a dim scan
# leaves the paper grey. The seal must still be judged as what it is.


def photographed(seal: str, seed: int, *, cast=(1.0, 0.9, 0.82), dark: float = 0.6, app: Application = APP) -> bytes:
    """The last page as a phone photo: colour cast `cast`, light falling from 1 to `dark` across the page, JPEG."""
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(last_page(build_form_pdf(app, seal=seal, seed=seed)))
    try:
        rgb = np.asarray(doc[0].render(scale=150 / 72).to_pil().convert("RGB")).astype(np.float32)
    finally:
        doc.close()
    light = np.linspace(dark, 1.0, rgb.shape[1], dtype=np.float32)[None, :, None]
    photo = Image.fromarray(np.clip(rgb * light * np.array(cast, np.float32), 0, 255).astype(np.uint8))
    jpeg, out = io.BytesIO(), io.BytesIO()
    photo.save(jpeg, "JPEG", quality=60)
    Image.open(jpeg).save(out, "PDF", resolution=150)
    return out.getvalue()


@pytest.mark.parametrize(
    "seal, kind", [("red", "red"), ("image", "red"), ("oval", "red"), ("grey", "grey"), ("none", "none"), ("decoy", "none")]
)
@pytest.mark.parametrize("cast", [(1.0, 0.9, 0.82), (1.0, 0.88, 0.76)], ids=["warm", "lamp"])
def test_photo_under_warm_light(seal, kind, cast):
    """Paper lit by a warm lamp has a red-orange hue: it is paper, not seal ink."""
    assert find_seal(photographed(seal, 3, cast=cast)).kind == kind


@pytest.mark.parametrize("seal, kind", [("grey", "grey"), ("red", "red"), ("none", "none"), ("decoy", "none")])
def test_dim_scan_on_grey_paper(seal, kind):
    """A dark scan or photo leaves the paper grey (~185): the photocopied seal
    is still darker than its paper, and still a photocopy."""
    assert find_seal(photographed(seal, 4, cast=(0.72, 0.72, 0.72), dark=1.0)).kind == kind


def faded(seal: str, seed: int, fade: float, app: Application = APP) -> bytes:
    """The last page scanned with its coloured ink at `fade` of its strength: an under-inked stamp."""
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(last_page(build_form_pdf(app, seal=seal, seed=seed)))
    try:
        rgb = np.asarray(doc[0].render(scale=150 / 72).to_pil().convert("RGB")).astype(np.float32)
    finally:
        doc.close()
    coloured = (rgb.max(axis=2) - rgb.min(axis=2) > 40)[..., None]
    rgb = 255 - (255 - rgb) * np.where(coloured, fade, 1.0)
    rgb += np.random.default_rng(seed).normal(0, 4, rgb.shape[:2])[..., None]
    jpeg, out = io.BytesIO(), io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(jpeg, "JPEG", quality=60)
    Image.open(jpeg).save(out, "PDF", resolution=150)
    return out.getvalue()


@pytest.mark.parametrize("fade", [0.25, 0.18])
@pytest.mark.parametrize(
    "seal, kind", [("red", "red"), ("image", "red"), ("oval", "red"), ("decoy", "none"), ("decoy_circle", "none"), ("decoy_logo", "none")]
)
def test_faded_seal_is_still_red(seal, kind, fade):
    """A lightly pressed seal scans pale pink (chroma ~25, saturation ~0.1): still the unit's red seal."""
    assert find_seal(faded(seal, 701, fade, APPS[1])).kind == kind


def test_white_balance_keeps_bright_pixels_bright():
    """Gains above 1 on near-white pixels must saturate, not wrap round (a wrapped
    green channel turns white paper into seal red and sends every page to the oval search)."""
    from pipeline.forms.seal import paper_colour, red_mask, white_balance

    page = np.full((200, 200, 3), (254, 249, 220), np.uint8)  # slightly yellowed paper
    page[::7, ::5] = 255  # specks of white (JPEG noise, highlights)
    page[100:110, 20:180] = (40, 40, 45)  # a line of black text
    balanced = white_balance(page, paper_colour(page))
    assert balanced.min(axis=2)[page.min(axis=2) >= 200].min() >= 240
    assert not red_mask(balanced).any()


def _signed(signer: str, *, rect, seal: str = "none") -> bytes:
    """The form with a signed signature field showing nothing (no appearance)."""
    pdf = pikepdf.open(io.BytesIO(build_signed_pdf(APP, signer=signer, seal=seal)))
    pdf.Root.AcroForm.Fields[0].Rect = pikepdf.Array(rect)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("rect", [[0, 0, 0, 0], [330, 200, 450, 320]], ids=["invisible", "shown"])
@pytest.mark.parametrize("person", ["李娜", "欧阳明", "Li Na", "王建国（法定代表人）", "李会芳", "刘园园", "LI XIAOYAN"])
def test_a_persons_signature_is_no_seal(rect, person):
    """Word/WPS/Acrobat "add a digital signature" by 李娜 on an unstamped form: a person's
    signature, not the unit's 公章; the note says why it did not count."""
    evidence = find_seal(_signed(person, rect=rect))
    assert evidence.kind == "none"
    assert f"数字签名（签署人 {person}）" in evidence.detail and "不作为电子公章" in evidence.detail


def test_a_persons_signature_beside_a_drawn_seal_leaves_the_seal_found():
    assert find_seal(_signed("李娜", rect=[0, 0, 0, 0], seal="red")).kind == "red"


@pytest.mark.parametrize("signer", ["新乡市红旗区科学技术协会", "CN=河南师范大学, O=河南师范大学", "辉县市科协", "红旗区卫健委",
                                    "新乡市第一幼儿园", "91410700MA12345678", "Xinxiang Science and Technology Association"])
def test_a_units_signature_is_an_electronic_seal_even_unseen(signer):
    """A unit's certificate is its electronic 公章, drawn on the page or not."""
    assert find_seal(_signed(signer, rect=[0, 0, 0, 0])).kind == "electronic"


def _phone_photo(width: int) -> "Image.Image":
    """The stamped last page photographed on a desk (3:4, the sheet 82% of the width, warm light)."""
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(build_form_pdf(APP, seal="red", seed=4))
    page = doc[len(doc) - 1].render(scale=width * 0.82 / 595).to_pil().convert("RGB")
    doc.close()
    photo = Image.new("RGB", (width, width * 4 // 3), (92, 80, 70))
    photo.paste(page, ((photo.width - page.width) // 2, (photo.height - page.height) // 2))
    arr = np.asarray(photo).astype(np.float32) * np.array([1.0, 0.96, 0.9], np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("dpi", [72, 96])
def test_a_phone_photo_written_with_its_pixels_as_points_keeps_its_seal(dpi):
    """Image-to-PDF apps write a photo at 72/96 dpi: a 2000 px photo is a 700 mm "page", the
    40 mm seal would measure 130 mm. Nothing is paper that big: the picture shows about A4."""
    from pipeline.forms.pdf import read_pdf

    out = io.BytesIO()
    _phone_photo(2000).save(out, "PDF", resolution=dpi)
    facts = read_pdf(out.getvalue(), ocr=False)
    assert facts.seal.kind == "red"
    assert [f.code for f in facts.problems] == []  # nor "print it on A4": a photo's frame is no paper size


def test_paper_of_unknown_size_is_measured_as_about_a4_across():
    w, h = paper_mm(2000, 2667)
    assert (round(w), round(h)) == (230, 307)
    assert paper_mm(3024, 4276) == (210.0, 297.0)  # A-series proportions: A4, however big
    assert paper_mm(700, 800) == pytest.approx((700 * 25.4 / 72, 800 * 25.4 / 72))  # plausible paper: points


def test_the_page_naming_section_eight_is_searched_first_past_the_page_limit():
    """Appendix pages first, then a stamped 5-page form, then more appendix: 65 pages, and
    page 17 is where 八 is, neither among the first pages nor the others searched from the end."""
    from pipeline.forms.pdf import read_pdf

    form = pikepdf.open(io.BytesIO(build_form_pdf(APP, seal="red", seed=2)))
    appendix = pikepdf.open(io.BytesIO(build_form_pdf(APP, seal="none", seed=2)))
    pdf = pikepdf.new()
    for n in range(65):
        pdf.pages.append(form.pages[n - 12] if 12 <= n < 17 else appendix.pages[1])
    out = io.BytesIO()
    pdf.save(out)
    facts = read_pdf(out.getvalue(), ocr=False)
    assert facts.opinion_page == 17
    assert (facts.seal.kind, facts.seal.page) == ("red", 17)
    assert find_seal(out.getvalue()).kind == "none"  # without the hint: the cap is spent elsewhere
    assert "（共 65 页，其余未检查）" in find_seal(out.getvalue()).detail


def test_a_shown_signature_without_a_name_is_not_signed_by_its_field_name():
    """The field's name (Signature1) was shown to staff as the signer."""
    pdf = pikepdf.open(io.BytesIO(build_signed_pdf(APP, seal="none")))
    field = pdf.Root.AcroForm.Fields[0]
    del field.V["/Name"]
    field.T = pikepdf.String("Signature1")
    field.Rect = pikepdf.Array([330, 200, 450, 320])
    out = io.BytesIO()
    pdf.save(out)
    evidence = find_seal(out.getvalue())
    assert evidence.kind == "electronic"
    assert "签署人 未写明" in evidence.detail and "Signature1" not in evidence.detail


@pytest.mark.parametrize("h", [1153, 1152, 1154, 1155, 1156, 65, 67, 3, 5])
@pytest.mark.parametrize("w", [827, 826, 828, 829, 830, 66, 4])
def test_paper_levels_cover_every_pixel(h, w):
    """A page 64k+1..64k+3 pixels high or wide (auto-cropped scans, a dark scanner lid) made the
    levels a row short; the seal search raised and an unstamped scan was accepted."""
    import numpy as np

    from pipeline.forms.seal import paper_levels

    assert paper_levels(np.full((h, w, 3), 200, np.uint8)).shape == (h, w)


def test_an_unstamped_scan_of_an_odd_page_size_is_told_to_stamp():
    """628.9 x 877.0 pt (a scan pasted on a dark bed) renders at 827 x 1153 px at 100 dpi."""
    import io

    import pikepdf

    from pipeline.forms.seal import find_seal
    from pipeline.samples.pdfs import build_form_pdf

    data = build_form_pdf(APP, seal="none", scan=True)
    pdf = pikepdf.open(io.BytesIO(data))
    for page in pdf.pages:
        page.MediaBox = [0, 0, 628.9, 877.0]
        if "/CropBox" in page:
            del page.CropBox
    out = io.BytesIO()
    pdf.save(out)
    assert find_seal(out.getvalue()).kind == "none"
