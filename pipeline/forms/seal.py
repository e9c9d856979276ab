"""Find the unit's seal (公章) in a stamped PDF.

Two kinds of evidence count: a signed PDF signature field (an electronic
seal), or a round or oval (椭圆形章) red ring on a rendered page. A ring of the same shape in
grey means a photocopied seal and is reported as such, not accepted; so is a file of page images that
show no colour at all (a black-and-white or greyscale scan), where a red seal
cannot show and its broken-up ring may not be found either.

The ring test: render at ~100 dpi of the paper (a page with A-series
proportions is A4 paper whatever its size in points: scans are often
written at 72 dpi or none, see `paper_mm`), mask the seal ink, look for ring-shaped
clusters on a ~1 mm grid (FFT correlation with ring kernels), then verify
each candidate at pixel level: the ring is mostly covered, the band between
star and text is hollow, there is ink inside and little ink just outside.
Red ink with no round ring gets a second pass that fits ellipses to ink
clusters and applies the same tests along the ellipse (`find_ovals`).
The page is first white-balanced on its paper (a warm lamp tints paper
into the red hues) and lifted where its paper is dim (grey copier paper, the
far side of a lamp: `even_light`), and a page with only faint red ink gets a
pale pass (a lightly pressed seal scans pink). Grey ink is what ordinary text is made
of, and a circle laid through a block of dense CJK text covers it as well
as a ring does, so a grey ring must also be seal-sized and a thin stroke
of one radius and steady width, clear paper on both sides, round a star
(`_thin_ring`).
Untrusted input: call this only inside the sandboxed child (forms/pdf.py).
"""
from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..models import SealEvidence

DPI = 100
CELL = 4  # grid cell in pixels: ~1 mm at 100 dpi
R_MIN_MM, R_MAX_MM = 10.0, 38.0
MAX_PAGES = 60  # pages rendered at most (see _page_order)
MAX_PIXELS = 12_000_000  # cap for huge pages: render them smaller

# Thresholds for a ring to count as a seal.
MIN_COVERAGE = 0.72  # share of the circumference with ink
MAX_HOLLOW = 0.25  # ink density between star and text
MAX_OUTER = 0.15  # ink density just outside the ring
MIN_INNER = 0.02  # ink density inside (star, text)

# Stricter tests for a grey (photocopied) ring: text, tables and signatures
# are grey too. Real 公章 are 38-45 mm across; the generator's grey seals
# measure stroke >= 0.98, one-radius >= 0.83, width 1.3-1.5 mm, shoulder
# <= 0.04, isolated >= 0.70, centre >= 0.66 while text clusters stay at
# stroke <= 0.70, one-radius <= 0.50 and shoulder >= 0.14.
GREY_R_MIN_MM = 15.0
GREY_MIN_COVERAGE = 0.85  # +-2 px band, as MIN_COVERAGE
GREY_MIN_STROKE = 0.90  # share of angles inked within +-1 px of one radius
GREY_MIN_PEAK = 0.60  # share of angles inked at exactly one radius
GREY_MAX_WIDTH_MM = 3.0  # the stroke's width (half-peak)
GREY_MAX_SHOULDER = 0.12  # ink 0.75-2.5 mm outside the stroke
GREY_MIN_ISOLATED = 0.50  # angles where the stroke has paper on both sides
GREY_MIN_CENTRE = 0.15  # ink density of the centre (star, emblem)


def _confidence(coverage: float, outer: float, hollow: float) -> float:
    """0..1 from how fully the ring is inked and how clean it is around it."""
    cov = min(1.0, max(0.0, (coverage - 0.6) / 0.35))
    return round(cov * (1 - outer) * (1 - hollow), 3)


@dataclass(frozen=True)
class Ring:
    """A verified ring on one rendered page, in pixels of that render."""

    cx: float
    cy: float
    r: float
    coverage: float
    hollow: float
    outer: float
    inner: float

    @property
    def confidence(self) -> float:
        return _confidence(self.coverage, self.outer, self.hollow)


# --- masks -----------------------------------------------------------------


PALE_CHROMA, PALE_SATURATION = 16, 6  # a faint, under-inked stamp: pink rather than red


def red_mask(rgb: np.ndarray, *, pale: bool = False) -> np.ndarray:
    """Seal-red pixels: R largest, chroma >= 28, S >= 0.15, V >= 70, hue -25..30 deg.

    `pale=True` lowers chroma and saturation to 16 and 0.06 for a faded
    seal: used only when the page has no ring in ordinary red.
    """
    min_chroma, min_saturation = (PALE_CHROMA, PALE_SATURATION) if pale else (28, 15)
    a = rgb.astype(np.int16)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    mn = np.minimum(g, b)
    chroma = r - mn
    ok = (r >= g) & (r >= b) & (chroma >= min_chroma) & (r >= 70)
    ok &= chroma * 100 >= min_saturation * r  # saturation
    # Hue (degrees) for R-max pixels is 60 * (G - B) / chroma.
    hue60 = (g - b) * 60
    ok &= (hue60 >= -25 * chroma) & (hue60 <= 30 * chroma)
    return ok


def grey_mask(rgb: np.ndarray, paper: float | np.ndarray = 255.0) -> np.ndarray:
    """Colourless ink: what a photocopied seal (and ordinary text) is made of.

    Ink is darker than its paper: on a dim scan, or the dark side of a
    photo, the paper is grey (`paper`: its brightness, one number or one per
    pixel, see `paper_levels`) and the bound drops with it.
    """
    a = rgb.astype(np.int16)
    mx = a.max(axis=2)
    return (mx - a.min(axis=2) < 28) & (mx <= np.minimum(190.0, 0.75 * np.asarray(paper, np.float32)))


PAPER_BLOCK = 64  # pixels (~16 mm at 100 dpi): wider than a seal's star, so every block has paper


def paper_levels(rgb: np.ndarray) -> np.ndarray:
    """The paper's brightness about each pixel: light falls unevenly on a photographed page.

    The brightest 4 x 4 mean in each block, then the brightest of the 3 x 3
    blocks around it, so a block all ink (dense text) borrows its neighbours' paper.
    """
    v = rgb.max(axis=2)
    h, w = v.shape[0] // 4, v.shape[1] // 4
    if h < 1 or w < 1:
        return np.full(v.shape, 255.0, np.float32)
    cells = v[: h * 4, : w * 4].reshape(h, 4, w, 4).mean(axis=(1, 3), dtype=np.float32)
    k = PAPER_BLOCK // 4
    bh, bw = -(-h // k), -(-w // k)
    padded = np.zeros((bh * k, bw * k), np.float32)
    padded[:h, :w] = cells
    blocks = padded.reshape(bh, k, bw, k).max(axis=(1, 3))
    wide = np.pad(blocks, 1, mode="edge")
    near = np.max([wide[dy : dy + bh, dx : dx + bw] for dy in range(3) for dx in range(3)], axis=0)
    level = np.repeat(np.repeat(near, PAPER_BLOCK, axis=0), PAPER_BLOCK, axis=1)
    # The 4 x 4 cells leave up to 3 rows/columns uncovered (a page 1153 px high gave 1152 rows,
    # and the seal search failed on it): the last block's level reaches the edge.
    short = (max(v.shape[0] - level.shape[0], 0), max(v.shape[1] - level.shape[1], 0))
    if short != (0, 0):
        level = np.pad(level, ((0, short[0]), (0, short[1])), mode="edge")
    return level[: v.shape[0], : v.shape[1]]


PAPER_SAMPLE = 31  # every 31st pixel (~30,000 at 100 dpi) estimates the paper
PAPER_MIN = 100  # darker "paper" is a dark picture: leave its colours alone
MAX_GAIN = 1.6  # the strongest colour cast corrected (a warm lamp)


def paper_colour(rgb: np.ndarray) -> np.ndarray:
    """The paper's colour: the median of the brighter pixels, as a page is mostly paper."""
    sample = rgb.reshape(-1, 3)[::PAPER_SAMPLE]
    light = sample.astype(np.int16).sum(axis=1)
    return np.median(sample[light >= np.percentile(light, 60)], axis=0)


def white_balance(rgb: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Scale the channels so the paper is neutral.

    Under a warm lamp, or on yellowed paper, the paper itself takes a red or
    orange hue: left alone it fills the red mask and hides the seal's ring.
    The cast multiplies every pixel alike, so dividing it out restores the ink too.
    """
    top = float(paper.max())
    if top < PAPER_MIN:
        return rgb
    gains = np.clip(top / np.maximum(paper.astype(np.float32), 1.0), 1.0, MAX_GAIN)
    if (gains < 1.02).all():
        return rgb  # white paper: nothing to correct
    scaled = (rgb.astype(np.uint32) * np.rint(gains * 256).astype(np.uint32)) >> 8  # 255 x 409 needs 17 bits
    return np.minimum(scaled, 255).astype(np.uint8)


PAPER_REF = 235.0  # dimmer paper is lifted to this; an ordinary office scan's (235-255) is left as it is
MAX_LIFT = 2.0  # the darkest paper lifted: a dim grey copier scan at the far side of its lamp


def even_light(rgb: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Lift paper darker than an ordinary scan's to PAPER_REF, about each pixel.

    Ink filters the light its paper reflects, so on grey paper, or on the dark
    side of a copier lamp's fall-off, a faint pink seal keeps its hue and
    saturation but its chroma falls under the mask's absolute bounds (one paper
    colour for the page cannot see that). Dividing by the local paper level
    (`paper_levels`) restores it; paper already that bright is left as it is,
    and darker "paper" (below PAPER_MIN: a desk, a scanner lid) is none.
    """
    if not ((level >= PAPER_MIN) & (level < PAPER_REF / 1.02)).any():
        return rgb
    # Gains in 1/128ths, looked up by level: 255 x 2.0 x 128 still fits 16 bits.
    steps = np.arange(256, dtype=np.float32)
    lut = np.where(steps >= PAPER_MIN, np.clip(PAPER_REF / np.maximum(steps, 1.0), 1.0, MAX_LIFT), 1.0)
    gain = np.rint(lut * 128).astype(np.uint16)[np.clip(level, 0, 255).astype(np.uint8)]
    lifted = (rgb.astype(np.uint16) * gain[..., None]) >> 7
    return np.minimum(lifted, 255).astype(np.uint8)


# --- ring search -----------------------------------------------------------


@lru_cache(maxsize=8)
def _ring_kernels(shape: tuple[int, int], radii: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """FFTs of ring kernels (radius r cells, width ~2 cells) for an FFT shape."""
    out = []
    for r in radii:
        k = np.zeros(shape, np.float32)
        span = np.arange(-r - 2, r + 3)
        dy, dx = np.meshgrid(span, span, indexing="ij")
        ring = np.abs(np.hypot(dy, dx) - r) <= 1.0
        k[dy[ring] % shape[0], dx[ring] % shape[1]] = 1.0 / ring.sum()
        out.append(np.fft.rfft2(k))
    return tuple(out)


def _candidates(
    mask: np.ndarray, px_per_mm: float, limit: int = 12, per_radius: int = 3, r_min_mm: float = R_MIN_MM
) -> list[tuple[float, float, float]]:
    """Rough ring centres and radii (pixels) from the ~1 mm grid."""
    h, w = mask.shape[0] // CELL, mask.shape[1] // CELL
    if h < 8 or w < 8:
        return []
    counts = mask[: h * CELL, : w * CELL].reshape(h, CELL, w, CELL).sum(axis=(1, 3))
    occ = counts >= 2
    dil = occ.copy()
    dil[1:, :] |= occ[:-1, :]
    dil[:-1, :] |= occ[1:, :]
    dil[:, 1:] |= occ[:, :-1]
    dil[:, :-1] |= occ[:, 1:]
    cell_mm = CELL / px_per_mm
    r_lo = max(3, int(r_min_mm / cell_mm))
    r_hi = int(math.ceil(R_MAX_MM / cell_mm))
    radii = tuple(range(r_lo, r_hi + 1, 2))
    shape = (_fft_size(h + r_hi + 3), _fft_size(w + r_hi + 3))
    f = np.fft.rfft2(dil.astype(np.float32), s=shape)
    # Keep the best spots of every radius: at a seal's centre the row of
    # text inside the ring scores as well as the ring itself.
    spots: list[tuple[float, int, int, int]] = []
    for r, k in zip(radii, _ring_kernels(shape, radii)):
        cov = np.fft.irfft2(f * k, s=shape)[:h, :w]
        for _ in range(per_radius):
            idx = int(np.argmax(cov))
            y, x = divmod(idx, w)
            if cov[y, x] < 0.6:
                break
            spots.append((float(cov[y, x]), y, x, r))
            cov[max(0, y - 6) : y + 7, max(0, x - 6) : x + 7] = 0
    spots.sort(reverse=True)
    found: list[tuple[int, int, int]] = []
    for _, y, x, r in spots:
        if any(abs(y - fy) <= 1 and abs(x - fx) <= 1 and abs(r - fr) <= 2 for fy, fx, fr in found):
            continue
        found.append((y, x, r))
        if len(found) >= limit:
            break
    half = CELL / 2
    return [(fx * CELL + half, fy * CELL + half, fr * CELL) for fy, fx, fr in found]


def _fft_size(n: int) -> int:
    """A size >= n with only small prime factors (fast FFT)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _sample(mask: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    xi = np.clip(np.rint(xs).astype(np.intp), 0, w - 1)
    yi = np.clip(np.rint(ys).astype(np.intp), 0, h - 1)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    return mask[yi, xi] & inside


_ANG = np.linspace(0, 2 * np.pi, 144, endpoint=False)
_COS, _SIN = np.cos(_ANG), np.sin(_ANG)


def _coverage(mask: np.ndarray, cx: np.ndarray, cy: np.ndarray, r: np.ndarray, band: float) -> np.ndarray:
    """Share of angles with ink within `band` px of each circle (vectorised)."""
    d = np.arange(-band, band + 0.01, 1.0)
    rr = r[:, None, None] + d[None, None, :]
    xs = cx[:, None, None] + rr * _COS[None, :, None]
    ys = cy[:, None, None] + rr * _SIN[None, :, None]
    return _sample(mask, xs, ys).any(axis=2).mean(axis=1)


def _density(mask: np.ndarray, cx: float, cy: float, r0: float, r1: float) -> float:
    """Ink share over an annulus, sampled on a polar grid about every pixel."""
    if r1 <= r0:
        return 0.0
    radii = np.arange(max(r0, 0.5), r1, 1.0)
    n_ang = max(48, int(2 * np.pi * r1))
    ang = np.linspace(0, 2 * np.pi, n_ang, endpoint=False)
    xs = cx + radii[:, None] * np.cos(ang)[None, :]
    ys = cy + radii[:, None] * np.sin(ang)[None, :]
    weights = np.broadcast_to(radii[:, None], xs.shape)  # area grows with radius
    hits = _sample(mask, xs, ys)
    return float((hits * weights).sum() / weights.sum())


_ANG360 = np.linspace(0, 2 * np.pi, 360, endpoint=False)
_COS360, _SIN360 = np.cos(_ANG360), np.sin(_ANG360)


def _thin_ring(mask: np.ndarray, cx: float, cy: float, r: float, px_per_mm: float) -> tuple[float, float] | None:
    """The grey-only test: is the circle a seal's ring rather than text?

    A seal's ring is one thin stroke at one radius all the way round, with
    paper on both sides and a star in the middle; a circle through dense
    text touches ink at every angle too, but at scattered radii, with more
    ink next to it. Returns the centre refined to the pixel, or None.
    """
    ppm = px_per_mm
    rho = np.arange(r - 4.5 * ppm, r + 3.5 * ppm, 1.0)
    near = np.flatnonzero((rho >= r - 2.5 * ppm) & (rho <= r + 1.0 * ppm))
    best = None
    for dx in (-2, -1, 0, 1, 2):
        for dy in (-2, -1, 0, 1, 2):
            xs = cx + dx + rho[None, :] * _COS360[:, None]
            ys = cy + dy + rho[None, :] * _SIN360[:, None]
            prof = _sample(mask, xs, ys)  # angle x radius
            wide = prof.copy()
            wide[:, 1:] |= prof[:, :-1]
            wide[:, :-1] |= prof[:, 1:]
            h3 = wide.mean(axis=0)
            k = int(near[np.argmax(h3[near])])
            if best is None or h3[k] > best[0]:
                best = (float(h3[k]), dx, dy, prof, k)
    stroke, dx, dy, prof, k = best
    if stroke < GREY_MIN_STROKE:
        return None
    h1 = prof.mean(axis=0)
    k = k - 1 + int(np.argmax(h1[k - 1 : k + 2]))
    peak = float(h1[k])
    if peak < GREY_MIN_PEAK:
        return None
    lo = hi = k
    while lo > 0 and h1[lo - 1] >= 0.5 * peak:
        lo -= 1
    while hi < len(h1) - 1 and h1[hi + 1] >= 0.5 * peak:
        hi += 1
    if (hi - lo + 1) / ppm > GREY_MAX_WIDTH_MM:
        return None
    outside = (rho > rho[hi] + 0.75 * ppm) & (rho <= rho[hi] + 2.5 * ppm)
    inside = (rho < rho[lo] - 0.4 * ppm) & (rho >= rho[lo] - 1.0 * ppm)
    if not outside.any() or not inside.any() or h1[outside].mean() > GREY_MAX_SHOULDER:
        return None
    isolated = prof[:, lo : hi + 1].any(axis=1) & ~prof[:, outside].any(axis=1) & ~prof[:, inside].any(axis=1)
    if isolated.mean() < GREY_MIN_ISOLATED:
        return None
    cx, cy = cx + dx, cy + dy
    if _density(mask, cx, cy, 0.0, 0.2 * r) < GREY_MIN_CENTRE:
        return None
    return cx, cy


def _verify(mask: np.ndarray, cx: float, cy: float, r: float, px_per_mm: float, grey: bool = False) -> Ring | None:
    """Refine a rough circle to the pixel and apply the seal tests."""
    steps = np.arange(-6, 7, 2, dtype=np.float32)
    dx, dy, dr = np.meshgrid(steps, steps, steps, indexing="ij")
    cxs, cys, rs = cx + dx.ravel(), cy + dy.ravel(), r + dr.ravel()
    r_min = GREY_R_MIN_MM if grey else R_MIN_MM
    keep = (rs >= r_min * px_per_mm * 0.95) & (rs <= R_MAX_MM * px_per_mm * 1.05)
    if not keep.any():
        return None
    cxs, cys, rs = cxs[keep], cys[keep], rs[keep]
    cov = _coverage(mask, cxs, cys, rs, band=2.0)
    # Prefer the largest well-covered circle: the outer ring, not the text row.
    top = cov.max()
    pick = np.flatnonzero(cov >= top - 0.02)
    i = pick[np.argmax(rs[pick])]
    cx, cy, r, coverage = float(cxs[i]), float(cys[i]), float(rs[i]), float(cov[i])
    if coverage < (GREY_MIN_COVERAGE if grey else MIN_COVERAGE):
        return None
    if grey:
        refined = _thin_ring(mask, cx, cy, r, px_per_mm)
        if refined is None:
            return None
        cx, cy = refined
    ring = Ring(
        cx,
        cy,
        r,
        coverage,
        hollow=_density(mask, cx, cy, 0.36 * r, 0.56 * r),
        outer=_density(mask, cx, cy, r + 1.5 * px_per_mm, r + 5 * px_per_mm),
        inner=_density(mask, cx, cy, 0.0, 0.85 * r),
    )
    if ring.hollow > MAX_HOLLOW or ring.outer > MAX_OUTER or ring.inner < MIN_INNER:
        return None
    return ring


def find_rings(mask: np.ndarray, px_per_mm: float, *, grey: bool = False, first: bool = False) -> list[Ring]:
    """Verified seal-like rings in one page mask, best first.

    `grey=True` for a colourless-ink mask: seal-sized rings only, and each
    must pass the thin-ring test, since text is made of the same ink.
    `first=True` stops at the first candidate (strongest correlation) that
    verifies: enough for a verdict, and most of the time on a stamped page.
    """
    r_min = GREY_R_MIN_MM if grey else R_MIN_MM
    if mask.sum() < 2 * math.pi * r_min * 0.6 * px_per_mm**2:
        return []  # not enough ink for even the smallest ring
    rings = []
    for c in _candidates(mask, px_per_mm, r_min_mm=r_min):
        ring = _verify(mask, *c, px_per_mm, grey=grey)
        if ring is not None:
            rings.append(ring)
            if first:
                break
    return sorted(rings, key=lambda g: g.confidence, reverse=True)


# --- oval seals ------------------------------------------------------------
#
# 椭圆形章 (e.g. 45 x 30 mm financial or contract seals) miss the circle
# kernels. Second pass, on red ink only: group the ink into clusters on the
# ~1 mm grid, fit an ellipse (direct least squares, trimmed) to the outermost
# ink about each cluster's centre, then apply the ring tests measured along
# the ellipse: covered, hollow between star and text, ink inside, clear
# outside. A red ring round black text has no red inside; a letterhead logo
# is small and filled.

OVAL_MIN_B_MM = R_MIN_MM  # semi-minor axis
OVAL_MAX_A_MM = R_MAX_MM  # semi-major axis
OVAL_MAX_RATIO = 1.75  # a / b (real oval seals: 1.3-1.6)
OVAL_MIN_COVERAGE = 0.80  # generated ovals >= 0.97; the square decoy stamp ~0.6
OVAL_MAX_CLUSTERS = 12  # largest clusters of a page checked


@dataclass(frozen=True)
class Oval:
    """A verified elliptical ring, in pixels of the render; `a` lies along `theta`."""

    cx: float
    cy: float
    a: float
    b: float
    theta: float
    coverage: float
    hollow: float
    outer: float
    inner: float

    @property
    def confidence(self) -> float:
        return _confidence(self.coverage, self.outer, self.hollow)


def _clusters(mask: np.ndarray, px_per_mm: float) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (pixels y0, y1, x0, x1) of ink clusters joined within ~2 mm."""
    h, w = mask.shape[0] // CELL, mask.shape[1] // CELL
    if h < 8 or w < 8:
        return []
    occ = mask[: h * CELL, : w * CELL].reshape(h, CELL, w, CELL).sum(axis=(1, 3)) >= 2
    dil = occ.copy()
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            src = occ[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
            dil[max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)] |= src
    seen = np.zeros_like(dil)
    boxes = []
    for y0, x0 in zip(*np.nonzero(dil)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack, ys, xs = [(y0, x0)], [], []
        while stack:
            y, x = stack.pop()
            ys.append(y)
            xs.append(x)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and dil[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        boxes.append((min(ys) * CELL, (max(ys) + 1) * CELL, min(xs) * CELL, (max(xs) + 1) * CELL))
    return boxes


def _fit_ellipse(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, float] | None:
    """Direct least-squares ellipse (Halir & Flusser): (cx, cy, a, b, theta), a >= b."""
    if len(x) < 12:
        return None
    mx, my = x.mean(), y.mean()
    sc = max(x.std(), y.std(), 1e-6)
    u, v = (x - mx) / sc, (y - my) / sc
    d1 = np.column_stack([u * u, u * v, v * v])
    d2 = np.column_stack([u, v, np.ones_like(u)])
    s1, s2, s3 = d1.T @ d1, d1.T @ d2, d2.T @ d2
    try:
        t = -np.linalg.solve(s3, s2.T)
        m = s1 + s2 @ t
        m = np.array([m[2] / 2, -m[1], m[0] / 2])
        val, vec = np.linalg.eig(m)
    except np.linalg.LinAlgError:
        return None
    vec = np.real(vec)
    cond = 4 * vec[0] * vec[2] - vec[1] ** 2
    if not (cond > 0).any():
        return None
    a1 = vec[:, np.argmax(cond > 0)]
    A, B, C = a1
    D, E, F = t @ a1
    den = B * B - 4 * A * C
    if den >= 0:
        return None
    x0 = (2 * C * D - B * E) / den
    y0 = (2 * A * E - B * D) / den
    f0 = A * x0 * x0 + B * x0 * y0 + C * y0 * y0 + D * x0 + E * y0 + F
    lam, rot = np.linalg.eigh(np.array([[A, B / 2], [B / 2, C]]))
    if f0 == 0 or (-f0 / lam <= 0).any():
        return None
    axes = np.sqrt(-f0 / lam) * sc  # semi-axis along each eigenvector
    k = int(np.argmax(axes))
    theta = math.atan2(rot[1, k], rot[0, k])
    return float(x0 * sc + mx), float(y0 * sc + my), float(axes[k]), float(axes[1 - k]), theta


def _ellipse_points(e, d: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points at parameters t on the ellipse grown by d pixels (broadcast)."""
    cx, cy, a, b, th = e
    ex, ey = (a + d) * np.cos(t), (b + d) * np.sin(t)
    c, s = math.cos(th), math.sin(th)
    return cx + c * ex - s * ey, cy + s * ex + c * ey


def _oval_coverage(mask: np.ndarray, e, band: float = 2.0) -> float:
    d = np.arange(-band, band + 0.01, 1.0)
    xs, ys = _ellipse_points(e, d[None, :], _ANG[:, None])
    return float(_sample(mask, xs, ys).any(axis=1).mean())


def _oval_density(mask: np.ndarray, e, s0: float, s1: float, grow: float = 0.0) -> float:
    """Ink share between the ellipse scaled by s0 and s1 (then grown by `grow` px)."""
    cx, cy, a, b, th = e
    step = 1.0 / max(a, 1.0)
    scales = np.arange(max(s0, step / 2), s1, step)
    if len(scales) == 0:
        return 0.0
    n_ang = max(48, int(2 * np.pi * (s1 * a + grow)))
    ang = np.linspace(0, 2 * np.pi, n_ang, endpoint=False)
    ex = (scales[:, None] * a + grow) * np.cos(ang)[None, :]
    ey = (scales[:, None] * b + grow) * np.sin(ang)[None, :]
    c, s = math.cos(th), math.sin(th)
    xs, ys = cx + c * ex - s * ey, cy + s * ex + c * ey
    weights = np.broadcast_to((scales[:, None] * a + grow), xs.shape)
    hits = _sample(mask, xs, ys)
    return float((hits * weights).sum() / weights.sum())


def _verify_oval(mask: np.ndarray, box: tuple[int, int, int, int], px_per_mm: float) -> Oval | None:
    y0, y1, x0, x1 = box
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    if len(xs) < 50:
        return None
    xs, ys = xs.astype(np.float64) + x0, ys.astype(np.float64) + y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # The outermost ink in each of 180 directions: the ring, where it is inked.
    ang = np.arctan2(ys - cy, xs - cx)
    rad = np.hypot(xs - cx, ys - cy)
    bins = ((ang + np.pi) / (2 * np.pi) * 180).astype(np.intp) % 180
    order = np.lexsort((rad, bins))
    last = np.flatnonzero(np.r_[bins[order][1:] != bins[order][:-1], True])
    px, py = xs[order][last], ys[order][last]
    keep = np.ones(len(px), bool)
    e = None
    for _ in range(4):
        e = _fit_ellipse(px[keep], py[keep])
        if e is None:
            return None
        ecx, ecy, a, b, th = e
        c, s = math.cos(th), math.sin(th)
        u = (c * (px - ecx) + s * (py - ecy)) / a
        v = (-s * (px - ecx) + c * (py - ecy)) / b
        resid = np.abs(np.hypot(u, v) - 1) * b
        new = resid <= max(1.5 * px_per_mm, 2 * np.median(resid))
        if (new == keep).all():
            break
        keep = new
    ecx, ecy, a, b, th = e
    if b < OVAL_MIN_B_MM * px_per_mm * 0.95 or a > OVAL_MAX_A_MM * px_per_mm * 1.05 or a / b > OVAL_MAX_RATIO:
        return None
    # The fit follows the ring's outer edge: settle onto the stroke.
    best = None
    for dd in np.arange(-8.0, 2.5, 1.0):
        for dx in (-2, 0, 2):
            for dy in (-2, 0, 2):
                cand = (ecx + dx, ecy + dy, a + dd, b + dd, th)
                cov = _oval_coverage(mask, cand)
                if best is None or cov > best[0] + 1e-9:
                    best = (cov, cand)
    coverage, e = best
    if coverage < OVAL_MIN_COVERAGE:
        return None
    ppm = px_per_mm
    oval = Oval(
        *e,
        coverage=coverage,
        hollow=_oval_density(mask, e, 0.36, 0.56),
        outer=_oval_density(mask, e, 1.0, 1.0 + 3.5 * ppm / e[2], grow=1.5 * ppm),
        inner=_oval_density(mask, e, 0.0, 0.85),
    )
    if oval.hollow > MAX_HOLLOW or oval.outer > MAX_OUTER or oval.inner < MIN_INNER:
        return None
    return oval


def find_ovals(mask: np.ndarray, px_per_mm: float) -> list[Oval]:
    """Verified elliptical seal rings (red ink) in one page mask, best first."""
    if mask.sum() < 2 * math.pi * OVAL_MIN_B_MM * 0.6 * px_per_mm**2:
        return []
    lo = 2 * OVAL_MIN_B_MM * px_per_mm * 0.9
    hi = 2 * OVAL_MAX_A_MM * px_per_mm * 1.1 + 4 * CELL
    boxes = []
    for box in _clusters(mask, px_per_mm):
        bh, bw = box[1] - box[0], box[3] - box[2]
        if lo <= min(bh, bw) and max(bh, bw) <= hi and max(bh, bw) <= 2.2 * min(bh, bw):
            boxes.append(box)
    boxes.sort(key=lambda bx: (bx[1] - bx[0]) * (bx[3] - bx[2]), reverse=True)
    ovals = []
    for box in boxes[:OVAL_MAX_CLUSTERS]:
        if (o := _verify_oval(mask, box, px_per_mm)) is not None:
            ovals.append(o)
    return sorted(ovals, key=lambda g: g.confidence, reverse=True)


# --- documents -------------------------------------------------------------


def _pdf_string(obj) -> str:
    try:
        return str(obj)
    except Exception:  # noqa: BLE001 - odd encodings must not stop the check
        return ""


# A signer that reads as a person: a Chinese name of 2-4 characters, or two or three Latin
# words (Li Na, LI XIAOYAN); a note after it (（法定代表人）, a phone) says nothing of a unit.
# Anything else (a unit, a credit code, CN=… of a unit) is a unit.
_PERSON_HAN = re.compile(r"[\u4e00-\u9fff·]{2,4}")
_PERSON_LATIN = re.compile(r"[A-Za-z][A-Za-z'-]+(?: [A-Za-z][A-Za-z'-]*\.?){1,2}")
_PERSON_NOTE = re.compile(r"[(（][^)）]*[)）]|[\s,，;；/、]*(?:\+?\d[\d -]{6,})$")
_UNIT_WORDS = re.compile(r"协会|学会|科协|委员会|大学|学院|学校|医院|中心|公司|集团|政府|办公室|"
                         r"\b(?:Co|Ltd|Inc|LLC|Association|Society|University|College|Center|Centre|Bureau|Institute)\b", re.I)
# One character that ends a unit's name (卫健委, 科技馆) but also many given names (李会, 刘园园):
# a unit's only in a name longer than a person's.
_UNIT_ENDINGS = tuple("局馆所院园站社部厅处会委办校队厂")


def signer_is_person(name: str) -> bool:
    """Whether a signature's signer reads as a person's name, not a unit's certificate."""
    name = re.sub(r"^(?:CN|cn)\s*=\s*", "", (name or "").strip()).split(",")[0].strip()
    name = _PERSON_NOTE.sub("", name).strip()
    if not name or _UNIT_WORDS.search(name) or (len(name) > 4 and name.endswith(_UNIT_ENDINGS)):
        return False
    return bool(_PERSON_HAN.fullmatch(name) or _PERSON_LATIN.fullmatch(name))


def _shown(widget) -> bool:
    """Whether a signature widget is drawn on its page: a real rectangle, not hidden."""
    try:
        x0, y0, x1, y1 = (float(v) for v in widget.get("/Rect", None) or [])
        flags = int(widget.get("/F", 0) or 0)
    except (TypeError, ValueError):
        return False
    return abs(x1 - x0) >= 5 and abs(y1 - y0) >= 5 and not flags & (2 | 32)  # Hidden, NoView


_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?")


def pdf_date_text(value: str) -> str:
    """A PDF date (D:20250620103000+08'00') as staff read it: 2025-06-20 10:30（UTC+08:00）."""
    m = _PDF_DATE.match((value or "").strip())
    if not m:
        return value
    year, month, day, hour, minute = (m.group(i) for i in range(1, 6))
    text = "-".join(x for x in (year, month, day) if x)
    if hour:
        text += f" {hour}:{minute or '00'}"
    zone = m.group(7)
    if zone == "Z":
        text += "（UTC）"
    elif zone:
        digits = zone.replace("'", "")
        text += f"（UTC{digits[:3]}:{digits[3:5] or '00'}）"
    return text


def electronic_seal(pdf, size: int | None = None) -> tuple[SealEvidence | None, str]:
    """A signed `/FT /Sig` field (a pikepdf.Pdf) as an electronic seal, and a note on
    signatures that are not one.

    A signature counts unless its signer reads as a person, or it names nobody and is
    not shown: a person's signature (Word/WPS/Acrobat "add a digital signature", often
    invisible) is no 公章, so the pages are then searched like any other file.
    With the file's `size`, say whether the signature covers the whole file
    (ByteRange [0 a b c] with b + c == size): if not, it was changed after signing.
    """
    import pikepdf

    page_of = {}
    for n, page in enumerate(pdf.pages, start=1):
        for annot in page.obj.get("/Annots", None) or []:
            if isinstance(annot, pikepdf.Dictionary) and annot.is_indirect:
                page_of[annot.objgen] = n

    def fields(items, depth=0):
        for item in items or []:
            if not isinstance(item, pikepdf.Dictionary) or depth > 20:
                continue
            yield item
            yield from fields(item.get("/Kids", None), depth + 1)

    acro = pdf.Root.get("/AcroForm", None)
    if not isinstance(acro, pikepdf.Dictionary):
        return None, ""
    notes = []
    for field in fields(acro.get("/Fields", None)):
        ft = field.get("/FT", None)
        parent = field.get("/Parent", None)
        if ft is None and isinstance(parent, pikepdf.Dictionary):
            ft = parent.get("/FT", None)
        value = field.get("/V", None)
        if ft != pikepdf.Name.Sig or not isinstance(value, pikepdf.Dictionary):
            continue
        byte_range = value.get("/ByteRange", None)
        if value.get("/Type", pikepdf.Name.Sig) != pikepdf.Name.Sig or "/Contents" not in value:
            continue
        if not isinstance(byte_range, pikepdf.Array) or len(byte_range) != 4:
            continue
        named = _pdf_string(value.get("/Name", ""))
        signer = named or _pdf_string(field.get("/T", ""))
        if signer_is_person(named) or (not named and not _shown(field)):
            notes.append(f"PDF 含数字签名（签署人 {named or '未知'}），{'签署人是个人' if named else '不显示在页面上、签署人不明'}，不作为电子公章")
            continue
        when = pdf_date_text(_pdf_string(value.get("/M", "")))
        page = page_of.get(field.objgen) if field.is_indirect else None
        # A field name (Signature1) is the form's, not a signer: say the signer is not named.
        shown_signer = named or ("" if re.fullmatch(r"(?i)sig(nature)?[\s_-]*\d*", signer or "") else signer)
        detail = f"电子签章：签署人 {shown_signer or '未写明'}，时间 {when or '未知'}"
        if size is not None:
            try:
                start, _, second, length = (int(x) for x in byte_range)
                whole = start == 0 and second + length == size
            except (TypeError, ValueError):
                whole = False
            detail += "，签名覆盖整个文件" if whole else "，签名未覆盖整个文件（签名后文件被修改过）"
        return SealEvidence("electronic", page=page, confidence=0.9, detail=detail), ""
    return None, "；".join(notes[:3])


FORM_PAGES = 12  # the form's own length and a little more: searched right after the likely pages


def _page_order(n: int, first: int | None = None) -> list[int]:
    """Page indexes to search: `first` (1-based: where the text says 八 is) and its
    neighbours, then the last page (section 八), the cover, the rest of the first
    FORM_PAGES pages, then backwards from the end. Capped at MAX_PAGES: a form
    merged in front of a long appendix has its seal among its own first pages,
    which the cap must not leave to the appendix."""
    lead = [first - 1, first, first - 2] if first is not None and 1 <= first <= n else []
    head = list(range(1, min(FORM_PAGES, n - 1)))
    order = lead + [n - 1] + ([0] if n > 1 else []) + head + list(range(n - 2, 0, -1))
    return list(dict.fromkeys(i for i in order if 0 <= i < n))[:MAX_PAGES]


A4_MM = (210.0, 297.0)
ISO_TOLERANCE = 0.03  # long / short side within 3% of sqrt(2)


def _proportioned(w: float, h: float, ratio: float) -> bool:
    """Whether the long side is `ratio` x the short side (within ISO_TOLERANCE), either way up."""
    short, long = sorted((abs(w), abs(h)))
    return short > 0 and abs(long / short / ratio - 1) <= ISO_TOLERANCE


def a_series(w: float, h: float) -> bool:
    """Whether a page has the ISO A proportions (long side = sqrt(2) x short side), either way up."""
    return _proportioned(w, h, math.sqrt(2))


LETTER_MM = (215.9, 279.4)  # US Letter: the default paper of many scanners and drivers


# Pages wider than A3's short side in both directions are no paper a form is printed on:
# a photo or scan whose PDF writer took its pixels for points (72 or 96 dpi).
MAX_PAPER_SHORT_MM = 310.0
PHOTO_SHORT_MM = 230.0  # such a picture shows an A4 sheet (210 mm) with a little desk or scanner bed around it


PAPER_PROPORTIONS = ((math.sqrt(2), A4_MM), (LETTER_MM[1] / LETTER_MM[0], LETTER_MM))


def camera(w: float, h: float) -> bool:
    """Whether a page has a phone camera's 4:3 proportions: a photo of a sheet, whose size in
    points is the app's guess (96 or 150 dpi), says nothing about the paper. Tighter than the
    ISO tolerance: US Letter (1.294) is 3% from 4:3 and must keep its note."""
    short, long = sorted((abs(w), abs(h)))
    return short > 0 and abs(long / short / (4 / 3) - 1) <= 0.012


# A scanned A4 sheet is seldom A4 to the millimetre. Scan apps (CamScanner, 夸克, WPS 扫描) cut each
# page at the sheet edge they detect, often some mm inside it (189 x 281 mm seen), or leave a thin
# strip of desk; a flatbed scanning its whole glass gives 216 x 297 mm (the usual A4/Letter glass),
# with the lid's dark border beside the sheet. So a scanned page counts as an A4 sheet when no side
# is over A4 by more than 10 mm (the glass's 6 mm and some slack), nor under 85% of A4 (31 mm off
# the width, 45 mm off the length: more than a crop into the sheet's margins takes; A5 is far
# below). Other paper sizes in reach (B5, the 16K settings 184 x 260 and 195 x 270) have A-series
# proportions, which never got the note on a scan. US Letter is inside that box, but a page of
# exactly that size is a scanner's paper setting, which cut off the A4 sheet's foot: that note stays.
SCAN_A4_OVER_MM = 10.0
SCAN_A4_MIN_SHARE = 0.85
SCAN_SETTING_MM = 2.0  # how near a standard paper size a page is that size


def scanned_a4(w: float, h: float) -> bool:
    """Whether a scanned w x h pt page is an A4 sheet as scan apps crop and flatbeds pad it."""
    short, long = sorted(abs(v) * 25.4 / 72 for v in (w, h))
    if abs(short - LETTER_MM[0]) <= SCAN_SETTING_MM and abs(long - LETTER_MM[1]) <= SCAN_SETTING_MM:
        return False
    return all(SCAN_A4_MIN_SHARE * a4 <= side <= a4 + SCAN_A4_OVER_MM for side, a4 in zip((short, long), A4_MM))


def unmeasured(w: float, h: float) -> bool:
    """Whether nothing tells a w x h pt page's paper: too big to be paper (see
    MAX_PAPER_SHORT_MM) and not in A-series or Letter proportions."""
    return min(abs(w), abs(h)) * 25.4 / 72 > MAX_PAPER_SHORT_MM and not any(
        _proportioned(w, h, ratio) for ratio, _ in PAPER_PROPORTIONS)


def paper_mm(w: float, h: float) -> tuple[float, float]:
    """The paper's size in mm for a page of w x h points.

    A scan's size in points is only its pixels over the DPI its PDF writer
    assumed (often 72, or none), so A-series proportions are taken as A4,
    the paper the notice requires, and Letter proportions as Letter (a
    scanner left at its default: the seal must still measure ~40 mm). A page
    too big for paper (a phone photo at 72 dpi) is taken as showing about an
    A4 sheet across its short side; other pages are measured in points.
    """
    for ratio, paper in PAPER_PROPORTIONS:
        if _proportioned(w, h, ratio):
            return paper if w <= h else paper[::-1]
    if unmeasured(w, h):
        mm = PHOTO_SHORT_MM / min(abs(w), abs(h))
        return abs(w) * mm, abs(h) * mm
    return w * 25.4 / 72, h * 25.4 / 72


def render_scale(w: float, h: float, dpi: float, max_pixels: float = MAX_PIXELS) -> tuple[float, float]:
    """(pixels per point, pixels per mm) to render a w x h pt page at `dpi` of its paper.

    The paper comes from `paper_mm`, so a scan renders at `dpi` whatever
    resolution its PDF writer assumed; huge pages render smaller.
    """
    if w <= 0 or h <= 0:
        return dpi / 72, dpi / 25.4
    w_mm = paper_mm(w, h)[0]
    scale = dpi / 25.4 * w_mm / w
    if w * h * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / max(w * h, 1))
    return scale, scale * w / w_mm


def _render(page, dpi: int) -> tuple[np.ndarray, float]:
    w, h = page.get_size()  # as displayed: /Rotate applied
    scale, px_per_mm = render_scale(w, h, dpi)
    bitmap = page.render(scale=scale, may_draw_forms=True)
    arr = bitmap.to_numpy()
    if arr.ndim == 3 and arr.shape[2] >= 3:
        # pypdfium2 renders BGR(x) by default.
        arr = arr[..., [2, 1, 0]] if bitmap.mode in ("BGR", "BGRA", "BGRX") else arr[..., :3]
    else:
        arr = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2)
    return arr, px_per_mm


def _mostly_pale(red: np.ndarray, pale: np.ndarray, px_per_mm: float) -> bool:
    """Whether a page's red ink is mostly faint, enough for a ring: a faded seal.

    The faint fringe of bold red ink (a red annotation, a square stamp) is
    not worth a second search, which would double the cost of such a page.
    """
    added = int(pale.sum()) - int(red.sum())
    return added >= 2 * math.pi * R_MIN_MM * 0.6 * px_per_mm**2 and added >= int(red.sum())


COLOUR_CHROMA = 24  # max - min channel: grey renders stay at 0, JPEG ringing of grey pictures at a few units
COLOUR_SHARE = 0.0002  # coloured share of a page (sampled) that shows it is no black-and-white scan


def _colourless(rgb: np.ndarray) -> bool:
    """Whether a rendered page shows no colour anywhere (sampled every 4th pixel):
    a 1-bit, CCITT or greyscale scan, in which a red seal cannot show."""
    sample = rgb[::4, ::4].astype(np.int16)
    chroma = sample.max(axis=2) - sample.min(axis=2)
    return int((chroma >= COLOUR_CHROMA).sum()) <= COLOUR_SHARE * chroma.size


def _evidence(kind: str, page: int, ring: Ring | Oval, px_per_mm: float) -> SealEvidence:
    if isinstance(ring, Oval):
        x, y, a, b = (v / px_per_mm for v in (ring.cx, ring.cy, ring.a, ring.b))
        detail = f"椭圆形印章，位置 x={x:.0f}mm y={y:.0f}mm（距页面左上角），长轴 {2 * a:.0f}mm，短轴 {2 * b:.0f}mm，圆环覆盖 {ring.coverage:.0%}"
        return SealEvidence(kind, page=page, confidence=ring.confidence, detail=detail)
    x, y, r = (v / px_per_mm for v in (ring.cx, ring.cy, ring.r))
    detail = f"位置 x={x:.0f}mm y={y:.0f}mm（距页面左上角），半径 {r:.1f}mm，圆环覆盖 {ring.coverage:.0%}"
    return SealEvidence(kind, page=page, confidence=ring.confidence, detail=detail)


def find_seal(
    source, *, pike=None, dpi: int = DPI, size: int | None = None, first: int | None = None,
    scans: frozenset[int] | set[int] | None = None, appendix: Callable[[int], str | None] | None = None,
) -> SealEvidence:
    """Best seal evidence in a PDF (bytes or a pypdfium2 PdfDocument).

    `pike` is an open pikepdf.Pdf of the same file for the signature check;
    without it the bytes are opened with pikepdf when given. `size` (the
    file's length) lets an electronic seal say whether it covers the file.
    `first` is the page (1-based) to search first: where the text layer puts 八.
    `scans` are the pages (1-based) that are page images: when every page
    searched is one and shows no colour at all (a black-and-white or greyscale
    scan) and no ring is found, the verdict is "grey" without a page: such a
    file cannot show a red seal, so asking to stamp it would be wrong.
    `appendix(page)` is asked about each page (1-based) where a ring is found:
    a reason (Chinese, for staff) means the page is an appendix (a certificate
    carries its issuer's seal), so the ring is not the unit's and the search
    goes on; if no other ring turns up, the verdict is "none" naming that page.
    """
    import pypdfium2 as pdfium

    owned = None
    if isinstance(source, (bytes, bytearray)):
        size = len(source) if size is None else size
        if pike is None:
            import pikepdf

            try:
                pike = pikepdf.open(io.BytesIO(bytes(source)))
            except Exception:  # noqa: BLE001 - the render test may still work
                pike = None
        owned = doc = pdfium.PdfDocument(bytes(source))
        doc.init_forms()
    else:
        doc = source
        if getattr(doc, "formenv", None) is None:
            try:
                doc.init_forms()
            except Exception:  # noqa: BLE001 - pages already loaded: render without forms
                pass
    try:
        signature_note = ""
        if pike is not None:
            e, signature_note = electronic_seal(pike, size)
            if e is not None:
                return e
        best_grey: SealEvidence | None = None
        set_aside: tuple[SealEvidence, str] | None = None  # the first red ring on an appendix, and why
        order = _page_order(len(doc), first)
        colourless = scans is not None
        for index in order:
            page = doc[index]
            try:
                rgb, px_per_mm = _render(page, dpi)
            finally:
                page.close()
            colourless = colourless and index + 1 in scans and _colourless(rgb)
            rgb = white_balance(rgb, paper_colour(rgb))
            levels = paper_levels(rgb)
            lit = even_light(rgb, levels)
            red = red_mask(lit)
            found = find_rings(red, px_per_mm, first=True) or find_ovals(red, px_per_mm)
            if not found:
                pale = red_mask(lit, pale=True)
                if _mostly_pale(red, pale, px_per_mm):
                    found = find_rings(pale, px_per_mm, first=True) or find_ovals(pale, px_per_mm)
            if found:
                why = appendix(index + 1) if appendix is not None else None
                if why is None:
                    return _evidence("red", index + 1, found[0], px_per_mm)
                set_aside = set_aside or (_evidence("red", index + 1, found[0], px_per_mm), why)
                continue  # an appendix page: a grey ring there is no copy of the unit's seal either
            if best_grey is None:
                grey = find_rings(grey_mask(rgb, levels), px_per_mm, grey=True, first=True)
                if grey and (appendix is None or appendix(index + 1) is None):
                    best_grey = _evidence("grey", index + 1, grey[0], px_per_mm)
        searched = f"检查了 {len(order)} 页" + (f"（共 {len(doc)} 页，其余未检查）" if len(order) < len(doc) else "")
        note = f"；{signature_note}" if signature_note else ""
        if set_aside is not None:
            ring, why = set_aside
            note = f"；第 {ring.page} 页的红色印章{why}，不算申报单位公章（{ring.detail}）{note}"
        if best_grey is not None:
            return replace(best_grey, detail=best_grey.detail + note) if note else best_grey
        if colourless and order:
            return SealEvidence("grey", detail=f"黑白或灰度扫描件（{searched}，页面上没有任何彩色），看不出红色印章{note}")
        if set_aside is not None:
            return SealEvidence("none", detail=f"{searched}，申报书上未发现红色公章{note}", appendix_page=set_aside[0].page)
        return SealEvidence("none", detail=f"{searched}，未发现圆形红色印章{note}")
    finally:
        if owned is not None:
            owned.close()
