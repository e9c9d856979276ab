"""Committed generator of stamped-PDF test files from an `Application`.

Renders the filled form as a plain A4 text layout (reportlab's built-in CID
font, so no font file is needed) and puts a seal of the requested kind on the
last page, optionally as a noisy scan without a text layer. The seal reader's
tests and the demo mails are built from here, so anyone can rebuild them.
"""
from __future__ import annotations

import io
import math
import random

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from ..models import PILOT_TYPES, Application

FONT = "STSong-Light"
SEAL_KINDS = ("red", "image", "grey", "none", "decoy", "oval", "decoy_circle", "decoy_logo")
RED = (0.86, 0.11, 0.12)
GREY = (0.42, 0.42, 0.42)
_W, _H = A4
_LEFT, _RIGHT, _TOP, _BOTTOM = 25 * mm, _W - 25 * mm, _H - 25 * mm, 25 * mm


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break text into lines that fit `width` (CJK text may break anywhere)."""
    lines: list[str] = []
    for para in (text or "").splitlines() or [""]:
        line = ""
        for ch in para:
            if pdfmetrics.stringWidth(line + ch, FONT, size) > width:
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
    return lines


class _Writer:
    """A y cursor over reportlab pages: headings, wrapped text, ruled rows."""

    def __init__(self, c: canvas.Canvas):
        self.c = c
        self.y = _TOP

    def page(self) -> None:
        self.c.showPage()
        self.y = _TOP

    def need(self, height: float) -> None:
        if self.y - height < _BOTTOM:
            self.page()

    def text(self, text: str, size: float = 10.5, indent: float = 0, leading: float = 1.6) -> None:
        for line in _wrap(text, size, _RIGHT - _LEFT - indent):
            self.need(size * leading)
            self.c.setFont(FONT, size)
            self.c.drawString(_LEFT + indent, self.y - size, line)
            self.y -= size * leading

    def heading(self, text: str) -> None:
        self.need(30)
        self.y -= 6
        self.text(text, size=13, leading=1.8)

    def row(self, cells: list[tuple[str, float]], size: float = 9.5) -> None:
        """One ruled table row; each cell is (text, width fraction)."""
        width = _RIGHT - _LEFT
        wrapped = [_wrap(t, size, f * width - 4) for t, f in cells]
        height = max(len(w) for w in wrapped) * size * 1.4 + 6
        self.need(height)
        c, x = self.c, _LEFT
        c.setLineWidth(0.6)
        c.setStrokeColorRGB(0, 0, 0)
        for (_, frac), lines in zip(cells, wrapped):
            c.rect(x, self.y - height, frac * width, height)
            c.setFont(FONT, size)
            for i, line in enumerate(lines):
                c.drawString(x + 2, self.y - 3 - size * (i + 1) * 1.4 + size * 0.3, line)
            x += frac * width
        self.y -= height


def _glyph(c: canvas.Canvas, x: float, y: float, size: float, ch: str) -> None:
    """Strokes standing in for one character centred at (x, y).

    reportlab's CID font is not embedded and PDFium draws nothing for it
    without a system CJK font, so seal and decoy text is drawn as ink.
    """
    rng = random.Random(ord(ch[0]) if ch else 0)
    h = size / 2
    c.setLineWidth(size * 0.1)
    for _ in range(rng.randint(3, 5)):
        kind = rng.random()
        a, b = rng.uniform(-h, h) * 0.8, rng.uniform(-h, h) * 0.8
        if kind < 0.45:
            c.line(x - h * 0.85, y + a, x + h * 0.85, y + a)
        elif kind < 0.85:
            c.line(x + a, y - h * 0.85, x + a, y + h * 0.85)
        else:
            c.line(x - h * 0.7, y + h * 0.7, x + b * 0.5, y - h * 0.7)


def _star(c: canvas.Canvas, cx: float, cy: float, r: float, turn: float) -> None:
    path = c.beginPath()
    for i in range(10):
        rad = r if i % 2 == 0 else r * 0.382
        a = math.radians(90 + turn + i * 36)
        x, y = cx + rad * math.cos(a), cy + rad * math.sin(a)
        path.moveTo(x, y) if i == 0 else path.lineTo(x, y)
    path.close()
    c.drawPath(path, stroke=0, fill=1)


def draw_seal(
    c: canvas.Canvas,
    cx: float,
    cy: float,
    unit: str,
    *,
    radius: float = 20 * mm,
    color: tuple[float, float, float] = RED,
    rng: random.Random | None = None,
) -> None:
    """A round 公章: ring, five-point star and the unit name along the arc."""
    rng = rng or random.Random(0)
    c.saveState()
    c.setStrokeColorRGB(*color)
    c.setFillColorRGB(*color)
    ring = radius * 0.06
    c.setLineWidth(ring)
    gaps = rng.randint(0, 3)
    if gaps == 0:
        c.circle(cx, cy, radius - ring / 2, stroke=1, fill=0)
    else:
        # Uneven ink leaves short gaps in a real stamp's ring.
        start = rng.uniform(0, 360)
        cuts = sorted(rng.uniform(0, 360) for _ in range(gaps))
        edges = [(cuts[i] + rng.uniform(2, 7), cuts[(i + 1) % gaps] + (360 if i + 1 == gaps else 0)) for i in range(gaps)]
        r0 = radius - ring / 2
        for a0, a1 in edges:
            if a1 > a0:
                p = c.beginPath()
                p.arc(cx - r0, cy - r0, cx + r0, cy + r0, startAng=start + a0, extent=a1 - a0)
                c.drawPath(p, stroke=1, fill=0)
    _star(c, cx, cy, radius * 0.3, rng.uniform(-4, 4))
    name = unit or "申报单位"
    span = min(250.0, 70 + 16 * len(name))
    text_r = radius * 0.73
    size = min(radius * 0.22, math.radians(span) * text_r / max(len(name), 1) * 0.95)
    step = span / max(len(name) - 1, 1)
    for i, ch in enumerate(name):
        a = 90 + span / 2 - i * step if len(name) > 1 else 90
        x = cx + text_r * math.cos(math.radians(a))
        y = cy + text_r * math.sin(math.radians(a))
        c.saveState()
        c.translate(x, y)
        c.rotate(a - 90)
        _glyph(c, 0, 0, size, ch)
        c.restoreState()
    c.restoreState()


def seal_png(unit: str, *, radius: float = 20 * mm, color=RED, seed: int = 0, dpi: int = 300) -> bytes:
    """The vector seal as an RGBA PNG whose paper is transparent."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    side = 2 * radius + 2 * mm
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(side, side))
    draw_seal(c, side / 2, side / 2, unit, radius=radius, color=color, rng=random.Random(seed))
    c.save()
    doc = pdfium.PdfDocument(buf.getvalue())
    try:
        img = doc[0].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    arr = np.asarray(img).astype(np.float32)
    alpha = np.clip((255 - arr.min(axis=2)) / (255 - 255 * min(color)) * 255, 0, 255)
    rgba = np.zeros(arr.shape[:2] + (4,), np.uint8)
    rgba[..., :3] = [round(v * 255) for v in color]
    rgba[..., 3] = alpha.astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG")
    return out.getvalue()


def _decoy(c: canvas.Canvas, x: float, y: float) -> None:
    """Red ink that is not a round seal: text, lines and a square stamp."""
    c.saveState()
    c.setFillColorRGB(*RED)
    c.setStrokeColorRGB(*RED)
    for i, ch in enumerate("同意申报红色批注"):
        _glyph(c, _LEFT + 3 * mm + i * 5 * mm, y + 31 * mm, 4.2 * mm, ch)
    c.setLineWidth(1.2)
    c.line(_LEFT, y + 27 * mm, _LEFT + 80 * mm, y + 27 * mm)
    c.line(_LEFT, y + 25 * mm, _LEFT + 60 * mm, y + 22 * mm)
    side = 32 * mm
    c.setLineWidth(2.2)
    c.rect(x - side / 2, y - side / 2, side, side)
    for i, ch in enumerate("已审核"):
        _glyph(c, x + (i - 1) * 7 * mm, y + 5 * mm, 6 * mm, ch)
    for i, ch in enumerate("专用"):
        _glyph(c, x + (i - 0.5) * 7 * mm, y - 6 * mm, 6 * mm, ch)
    c.restoreState()


def draw_oval_seal(
    c: canvas.Canvas,
    cx: float,
    cy: float,
    unit: str,
    *,
    width: float = 45 * mm,
    height: float = 30 * mm,
    color: tuple[float, float, float] = RED,
    rng: random.Random | None = None,
    star: bool | None = None,
    label: str = "财务专用章",
    turn: float | None = None,
) -> None:
    """An oval 椭圆形章 (e.g. 45 x 30 mm): elliptical ring, the unit name
    along the upper ellipse, a star or nothing in the middle and a label row."""
    rng = rng or random.Random(0)
    star = rng.random() < 0.5 if star is None else star
    turn = rng.uniform(-6, 6) if turn is None else turn
    a, b = width / 2, height / 2
    c.saveState()
    c.translate(cx, cy)
    c.rotate(turn)
    c.setStrokeColorRGB(*color)
    c.setFillColorRGB(*color)
    ring = min(a, b) * 0.07
    c.setLineWidth(ring)
    a0, b0 = a - ring / 2, b - ring / 2
    gaps = rng.randint(0, 3)
    if gaps == 0:
        c.ellipse(-a0, -b0, a0, b0, stroke=1, fill=0)
    else:
        # Uneven ink leaves short gaps in the ring, as on the round seal.
        start = rng.uniform(0, 360)
        cuts = sorted(rng.uniform(0, 360) for _ in range(gaps))
        edges = [(cuts[i] + rng.uniform(2, 7), cuts[(i + 1) % gaps] + (360 if i + 1 == gaps else 0)) for i in range(gaps)]
        for e0, e1 in edges:
            if e1 > e0:
                p = c.beginPath()
                p.arc(-a0, -b0, a0, b0, startAng=start + e0, extent=e1 - e0)
                c.drawPath(p, stroke=1, fill=0)
    if star:
        _star(c, 0, 0.08 * b, b * 0.28, rng.uniform(-4, 4))
    name = unit or "申报单位"
    span = min(200.0, 60 + 14 * len(name))
    ta, tb = a * 0.78, b * 0.70
    size = min(b * 0.24, math.radians(span) * (ta + tb) / 2 / max(len(name), 1) * 0.9)
    step = span / max(len(name) - 1, 1)
    for i, ch in enumerate(name):
        t = math.radians(90 + span / 2 - i * step if len(name) > 1 else 90)
        x, y = ta * math.cos(t), tb * math.sin(t)
        normal = math.degrees(math.atan2(ta * math.sin(t), tb * math.cos(t)))  # outward normal
        c.saveState()
        c.translate(x, y)
        c.rotate(normal - 90)
        _glyph(c, 0, 0, size, ch)
        c.restoreState()
    row = b * 0.2
    for i, ch in enumerate(label):
        _glyph(c, (i - (len(label) - 1) / 2) * row * 1.1, -b * 0.5, row, ch)
    c.restoreState()


def _decoy_circle(c: canvas.Canvas, x: float, y: float, rng: random.Random) -> None:
    """A red ring drawn round a paragraph of black text: an annotation, not a seal."""
    c.saveState()
    c.setFillColorRGB(0.05, 0.05, 0.08)
    c.setStrokeColorRGB(0.05, 0.05, 0.08)
    lines = ("本单位承诺所填内容真实有效", "如有不实愿承担相应责任", "请审核部门重点核对")
    for j, text in enumerate(lines):
        for i, ch in enumerate(text):
            _glyph(c, x - (len(text) - 1) * 2.2 * mm + i * 4.4 * mm, y + (1 - j) * 7 * mm, 3.8 * mm, ch)
    c.setStrokeColorRGB(*RED)
    c.setLineWidth(rng.uniform(1.0, 2.2))
    rx = rng.uniform(20, 36) * mm
    ry = rx / rng.uniform(1.0, 1.6)
    ry = max(ry, 16 * mm)
    c.translate(x, y)
    c.rotate(rng.uniform(-8, 8))
    c.ellipse(-rx, -ry, rx, ry, stroke=1, fill=0)
    c.restoreState()


def _decoy_logo(c: canvas.Canvas, rng: random.Random) -> None:
    """A red letterhead: a small filled round logo, the unit name in red and a red rule."""
    c.saveState()
    c.setFillColorRGB(*RED)
    c.setStrokeColorRGB(*RED)
    r = rng.uniform(5, 7.5) * mm
    lx, ly = _LEFT + r + 2 * mm, _H - 12 * mm - r
    c.circle(lx, ly, r, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    _star(c, lx, ly + r * 0.05, r * 0.55, rng.uniform(-4, 4))
    c.setStrokeColorRGB(1, 1, 1)
    c.setLineWidth(r * 0.06)
    c.circle(lx, ly, r * 0.82, stroke=1, fill=0)
    c.setFillColorRGB(*RED)
    c.setStrokeColorRGB(*RED)
    for i, ch in enumerate("新乡市科学技术协会文件"):
        _glyph(c, lx + r + 8 * mm + i * 9 * mm, ly, 7.5 * mm, ch)
    c.setLineWidth(1.8)
    c.line(_LEFT, ly - r - 3 * mm, _RIGHT, ly - r - 3 * mm)
    # A second, footer-sized logo near the seal's place.
    r2 = rng.uniform(5, 6.5) * mm
    c.circle(_RIGHT - 20 * mm, _BOTTOM + 8 * mm, r2, stroke=0, fill=1)
    c.restoreState()


def _section_pages(w: _Writer, app: Application) -> None:
    w.heading("一、申报单位基本情况")
    w.row([("单位名称", 0.2), (app.unit_name, 0.8)])
    w.row([("试点负责人", 0.2), (app.leader.name, 0.3), ("职称/职务", 0.2), (app.leader.title, 0.3)])
    w.row([("电子邮箱", 0.2), (app.leader.email, 0.3), ("联系电话", 0.2), (app.leader.phone, 0.3)])
    w.row([("试点联系人", 0.2), (app.contact.name, 0.3), ("职称/职务", 0.2), (app.contact.title, 0.3)])
    w.row([("电子邮箱", 0.2), (app.contact.email, 0.3), ("手机号码", 0.2), (app.contact.phone, 0.3)])
    w.row([("单位地址", 0.2), (app.address, 0.8)])
    w.heading("二、主要参加人员")
    cols = (0.08, 0.12, 0.08, 0.14, 0.2, 0.23, 0.15)
    w.row(list(zip(("序号", "姓名", "性别", "职务/职称", "工作单位", "承担的主要工作", "联系方式"), cols)))
    for p in app.participants:
        w.row(list(zip((p.seq, p.name, p.gender, p.title, p.employer, p.role, p.phone), cols)))
    for title, sec in (("三、工作基础", app.work_basis), ("四、试点建设方案", app.plan), ("五、考核指标", app.indicators)):
        w.heading(title)
        w.text(sec.text, indent=0)
    w.heading("六、计划进度及阶段目标")
    w.row([("实施阶段", 0.2), ("目标内容", 0.55), ("时间跨度", 0.25)])
    for s in app.schedule:
        w.row([(s.name, 0.2), (s.goal, 0.55), (s.period, 0.25)])
    w.heading("七、经费支出预算表（单位：人民币元）")
    w.text("注：经费支出合计不超过 4000 元。", size=9.5)
    cols = (0.1, 0.35, 0.15, 0.4)
    w.row(list(zip(("序号", "支出事项", "金额", "测算依据/标准"), cols)))
    for b in app.budget_items:
        w.row(list(zip((b.seq, b.item, b.amount_text, b.basis), cols)))
    w.row([("", 0.1), ("合计：", 0.35), (app.budget_total_text, 0.15), ("（单位：人民币元）", 0.4)])
    w.row([("乙方账户信息", 0.25), (f"开户名：{app.account_name}\n开户银行：{app.account_bank}\n账号：{app.account_number}", 0.75)])


def _vector_pdf(app: Application, seal: str, seed: int, unit_override: str | None) -> bytes:
    rng = random.Random(seed)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle("新乡市科技志愿服务试点建设申报书")
    _font()
    w = _Writer(c)
    # Cover.
    c.setFont(FONT, 22)
    c.drawCentredString(_W / 2, _H - 70 * mm, "新乡市科技志愿服务试点建设")
    c.drawCentredString(_W / 2, _H - 85 * mm, "申 报 书")
    y = _H - 120 * mm
    c.setFont(FONT, 13)
    c.drawString(45 * mm, y, "试点类型：")
    for i, t in enumerate(PILOT_TYPES):
        c.drawString(75 * mm, y - i * 9 * mm, ("■ " if t in app.pilot_types else "□ ") + t)
    y -= 50 * mm
    for label, value in (("申报单位", app.cover_unit), ("主要负责人", app.cover_leader), ("联系方式", app.cover_contact), ("申报时间", app.cover_date)):
        c.drawString(45 * mm, y, f"{label}：{value}")
        c.line(75 * mm, y - 2, 165 * mm, y - 2)
        y -= 12 * mm
    c.drawCentredString(_W / 2, 40 * mm, "新乡市科学技术协会")
    w.page()
    w.heading("填 报 说 明")
    w.text("1. 申报书填写内容须实事求是，表述应明确、严谨。相应栏目请填写完整。格式不符的不予受理。")
    w.text("2. 申报书以 Word 文档格式填写；表格空间不足的，可以扩展或另加附页。")
    w.text("3. 申报书填好后，用 A4 纸双面打印，左侧装订，并加盖单位公章，按照申报通知要求报送。")
    w.page()
    _section_pages(w, app)
    # 八 always starts a page, so the seal is on the last page.
    w.page()
    w.heading("八、申报单位意见")
    w.text("申报单位意见：" + ("同意申报。" if app.opinion_filled else ""))
    w.y -= 30 * mm
    w.text("法定代表人（签字）：", indent=10 * mm)
    w.y -= 12 * mm
    label_y = w.y
    w.text("（公章）", indent=110 * mm)
    w.y -= 6 * mm
    w.text(app.opinion_date or "年    月    日", indent=105 * mm)
    # Handwriting the seal is stamped over: a signature and the date.
    c.setStrokeColorRGB(0.08, 0.08, 0.12)
    c.setLineWidth(1.1)
    sx, sy = _LEFT + 55 * mm, label_y + 14 * mm
    c.bezier(sx, sy, sx + 12 * mm, sy + 10 * mm, sx + 18 * mm, sy - 8 * mm, sx + 30 * mm, sy + 3 * mm)
    c.bezier(sx + 8 * mm, sy - 2 * mm, sx + 14 * mm, sy + 6 * mm, sx + 22 * mm, sy - 5 * mm, sx + 36 * mm, sy)
    for i, ch in enumerate("二〇二五年六月二十日"):
        _glyph(c, _LEFT + 100 * mm + i * 4.6 * mm, label_y - 16 * mm, 4 * mm, ch)
    cx = _LEFT + 122 * mm + rng.uniform(-6, 6) * mm
    cy = label_y - 6 * mm + rng.uniform(-5, 5) * mm
    unit = unit_override if unit_override is not None else app.unit
    radius = rng.uniform(19, 21) * mm
    if seal == "red":
        color = RED if seed == 0 else (rng.uniform(0.75, 0.95), rng.uniform(0.05, 0.22), rng.uniform(0.08, 0.25))
        draw_seal(c, cx, cy, unit, radius=radius, color=color, rng=rng)
    elif seal == "grey":
        draw_seal(c, cx, cy, unit, radius=radius, color=GREY, rng=rng)
    elif seal == "image":
        from reportlab.lib.utils import ImageReader

        png = seal_png(unit, radius=radius, seed=seed)
        side = 2 * radius + 2 * mm
        c.drawImage(ImageReader(io.BytesIO(png)), cx - side / 2, cy - side / 2, side, side, mask="auto")
    elif seal == "decoy":
        _decoy(c, cx, cy)
    elif seal == "oval":
        width = rng.uniform(40, 50) * mm
        height = width / rng.uniform(1.35, 1.6)
        color = RED if seed == 0 else (rng.uniform(0.75, 0.95), rng.uniform(0.05, 0.22), rng.uniform(0.08, 0.25))
        draw_oval_seal(c, cx, cy, unit, width=width, height=height, color=color, rng=rng)
    elif seal == "decoy_circle":
        _decoy_circle(c, cx - 25 * mm, cy + 8 * mm, rng)
    elif seal == "decoy_logo":
        _decoy_logo(c, rng)
    elif seal != "none":
        raise ValueError(f"unknown seal kind {seal!r}; expected one of {SEAL_KINDS}")
    c.showPage()
    c.save()
    return buf.getvalue()


def _scan_images(data: bytes, seed: int, dpi: int) -> list:
    """Every page as a cheap office scanner sees it: pale, noisy, turned, JPEG."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    doc = pdfium.PdfDocument(data)
    pages = []
    try:
        for page in doc:
            img = page.render(scale=dpi / 72).to_pil().convert("RGB")
            arr = np.asarray(img).astype(np.float32)
            arr = 255 - (255 - arr) * rng.uniform(0.72, 0.95)  # paler ink
            if rng.random() < 0.5:  # yellowed paper
                arr *= np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.86, 0.97)], np.float32)
            arr += nrng.normal(0, rng.uniform(2, 7), arr.shape[:2])[..., None]
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            paper = tuple(int(v) for v in np.median(np.asarray(img).reshape(-1, 3)[::97], axis=0))
            img = img.rotate(rng.uniform(-2.0, 2.0), resample=Image.BILINEAR, fillcolor=paper)
            if rng.random() < 0.5:
                img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
            jpeg = io.BytesIO()
            img.save(jpeg, "JPEG", quality=rng.randint(40, 80))
            pages.append(Image.open(io.BytesIO(jpeg.getvalue())))
    finally:
        doc.close()
    return pages


def scan_pdf(data: bytes, *, seed: int = 0, dpi: int = 150, page_dpi: float | None = None) -> bytes:
    """Rasterise every page as a cheap office scanner would: no text layer.

    `page_dpi` is the resolution the PDF writer assumes (default `dpi`):
    72 is Pillow's default and what image-to-PDF apps without DPI use, so
    a 200 dpi scan becomes a page of 1654 x 2339 pt, not A4 in points.
    """
    pages = _scan_images(data, seed, dpi)
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=page_dpi or dpi)
    return out.getvalue()


def _page_texts(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in doc:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
        return texts
    finally:
        doc.close()


def searchable_scan_pdf(
    data: bytes, *, seed: int = 0, dpi: int = 150, misread: dict[str, str] | None = None, under: bool = False
) -> bytes:
    """A "searchable PDF" as office scanners and scan apps write it.

    Each A4 page is one scanned image with the page's text as an OCR layer:
    invisible text (render mode 3) over the image, or with `under=True`
    ordinary text hidden beneath it. `misread` replaces strings in that text
    as OCR misreads them (e.g. {"术": "木"}), which the image does not show.
    """
    from reportlab.lib.utils import ImageReader

    images = _scan_images(data, seed, dpi)
    texts = _page_texts(data)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    font = _font()

    def text_layer(text: str, mode: int) -> None:
        obj = c.beginText(_LEFT, _TOP)
        obj.setTextRenderMode(mode)
        obj.setFont(font, 10)
        for line in text.split("\n"):
            obj.textLine(line)
        c.drawText(obj)

    for image, text in zip(images, texts):
        for wrong, right in (misread or {}).items():
            text = text.replace(wrong, right)
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=75)
        if under:
            text_layer(text, 0)
        c.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, width=_W, height=_H)
        if not under:
            text_layer(text, 3)
        c.showPage()
    c.save()
    return buf.getvalue()


SCAN_APP_WATERMARK = "扫描全能王 创建"  # what copying text out of a CamScanner (free) PDF gives


def scan_app_pdf(
    data: bytes, *, watermark: str | None = SCAN_APP_WATERMARK, latin_layer: bool = False, seed: int = 0, dpi: int = 150
) -> bytes:
    """A phone scan app's PDF: each page one JPEG of the sheet, with the app's
    watermark line at the bottom as visible real text (CamScanner's free version),
    and with `latin_layer` an invisible OCR layer that could not read Chinese
    (Adobe Scan, Office Lens: Latin letters where the characters are)."""
    from reportlab.lib.utils import ImageReader

    images = _scan_images(data, seed, dpi)
    rng = random.Random(seed)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    font = _font()
    for image, text in zip(images, _page_texts(data)):
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=75)
        c.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, width=_W, height=_H)
        if latin_layer:
            obj = c.beginText(_LEFT, _TOP)
            obj.setTextRenderMode(3)
            obj.setFont("Helvetica", 10)
            for line in text.split("\n"):
                obj.textLine("".join(rng.choice("il1t;:'.,-_~^fjrJ|!") if not ch.isspace() else " " for ch in line))
            c.drawText(obj)
        if watermark:
            c.setFillColorRGB(0.55, 0.55, 0.55)
            c.setFont(font, 8)
            c.drawRightString(_W - 20, 14, watermark)
        c.showPage()
    c.save()
    return buf.getvalue()


def bilevel_scan_pdf(data: bytes, *, threshold: int = 100, seed: int = 0, dpi: int = 200) -> bytes:
    """An office copier's black-and-white scan (1 bit a pixel, CCITT G4 when Pillow has
    libtiff): the red seal turns into black specks, at a dark `threshold` mostly gone."""
    pages = [im.convert("L").point(lambda v: 255 if v > threshold else 0).convert("1")
             for im in _scan_images(data, seed, dpi)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return out.getvalue()


def unmapped_export_pdf(data: bytes, *, seal: bool = True) -> bytes:
    """An export whose fonts have no Unicode map (a print-to-PDF driver): the pages'
    lines are there as text, but copying them gives control characters. With `seal`,
    the last page carries the unit's seal as a picture."""
    import pikepdf
    from reportlab.lib.utils import ImageReader

    texts = _page_texts(data)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    for n in range(len(texts)):
        if seal and n == len(texts) - 1:
            png = seal_png("新乡市红旗区科学技术协会")
            c.drawImage(ImageReader(io.BytesIO(png)), _LEFT + 100 * mm, 60 * mm, 42 * mm, 42 * mm, mask="auto")
        c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    glyph = pdf.make_stream(b"500 0 0 0 450 700 d1 40 0 380 650 re f")
    codes = [c for c in range(1, 32) if c not in (2, 3, 9, 10, 13)]
    font = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type3, FontBBox=[0, 0, 500, 700],
        FontMatrix=[0.001, 0, 0, 0.001, 0, 0], CharProcs=pikepdf.Dictionary(g=glyph),
        Encoding=pikepdf.Dictionary(Type=pikepdf.Name.Encoding, Differences=[1] + [pikepdf.Name("/g")] * 31),
        FirstChar=1, LastChar=31, Widths=[500] * 31, Resources=pikepdf.Dictionary(),
    ))
    for page, text in zip(pdf.pages, texts):
        lines = []
        for k, line in enumerate(text.split("\n")[:60]):
            chars = [ch for ch in line if not ch.isspace()]
            if chars:
                run = bytes(codes[(k + i) % len(codes)] for i in range(len(chars)))
                lines.append(f"BT /T3 10 Tf {_LEFT:.1f} {_TOP - 12 * k:.1f} Td <{run.hex()}> Tj ET")
        resources = page.obj.get("/Resources") or pikepdf.Dictionary()
        resources.Font = pikepdf.Dictionary(T3=font)
        page.obj.Resources = resources
        page.contents_add(pdf.make_stream("\n".join(lines).encode("ascii")))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def build_form_pdf(
    app: Application,
    *,
    seal: str = "red",
    scan: bool = False,
    seed: int = 0,
    unit_override: str | None = None,
) -> bytes:
    """The filled, stamped form as a PDF.

    `seal` is one of SEAL_KINDS; `unit_override` names the unit on the seal
    when it differs from the form's (a borrowed seal); `seed` varies seal
    placement, colour and scan artefacts reproducibly.
    """
    data = _vector_pdf(app, seal, seed, unit_override)
    return scan_pdf(data, seed=seed) if scan else data


def build_signed_pdf(app: Application, *, signer: str = "新乡市红旗区科学技术协会", when: str = "D:20250620103000+08'00'", seal: str = "image") -> bytes:
    """A form carrying a PDF signature field with a signature value.

    The /Contents is a placeholder (not a valid CMS blob): the reader only
    needs the dictionary shape an electronic seal platform writes.
    """
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(build_form_pdf(app, seal=seal)))
    page = pdf.pages[-1]
    sig = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Sig,
            Filter=pikepdf.Name("/Adobe.PPKLite"),
            SubFilter=pikepdf.Name("/adbe.pkcs7.detached"),
            ByteRange=pikepdf.Array([0, 1000, 9000, 1000]),
            Contents=pikepdf.String(b"\x00" * 512),
            Name=pikepdf.String(signer),
            M=pikepdf.String(when),
            Reason=pikepdf.String("电子公章"),
        )
    )
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            FT=pikepdf.Name.Sig,
            T=pikepdf.String("Signature1"),
            V=sig,
            F=4,
            Rect=pikepdf.Array([330, 200, 450, 320]),
            P=page.obj,
        )
    )
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field]), SigFlags=3))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
