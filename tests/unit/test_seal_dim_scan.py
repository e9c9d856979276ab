"""A faint pink seal on a dim copier scan whose lamp falls off to one side (QA round 8, F3).

An under-inked stamp scans pink; an old copier leaves the paper grey and one side of the page
darker still. On the dark side the pink is as faint in absolute terms as JPEG noise, and the
applicant was told to stamp a form that plainly carries its seal.
"""
from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest

from pipeline.forms.seal import find_seal
from pipeline.samples.apps import sample_applications
from pipeline.samples.pdfs import build_form_pdf, seal_png
from test_seal import last_page

APPS = sample_applications()
DPI = 150
PINK = (0.95, 0.55, 0.62)  # an under-inked 印泥 / 光敏 stamp


def _render(data: bytes) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return np.asarray(doc[len(doc) - 1].render(scale=DPI / 72).to_pil().convert("RGB")).astype(np.float32)
    finally:
        doc.close()


def _stamp(page: np.ndarray, seed: int, unit: str, rng: random.Random) -> np.ndarray:
    """Multiply a pink seal at half strength, pressed unevenly, where the form's seal goes."""
    red = _render(build_form_pdf(APPS[seed % len(APPS)], seal="red", seed=seed))  # same layout, same seal place
    ys, xs = np.nonzero((red[..., 0] - red[..., 1] > 80) & (red[..., 0] - red[..., 2] > 80))
    cy, cx = int(ys.mean()), int(xs.mean())
    from PIL import Image

    alpha = np.asarray(Image.open(io.BytesIO(seal_png(unit, color=(1.0, 0.0, 0.0), seed=seed, dpi=DPI))))[..., 3] / 255.0
    h, w = alpha.shape
    yy, xx = np.mgrid[0:h, 0:w]
    turn = rng.uniform(0, 2 * math.pi)
    grad = ((xx - w / 2) * math.cos(turn) + (yy - h / 2) * math.sin(turn)) / max(h, w)
    alpha = alpha * 0.5 * np.clip(1 - rng.uniform(0.2, 0.6) * (grad + 0.5), 0.25, 1)  # one side pressed lighter
    y0, x0 = cy - h // 2, cx - w // 2
    out = page.copy()
    ink = 1 - alpha[..., None] * (1 - np.array(PINK, np.float32))
    out[y0 : y0 + h, x0 : x0 + w] *= ink
    return out


def dim_scan(seed: int, stamped: bool) -> bytes:
    """The form's last page from an old copier: 150 dpi, pale toner, grey paper (78-88%), a lamp
    falling off by 30-35% across the page at a random angle, per-channel sensor noise, JPEG q30."""
    from PIL import Image

    app = APPS[seed % len(APPS)]
    rng = random.Random(seed)
    page = _render(last_page(build_form_pdf(app, seal="none", seed=seed)))
    if stamped:
        page = _stamp(page, seed, app.unit, rng)
    page = 255 - (255 - page) * rng.uniform(0.8, 0.97)
    page *= rng.uniform(0.78, 0.88)
    h, w = page.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    turn = rng.uniform(0, 2 * math.pi)
    fall = (xx / w - 0.5) * math.cos(turn) + (yy / h - 0.5) * math.sin(turn)
    page *= (1 - rng.uniform(0.3, 0.35) * (fall + 0.5))[..., None]
    page += np.random.default_rng(seed).normal(0, rng.uniform(2, 5), page.shape)
    jpeg, out = io.BytesIO(), io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(jpeg, "JPEG", quality=30)
    Image.open(jpeg).save(out, "PDF", resolution=DPI)
    return out.getvalue()


SEEDS = range(12)
# Seed 2: JPEG q30 quantised the colour of the lightly pressed quarter of the ring to nothing (its
# chroma reads 0-10 there, the paper's 0): what is left is 67% of a ring, under what a ring needs.
BEYOND_COLOUR = {2}


@pytest.mark.parametrize(
    "seed",
    [pytest.param(s, marks=pytest.mark.xfail(strict=True, reason="the ring's colour is lost")) if s in BEYOND_COLOUR else s
     for s in SEEDS],
)
def test_faint_pink_seal_on_a_dim_scan_with_lamp_fall_off_is_found(seed):
    """The seal is plainly on the page: "请加盖单位公章" would be a wrong reply."""
    evidence = find_seal(dim_scan(seed, stamped=True))
    assert evidence.kind == "red", evidence


@pytest.mark.parametrize("seed", SEEDS)
def test_the_same_dim_scan_unstamped_has_no_seal(seed):
    evidence = find_seal(dim_scan(seed, stamped=False))
    assert evidence.kind == "none", evidence


def test_lifting_dim_paper_leaves_white_paper_and_what_is_no_paper_alone():
    """Only paper between PAPER_MIN and PAPER_REF is lifted: an ordinary scan keeps its pixels,
    a dark desk or scanner lid beside the sheet keeps its colour, and pink on grey paper gains
    the chroma it has on white paper."""
    from pipeline.forms.seal import even_light, paper_levels

    white = np.full((256, 256, 3), 245, np.uint8)
    white[100:110, 20:200] = (30, 30, 35)
    assert even_light(white, paper_levels(white)) is white

    page = np.full((256, 512, 3), 150, np.uint8)  # grey paper ...
    page[:, 256:] = (70, 45, 35)  # ... beside a dark red-brown desk
    page[100:104, 60:200] = (150, 128, 132)  # a faint pink stroke, chroma 22 on this paper
    level = paper_levels(page)
    level[:, 256:] = 70  # the desk's own level, as far from the sheet
    lifted = even_light(page, level)
    assert (lifted[:, 300:] == page[:, 300:]).all()
    assert abs(int(lifted[10, 10].max()) - 235) <= 2
    r, g, b = (int(v) for v in lifted[101, 100])
    assert r - min(g, b) >= 33  # 22 x 235 / 150
