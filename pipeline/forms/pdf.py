"""Read the stamped PDF: pages, sizes, text layer and the seal.

PDFs come from strangers, and a hostile one can abort PDFium (SIGABRT, not
catchable) or inflate to gigabytes. So the parent only does cheap checks and
the parsing runs in a child process with address-space and CPU limits and a
wall timeout: a fork of a warm worker (`sandbox.Pool`, `python -m
pipeline.forms.pdf --serve`) during a run, or a fresh `python -m
pipeline.forms.pdf` for a single file. Whatever goes wrong there becomes a
`format_unreadable` finding, never an exception.
"""
from __future__ import annotations

import io
import json
import logging
import re
import os
import subprocess
import sys

from ..models import ERROR, WARNING, Finding, PdfFacts, SealEvidence

log = logging.getLogger(__name__)

LOCATION = "盖章 PDF 版"
MAX_BYTES = 50 * 1024 * 1024
MAX_PAGES = 300
MEM_LIMIT = 1536 * 1024 * 1024  # child address space
CPU_LIMIT = 30  # child CPU seconds
MAX_DECODED = 400 * 1024 * 1024  # page streams inflated in total, per file
MAX_IMAGE_PIXELS = 200_000_000
MAX_TEXT = 2_000_000
A4 = (595.28, 841.89)
A4_TOLERANCE = 5.0
SCAN_COVER = 0.85  # share of a page under images that makes it a page image (a scan)
MAX_PAGE_OBJECTS = 100_000  # page objects looked at for images and text, per file (~0.5 s)
TEXT_SAMPLE = 500  # text objects looked at on a page all under pictures
SCAN_VISIBLE_TEXT = 3  # visible text objects a scanned page's hidden OCR text may have with it (a typed date)
OCR_MAX_PIXELS = 16_000_000  # a page rendered for OCR

_MESSAGES = {
    "encrypted": "盖章 PDF 版设置了打开密码，无法读取。请取消密码后重新导出 PDF 发送。",
    "too_large": "盖章 PDF 版超过 50 MB，超出处理限制。请降低扫描分辨率（如 200 dpi）后重新发送。",
    "too_many_pages": f"盖章 PDF 版超过 {MAX_PAGES} 页，超出处理限制。请只发送申报书本身的盖章 PDF 版。",
    "not_pdf": "该文件不是有效的 PDF 文件（可能只是改了扩展名），请重新导出 PDF 后发送。",
    "too_big_streams": "盖章 PDF 版解压后的页面内容过大，超出处理限制。请用“另存为/导出 PDF”重新生成后发送。",
    "too_big_image": f"盖章 PDF 版中有像素过大的图片（超过 {MAX_IMAGE_PIXELS / 1e8:g} 亿像素），超出处理限制。请降低扫描分辨率（如 200 dpi）后重新生成 PDF 发送。",
    "portfolio": "收到的 PDF 是“PDF 包”（PDF Portfolio，文件夹式 PDF，里面装着其他文件），无法直接审核。"
    "请将盖章后扫描或导出的 PDF 文件本身作为附件发送。",
}
_GENERIC = "盖章 PDF 版无法打开（文件可能已损坏或未完整上传）。请重新扫描或导出为 PDF 后发送。"
# OCR text (a scanner's layer too) may put spaces between the characters.
OPINION_MARK = re.compile(r"申\s*报\s*单\s*位\s*意\s*见|[(（]\s*公\s*章\s*[)）]")
# 八's own heading. A bare （公章） is also every 承诺书's and 证明's signature line (申报单位（公章）：):
# it marks 八 only in a file where no page names the heading.
OPINION_HEADING = re.compile(r"申\s*报\s*单\s*位\s*意\s*见")
# What a certificate, an award or an official reply put with the form says; their red seal is the
# issuer's. The weak words also occur in a form's 工作基础 (获评…荣誉称号, 荣誉证书 3 项), so they count
# only on a page of few words, as a certificate is (whose red title OCR often misses). Matched on
# text without spaces (OCR puts some between characters).
APPENDIX_STRONG = re.compile(
    r"特发此证|特颁此证|以资鼓励|以资表彰|兹授予|兹聘请|兹证明|特此证明|证书编号|发证机关|特此批复|批复如下"
    # a licence or registration certificate, a recommendation, a statement, a notice of the unit's own
    r"|营业执照|统一社会信用代码|法人登记证书|登记机关|推荐函|特此推荐|特此说明|以上情况属实|特此通知"
    r"|承诺书|郑重承诺|特此承诺|愿承担相应|承诺单位"  # a pledge the unit stamped, not the form
)
APPENDIX_WEAK = re.compile(r"证书|荣誉称号|获奖|颁发|表彰|[〔\[［(（]\d{4}[〕\]］)）]\d+号")  # …, an official document's number
APPENDIX_SHORT = 300  # CJK characters: a certificate has fewer, a page of the form more
# The end of 八 that a Word/WPS/LibreOffice export pushes onto a page of its own when the
# table row breaks: （公章）, a signature line, the date; a few words and nothing else.
OPINION_TAIL = re.compile(r"[(（]公章[)）]|盖章|签[字章名]|\d{4}年\d{1,2}月\d{1,2}日|年月日")
OPINION_TAIL_SHORT = 60  # CJK characters
REPAIRED = "PDF 文件有损坏，已自动修复后读取；如内容显示不全，请工作人员打开原文件核对。"
SEAL_CHECK_FAILED = "公章自动检测出错，未能确认是否盖章：请工作人员打开盖章 PDF 版人工核对（如未盖章，请用 intake decide 改判为需补正）。"
STAMP_LOCATION = "八、申报单位意见"
OCR_ENV = "INTAKE_PDF_OCR"  # "0" in the children's environment: [pdf] ocr = false


def _unreadable(reason: str, *, encrypted: bool = False) -> PdfFacts:
    message = _MESSAGES.get(reason, _GENERIC)
    return PdfFacts(encrypted=encrypted, problems=(Finding("format_unreadable", ERROR, message, LOCATION),))


def read_pdf(data: bytes, *, timeout: float = 60, pool=None, ocr: bool = True) -> PdfFacts:
    """What the PDF shows; any problem is a finding, never an exception.

    `pool` (a `sandbox.Pool` of this module, which has its own OCR setting)
    reads it in a fork of a warm worker; without one a fresh child process
    is started.
    """
    try:
        return _read(data, timeout, pool, ocr)
    except Exception:  # noqa: BLE001 - a bad file must not stop the run
        log.exception("reading PDF failed")
        return _unreadable("internal")


def _read(data: bytes, timeout: float, pool, ocr: bool) -> PdfFacts:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return _unreadable("not_pdf")
    data = bytes(data)
    if len(data) > MAX_BYTES:
        return _unreadable("too_large")
    if b"%PDF-" not in data[:1024]:
        return _unreadable("not_pdf")
    result = pool.call(data, timeout) if pool is not None else _run_child(data, timeout, ocr)
    if result.get("reason") == "worker_gone":  # the pool is broken, not the file: a fresh child reads it
        log.warning("PDF workers unavailable (%s); reading in a fresh child", result.get("error", ""))
        result = _run_child(data, timeout, ocr)
    if not result.get("ok"):
        if result.get("reason") in ("crashed", "timeout"):
            log.warning("PDF child %s: %s %s", result["reason"], result.get("error", ""), result.get("stderr", "")[-500:])
        return _unreadable(result.get("reason", "damaged"), encrypted=bool(result.get("encrypted")))
    if result.get("repaired"):
        log.info("PDF was damaged; qpdf repaired it: %s", "; ".join(result.get("warnings", [])[:3]))
    from ..checks import STAMP_MESSAGES, stamp_variant
    from .seal import MAX_PAGES as SEAL_PAGES
    from .seal import a_series, camera, scanned_a4, unmeasured

    sizes = tuple((float(w), float(h)) for w, h in result["page_sizes"])
    scan_pages = set(result.get("scan_pages") or ())
    problems: list[Finding] = []
    # A scanned page's size in points is its pixels over whatever DPI the PDF
    # writer assumed: A-series proportions are all a scan can say about A4, a
    # picture too big for paper (a phone photo at 72 dpi) says nothing about it,
    # and a page near A4 is an A4 sheet cropped by a scan app (`scanned_a4`).
    off = [i for i, s in enumerate(sizes, start=1)
           if not is_a4(s) and not (i in scan_pages and (a_series(*s) or unmeasured(*s) or camera(*s) or scanned_a4(*s)))]
    if off:
        pages = "、".join(str(i) for i in off[:10]) + ("等" if len(off) > 10 else "")
        w, h = sorted(sizes[off[0] - 1])
        size = f"{w / 72 * 25.4:.0f}×{h / 72 * 25.4:.0f} mm"
        # Paper is nearly always A4 here: a different size is the scanner's or the exporter's
        # page setting (US Letter by default). Said as a note, not as something to redo.
        problems.append(
            Finding("pdf_not_a4", WARNING, f"PDF 第 {pages} 页的页面大小为 {size}，不是 A4（210×297 mm）。"
                    "此项仅为提醒，不影响审核；如纸张本是 A4，多为扫描或导出时的纸张设置所致，今后请选择 A4。", LOCATION)
        )
    seal = SealEvidence(**result["seal"]) if result.get("seal") else None
    count = int(result["pages"])
    # The same words the seal rule gives the applicant (`checks.stamp_variant`).
    variant = stamp_variant(seal, count, result.get("opinion_page"))
    if variant is not None:
        message = STAMP_MESSAGES[variant].format(pages=count, searched=SEAL_PAGES, page=seal.appendix_page)
        problems.append(Finding("missing_stamp", ERROR, message, STAMP_LOCATION))
    if seal is not None and seal.kind == "error":
        problems.append(Finding("seal_check_failed", WARNING, SEAL_CHECK_FAILED, STAMP_LOCATION, staff_only=True))
    if result.get("repaired"):
        problems.append(Finding("pdf_repaired", WARNING, REPAIRED, LOCATION, staff_only=True))
    has_layer = bool(result["has_text_layer"])
    ocr_text = result.get("ocr_text") or ""
    text_pages = set(result.get("text_pages") or ())
    if has_layer:
        # Text only hidden on page images is a scanner's OCR, not what the applicant typed;
        # visible text over a picture (a letterhead background) is the file's own.
        scan_text = set(result.get("scan_text_pages") or ())
        source = "scan_layer" if text_pages and text_pages <= scan_text else "layer"
    else:
        source = "ocr" if ocr_text.strip() else ""
    return PdfFacts(
        pages=count,
        text=result["text"] if has_layer else ocr_text,
        page_sizes=sizes,
        encrypted=bool(result["encrypted"]),
        has_text_layer=has_layer,
        seal=seal,
        problems=tuple(problems),
        repaired=bool(result.get("repaired")),
        opinion_page=result.get("opinion_page"),
        text_source=source,
    )


def is_a4(size: tuple[float, float]) -> bool:
    """A4 within 5 pt, either way up: a landscape page (a wide budget table in its
    own Word section, or a sheet turned by /Rotate) is still A4 paper."""
    short, long = sorted(size)
    return abs(short - A4[0]) <= A4_TOLERANCE and abs(long - A4[1]) <= A4_TOLERANCE


def child_env(*, ocr: bool = True) -> dict[str, str]:
    """The children's environment: one thread per pool, OCR on or off.

    Thread pools reserve address space per thread, and OpenMP threads spin:
    tesseract with its default threads is 4x slower on two busy cores. No
    secrets: the children parse hostile files (`sandbox.untrusted_env`).
    """
    from .sandbox import untrusted_env

    return untrusted_env(
        OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_THREAD_LIMIT="1",
        **{OCR_ENV: "1" if ocr else "0"},
    )


DEFAULT_WORKERS_MAX = 4  # the servers share one image, but each busy child and its OCR hold ~50-100 MB of their own


def default_workers() -> int:
    """One worker per core, at most four: memory stays bounded on big machines."""
    return max(1, min(os.cpu_count() or 1, DEFAULT_WORKERS_MAX))


def worker_pool(workers: int | None = None, *, ocr: bool = True):
    """A pool of warm PDF workers (close it, or use it in a `with`)."""
    from .sandbox import Pool

    return Pool(__name__, workers=workers or default_workers(), env=child_env(ocr=ocr), siblings=True)


def _run_child(data: bytes, timeout: float, ocr: bool = True) -> dict:
    """Parse in a sandboxed child; a crash, kill or timeout is 'damaged'."""
    from .sandbox import PACKAGE_ROOT, python_m

    argv, env = python_m(__name__, child_env(ocr=ocr))
    try:
        proc = subprocess.run(argv, input=data, capture_output=True, timeout=timeout, env=env, cwd=PACKAGE_ROOT)
    except subprocess.TimeoutExpired:
        log.warning("PDF child timed out after %s s", timeout)
        return {"ok": False, "reason": "timeout"}
    if proc.returncode != 0:
        log.warning("PDF child exited with %s: %s", proc.returncode, proc.stderr[-500:].decode("utf-8", "replace"))
        return {"ok": False, "reason": "crashed"}
    try:
        return json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        return {"ok": False, "reason": "crashed"}


# --- the child ---------------------------------------------------------------


def _limit_resources() -> None:
    """Cap the child's memory and CPU; SIGXCPU or MemoryError end it early."""
    import resource

    for what, value in ((resource.RLIMIT_AS, MEM_LIMIT), (resource.RLIMIT_CPU, CPU_LIMIT), (resource.RLIMIT_CORE, 0)):
        _, hard = resource.getrlimit(what)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(what, (value, hard))


def _inherited(obj, key: str, depth: int = 0):
    """A page attribute, looked up through /Parent as the spec says."""
    while obj is not None and depth < 50:
        if key in obj:
            return obj[key]
        obj = obj.get("/Parent", None)
        depth += 1
    return None


def _page_size(page) -> tuple[float, float]:
    """CropBox (else MediaBox) x UserUnit, swapped for /Rotate 90/270."""
    obj = page.obj
    box = _inherited(obj, "/CropBox") or _inherited(obj, "/MediaBox")
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except Exception:  # noqa: BLE001 - missing or odd box: treat as A4 in points
        x0, y0, x1, y1 = 0.0, 0.0, *A4
    unit = float(obj.get("/UserUnit", 1) or 1)
    w, h = abs(x1 - x0) * unit, abs(y1 - y0) * unit
    rotate = int(_inherited(obj, "/Rotate") or 0) % 360
    return (round(h, 2), round(w, 2)) if rotate in (90, 270) else (round(w, 2), round(h, 2))


_GENERAL_FILTERS = {"/FlateDecode", "/Fl", "/LZWDecode", "/LZW", "/ASCIIHexDecode", "/AHx", "/ASCII85Decode", "/A85", "/RunLengthDecode", "/RL"}


def _drawn_xobjects(resources, seen: set[tuple[int, int]], depth: int = 0):
    """Every XObject stream a resource dictionary draws, forms within forms (8 deep at
    most), each indirect one once per `seen`."""
    import pikepdf

    xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
    if not isinstance(xobjects, pikepdf.Dictionary) or depth > 8:
        return
    for _, x in xobjects.items():
        if isinstance(x, pikepdf.Stream) and _first_visit(x, seen):
            yield x
            yield from _drawn_xobjects(x.get("/Resources"), seen, depth + 1)


def _first_visit(stream, seen: set[tuple[int, int]]) -> bool:
    """False for an indirect object already in `seen` (shared between pages or forms)."""
    if stream.is_indirect:
        if stream.objgen in seen:
            return False
        seen.add(stream.objgen)
    return True


def _check_streams(pdf) -> str | None:
    """Inflate what the pages draw, under qpdf's limits, before PDFium sees it.

    PDFium aborts the process on a decompression bomb; qpdf raises cleanly.
    Returns a reason when a stream is too big or will not decode.
    """
    import pikepdf

    budget = MAX_DECODED
    seen: set[tuple[int, int]] = set()

    def check(stream) -> str | None:
        nonlocal budget
        image = stream.get("/Subtype") == pikepdf.Name.Image
        if image:
            try:
                if int(stream.get("/Width", 0)) * int(stream.get("/Height", 0)) > MAX_IMAGE_PIXELS:
                    return "too_big_image"
            except (TypeError, ValueError):
                return "damaged"
        filters = stream.get("/Filter")
        names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else ([str(filters)] if filters is not None else [])
        if all(n in _GENERAL_FILTERS for n in names):
            size = len(stream.read_bytes())  # a bomb stops here, inside qpdf's per-stream limits
            # Pictures are bounded by their pixels and drawn one page at a time: only what
            # the content streams inflate to adds up (lossless scans of many pages are fine).
            budget -= 0 if image else size
            if budget < 0:
                return "too_big_streams"
        return None

    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        for stream in contents if isinstance(contents, pikepdf.Array) else [contents]:
            if not isinstance(stream, pikepdf.Stream) or not _first_visit(stream, seen):
                continue
            for drawn in (stream, *_drawn_xobjects(stream.get("/Resources"), seen, 1)):
                if (reason := check(drawn)) is not None:
                    return reason
        for drawn in _drawn_xobjects(_inherited(page.obj, "/Resources"), seen):
            if (reason := check(drawn)) is not None:
                return reason
    return None


def inspect(data: bytes) -> dict:
    """The child's work: a JSON-ready dict (see `_read` for the fields)."""
    import pikepdf

    pikepdf.settings.set_qpdf_limits(
        flate_max_memory=256 * 1024 * 1024,
        png_max_memory=256 * 1024 * 1024,
        run_length_max_memory=256 * 1024 * 1024,
        tiff_max_memory=256 * 1024 * 1024,
        dct_max_memory=512 * 1024 * 1024,
        max_stream_filters=8,
        parser_max_nesting=200,
    )
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return {"ok": False, "reason": "encrypted", "encrypted": True}
    except Exception as exc:  # noqa: BLE001 - any parse failure is 'damaged'
        return {"ok": False, "reason": "damaged", "error": f"{type(exc).__name__}: {exc}"[:300]}
    try:
        warnings = [str(w) for w in pdf.get_warnings()]
        pages = len(pdf.pages)
        if pages == 0:
            return {"ok": False, "reason": "damaged", "error": "no pages"}
        if pages > MAX_PAGES:
            return {"ok": False, "reason": "too_many_pages"}
        if _is_portfolio(pdf):
            return {"ok": False, "reason": "portfolio"}
        sizes = [_page_size(p) for p in pdf.pages]
        if (reason := _check_streams(pdf)) is not None:
            return {"ok": False, "reason": reason}
        encrypted = bool(pdf.is_encrypted)
        fallback = None
        if warnings:
            # A truncated upload "repairs" into pages without content: that
            # file must be sent again, not judged as unstamped.
            if not all(_has_content(p) for p in pdf.pages):
                return {"ok": False, "reason": "damaged", "error": "; ".join(warnings[:3])[:300]}
            out = io.BytesIO()
            pdf.save(out)
            fallback = out.getvalue()
    except Exception as exc:  # noqa: BLE001 - including qpdf's DataDecodingError
        return {"ok": False, "reason": "damaged", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return _read_with_pdfium(data, fallback, pdf, pages, sizes, encrypted, warnings)


def _is_portfolio(pdf) -> bool:
    """A PDF Portfolio (Acrobat's PDF 包): viewers show its embedded files, not its
    placeholder page, so the stamped form is one of those files, out of our sight."""
    try:
        return "/Collection" in pdf.Root and len(pdf.attachments) > 0
    except Exception:  # noqa: BLE001 - an odd name tree is no portfolio
        return False


def _has_content(page) -> bool:
    """Whether a page has at least one non-empty content stream."""
    import pikepdf

    contents = page.obj.get("/Contents")
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    try:
        return any(isinstance(s, pikepdf.Stream) and len(s.read_bytes()) > 0 for s in streams)
    except Exception:  # noqa: BLE001 - an unreadable stream is no content
        return False


def _read_with_pdfium(data: bytes, fallback: bytes | None, pdf, pages: int, sizes, encrypted: bool, warnings: list[str]) -> dict:
    """Text and seal via PDFium; qpdf's repaired copy when PDFium rejects the original."""
    import pypdfium2 as pdfium

    from ..consistency import chinese_text, own_text, readable_form_text
    from .seal import find_seal

    doc = None
    for candidate in (data, fallback):
        if candidate is None:
            continue
        try:
            doc = pdfium.PdfDocument(candidate)
            doc.init_forms()  # before any page loads, so widget appearances render
            break
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"[:300]
    if doc is None:
        return {"ok": False, "reason": "damaged", "error": error}
    try:
        page_texts, total = [], 0
        marked: dict[int, str] = {}  # pages naming 申报单位意见 or (公章)
        scan_pages, scan_text_pages = [], []
        budget = [MAX_PAGE_OBJECTS]
        for i in range(len(doc)):
            page = doc[i]
            try:
                try:
                    textpage = page.get_textpage()
                    t = textpage.get_text_range()
                    textpage.close()
                except Exception:  # noqa: BLE001 - one bad page keeps the others' text
                    t = ""
                try:
                    masked = _masked_sizes(pdf.pages[i]) if pdf is not None and i < len(pdf.pages) else frozenset()
                except Exception:  # noqa: BLE001 - unknown masks: pictures taken as opaque
                    masked = frozenset()
                try:
                    cover, text_hidden = _page_picture(page, budget, masked=masked)
                except Exception:  # noqa: BLE001 - unknown cover: not a page image
                    cover, text_hidden = 0.0, False
            finally:
                page.close()
            if cover >= SCAN_COVER:
                scan_pages.append(i + 1)
                if text_hidden:
                    scan_text_pages.append(i + 1)
            if OPINION_MARK.search(t):
                marked[i + 1] = t
            page_texts.append(t[: max(MAX_TEXT - total, 0)].replace("\r\n", "\n").replace("\r", "\n"))
            total += len(page_texts[-1])
        opinion_page = _opinion_page(marked)
        # Page images: a line on every page is a scan app's mark, not the scanned sheets' text.
        scanned = len(scan_pages) * 2 > pages
        own = own_text(page_texts, repeated=scanned)
        text_pages = [i for i, t in enumerate(own, start=1) if any(not c.isspace() for c in t)]
        text = "\n".join(own)
        has_layer = sum(not c.isspace() for c in text) >= 10
        # Page images whose only text is no Chinese text of this form (a scan app's watermark,
        # an OCR layer that could not read Chinese) are read by our own OCR, as a plain scan is.
        unread = not has_layer or (scanned and not readable_form_text(text))
        ocr_on = os.environ.get(OCR_ENV) != "0"
        ocr_pages = _ocr(doc) if unread and ocr_on else {}
        ocr_text = "\n".join(ocr_pages.values())
        if has_layer and scanned and unread and (readable_form_text(ocr_text) or not chinese_text(text, len(text_pages))):
            has_layer = False  # set aside for what OCR reads, or for nothing: the staff check the scan
        layer_opinion = opinion_page
        if opinion_page is None:
            opinion_page = _opinion_page(ocr_pages)
        read_for_seal: dict[int, str] = {}  # pages OCR'd during the seal search (`_appendix_test`)
        try:
            # Only pages whose pictures cannot hold colour (1-bit, CCITT/JBIG2, greyscale) may be
            # called a black-and-white scan: a colour scan of an unstamped sheet shows no colour either.
            grey = frozenset(n for n in scan_pages if pdf is not None and n <= len(pdf.pages) and _grey_pictures(pdf.pages[n - 1]))
            appendix = _appendix_test(doc, own, ocr_pages, read_for_seal, opinion_page, set(scan_pages), ocr_on)
            seal = find_seal(doc, pike=pdf, size=len(data), first=layer_opinion, scans=grey, appendix=appendix)
            seal_dict = {"kind": seal.kind, "page": seal.page, "confidence": seal.confidence, "detail": seal.detail,
                         "appendix_page": seal.appendix_page}
        except Exception as exc:  # noqa: BLE001 - the other facts still count; the seal is left to staff
            print(f"seal detection failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            # Not None ("not looked for"): an unstamped file must not pass because the search broke.
            seal_dict = {"kind": "error", "page": None, "confidence": 0.0, "detail": f"公章检测出错（{type(exc).__name__}）"}
        if opinion_page is None:
            opinion_page = _opinion_page(read_for_seal)
    finally:
        doc.close()
    return {
        "ok": True,
        "opinion_page": opinion_page,
        "ocr_text": ocr_text,
        "pages": pages,
        "page_sizes": sizes,
        "text": text if has_layer else "",
        "has_text_layer": has_layer,  # the file's own text: not scan-app watermarks, not an unreadable layer on page images
        "text_pages": text_pages,  # pages with text of their own (1-based)
        "scan_pages": scan_pages,  # pages covered by images: scanned pages
        "scan_text_pages": scan_text_pages,  # scanned pages whose text is hidden: a scanner's OCR layer
        "encrypted": encrypted,
        "repaired": bool(warnings),
        "warnings": warnings[:5],
        "seal": seal_dict,
    }


def _opinion_page(texts: dict[int, str]) -> int | None:
    """The page of 八 among {page: text}: the last naming 申报单位意见, else the last with a (公章)."""
    heading = [n for n, t in texts.items() if OPINION_HEADING.search(t)]
    return max(heading or [n for n, t in texts.items() if OPINION_MARK.search(t)], default=None)


def appendix_reason(page: int, text: str, opinion_page: int | None) -> str | None:
    """Why a seal on `page` (whose text is `text`) is an appendix's, not the unit's; None: it counts.

    A page naming 申报单位意见 counts (a bare （公章） is every pledge's signature line too). A page reading like a certificate is an
    appendix wherever it is. Otherwise, once 八 is known (`opinion_page`, the last page
    naming it), a page after it is an appendix (a stamped rescan of 八 appended to the
    export names it) unless it is the next page and holds only 八's end (an export breaks
    the table row: （公章） and the date alone on the last page), and a page up to it counts,
    as a cover or every page stamped did.
    """
    from ..consistency import cjk_count

    flat = "".join(text.split())
    if OPINION_HEADING.search(flat):
        return None
    word = APPENDIX_STRONG.search(flat) or (APPENDIX_WEAK.search(flat) if cjk_count(flat) < APPENDIX_SHORT else None)
    if word:
        return f"在附件上（该页文字像证书等附件：“{word.group()}”）"
    if opinion_page is not None and page > opinion_page:
        if page == opinion_page + 1 and OPINION_TAIL.search(flat) and cjk_count(flat) < OPINION_TAIL_SHORT:
            return None  # 八's own end, pushed over the page break: where the unit stamps
        return f"在附件上（在“申报单位意见”所在的第 {opinion_page} 页之后）"
    return None


def _appendix_test(doc, own: list[str], ocr_pages: dict[int, str], read: dict[int, str], opinion_page: int | None,
                   scan_pages: set[int], ocr_on: bool):
    """`find_seal`'s question about a page with a ring (see `appendix_reason`), answered from
    the page's text: its own layer, what OCR read of the cover and last page, and, for a page
    image (or a page without text) that says nothing, our OCR of that one page (kept in `read`).
    Normal files pay nothing: their ring is on a page with a text layer (an unmapped export's
    unreadable one too), or on a scan's last page, which is OCR'd anyway."""
    from ..consistency import SCAN_TEXT_PER_PAGE, cjk_count

    def test(page: int) -> str | None:
        layer = own[page - 1] if page <= len(own) else ""
        text = "\n".join(t for t in (layer, ocr_pages.get(page, ""), read.get(page, "")) if t)
        mute = cjk_count(text) < SCAN_TEXT_PER_PAGE and (page in scan_pages or not layer.strip())
        if mute and ocr_on and page not in ocr_pages and page not in read and ocr_available():
            read.update(_ocr(doc, pages=(page - 1,)))
            read.setdefault(page, "")
            text = "\n".join(t for t in (text, read[page]) if t)
        if mute and cjk_count(text) < SCAN_TEXT_PER_PAGE:
            # Nothing read (OCR off, not installed, or reading nothing of a phone photo or a dim
            # copy): a stamped rescan of 八 behind the export and a certificate look alike; the
            # seal counts, as it did before pages were told apart.
            return None
        return appendix_reason(page, text, opinion_page)

    return test


def _masked_sizes(page, limit: int = 1000) -> frozenset[tuple[int, int]]:
    """Pixel sizes of the images a page (its XObjects, forms within forms) draws see-through:
    with a soft mask, a colour-key or stencil mask, or a stencil itself. PDFium does not say."""
    import pikepdf

    sizes: set[tuple[int, int]] = set()
    for n, x in enumerate(_drawn_xobjects(_inherited(page.obj, "/Resources"), set())):
        if n >= limit:
            break
        if x.get("/Subtype") == pikepdf.Name.Image:
            if "/SMask" in x or "/Mask" in x or bool(x.get("/ImageMask", False)) or int(x.get("/SMaskInData", 0) or 0):
                sizes.add((int(x.get("/Width", 0)), int(x.get("/Height", 0))))
    return frozenset(sizes)


GREY_SPACES = ("/DeviceGray", "/CalGray")
BILEVEL_FILTERS = ("/CCITTFaxDecode", "/JBIG2Decode")


def _grey_pictures(page) -> bool:
    """Whether every picture on a pikepdf page (inside its forms too) is bilevel or greyscale:
    a black-and-white scanner's output, on which no red can show. Anything uncertain (a
    JPEG 2000 without a colour space, an indexed palette) is taken as able to hold colour."""
    import pikepdf

    try:
        # pikepdf 10: get_images() (nested forms included); older: the page's own images.
        images = list((page.get_images() if hasattr(page, "get_images") else page.images).values())
    except Exception:  # noqa: BLE001 - unknown: may be colour
        return False
    if not images:
        return False
    for image in images:
        if image.get("/ImageMask", False):
            continue  # a stencil: painted in one fill colour, no colours of its own
        filters = image.get("/Filter", None)
        names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)]
        if any(f in BILEVEL_FILTERS for f in names) or int(image.get("/BitsPerComponent", 8)) == 1:
            continue
        space = image.get("/ColorSpace", None)
        if space is None:
            return False
        if str(space) in GREY_SPACES:
            continue
        try:
            family = str(space[0])
            if family in GREY_SPACES or (family == "/ICCBased" and int(space[1].get("/N", 3)) == 1):
                continue
        except Exception:  # noqa: BLE001 - a name or an odd array: may be colour
            pass
        return False
    return True


def _page_picture(page, budget: list[int] | None = None, grid: int = 64, masked=frozenset()) -> tuple[float, bool]:
    """(share of the page under images, whether its text is hidden) in one walk.

    A scanned page is one picture of the whole sheet (or a few strips of
    it), perhaps inside a Form XObject; an exported page has none or small
    ones (a pasted seal, a logo). A scanner's OCR layer is text nobody sees:
    invisible (render mode 3, or 7: clip only), or drawn before an opaque
    picture covering the page; visible text painted over a picture (a
    letterhead or background under a typed form) is the file's own. "Hidden"
    tolerates a few visible text objects (a date typed onto the scan) among
    many hidden ones, and is False for a page without hidden text. Pictures
    with transparency, or of a pixel size in `masked` (see `_masked_sizes`),
    hide nothing.

    `budget` ([objects left], shared by the pages of a file) bounds the time
    a page of countless objects takes; past it nothing more is seen. Once
    the page is all picture and TEXT_SAMPLE text objects are seen, the rest
    of the page is taken to be like them.
    """
    import ctypes

    import numpy as np
    import pypdfium2.raw as pdfium_c

    budget = budget if budget is not None else [MAX_PAGE_OBJECTS]
    x0, y0, x1, y1 = page.get_bbox()
    if x1 <= x0 or y1 <= y0:
        return 0.0, False
    xs = x0 + (np.arange(grid) + 0.5) * (x1 - x0) / grid
    ys = y0 + (np.arange(grid) + 0.5) * (y1 - y0) / grid
    covered = np.zeros((grid, grid), bool)
    box = [ctypes.c_float() for _ in range(4)]
    size = [ctypes.c_uint() for _ in range(2)]
    fs = pdfium_c.FS_MATRIX()
    images: list[tuple[np.ndarray, np.ndarray] | None] = []  # cells of each image in paint order; None: not opaque
    shown: list[int] = []  # per visible text object, how many images were painted before it
    hidden = [0]
    invisible = (pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium_c.FPDF_TEXTRENDERMODE_CLIP)

    def walk(form, level: int, m: tuple) -> bool:
        """Note the images and text under `form` (the page if None); True: stop looking."""
        # Bounds inside a Form XObject are in the form's space: `m` takes them to the page.
        n = pdfium_c.FPDFFormObj_CountObjects(form) if form else pdfium_c.FPDFPage_CountObjects(page.raw)
        for i in range(max(n, 0)):
            budget[0] -= 1
            if budget[0] < 0:
                return True
            obj = pdfium_c.FPDFFormObj_GetObject(form, i) if form else pdfium_c.FPDFPage_GetObject(page.raw, i)
            kind = pdfium_c.FPDFPageObj_GetType(obj) if obj else None
            if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
                if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) in invisible:
                    hidden[0] += 1
                else:
                    shown.append(len(images))
                if hidden[0] + len(shown) >= TEXT_SAMPLE and covered.all():
                    return True
            elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and pdfium_c.FPDFPageObj_GetBounds(obj, *box):
                l, b, r, t = (v.value for v in box)
                px, py = zip(*(_apply(m, x, y) for x in (l, r) for y in (b, t)))
                inside_x = (xs >= min(px)) & (xs <= max(px))
                inside_y = (ys >= min(py)) & (ys <= max(py))
                covered[np.ix_(inside_y, inside_x)] = True
                see_through = bool(pdfium_c.FPDFPageObj_HasTransparency(obj))
                if masked and not see_through:
                    see_through = not pdfium_c.FPDFImageObj_GetImagePixelSize(obj, *size) or (size[0].value, size[1].value) in masked
                images.append(None if see_through else (inside_y, inside_x))
            elif (
                kind == pdfium_c.FPDF_PAGEOBJ_FORM
                and level < 8
                and pdfium_c.FPDFPageObj_GetMatrix(obj, fs)
                and walk(obj, level + 1, _compose(m, (fs.a, fs.b, fs.c, fs.d, fs.e, fs.f)))
            ):
                return True
        return False

    walk(None, 0, (1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
    cover = float(covered.mean())
    if shown and cover >= SCAN_COVER:
        # Visible text painted before opaque images covering the page is under them: hidden too.
        last, after = -1, np.zeros((grid, grid), bool)
        for j in range(len(images) - 1, -1, -1):
            if images[j] is not None:
                after[np.ix_(*images[j])] = True
                if after.mean() >= SCAN_COVER:
                    last = j
                    break
        under = sum(1 for p in shown if p <= last)
        hidden[0] += under
        visible = len(shown) - under
    else:
        visible = len(shown)
    text_hidden = hidden[0] > 0 and visible <= SCAN_VISIBLE_TEXT and visible * 10 <= hidden[0]
    return cover, text_hidden


def _apply(m: tuple, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _compose(outer: tuple, inner: tuple) -> tuple:
    """The matrix applying `inner`, then `outer` (PDF's a b c d e f)."""
    a, b, c, d, e, f = inner
    x0, y0 = _apply(outer, e, f)
    ax, ay = _apply(outer, a, b)
    cx, cy = _apply(outer, c, d)
    ox, oy = outer[4], outer[5]
    return ax - ox, ay - oy, cx - ox, cy - oy, x0, y0


def ocr_available() -> bool:
    """Tesseract with its simplified-Chinese data (Debian: tesseract-ocr-chi-sim)."""
    from . import ocr

    return ocr.available()


def _ocr(doc, dpi: int = 150, timeout: float = 30, pages: tuple[int, ...] | None = None) -> dict[int, str]:
    """OCR of a scan's cover (申报单位) and last page (申报单位意见 and the seal), or of
    the page indexes (0-based) in `pages`: {1-based page: text}.

    Both pages rendered at 150 dpi in greyscale go to libtesseract, which a
    warm worker loaded before it forked (`ocr.py`). Well under a second per scan;
    an OCR failure leaves the text empty (the unit check then says it could not
    be done), never the PDF unread.
    """
    from . import ocr
    from .seal import render_scale

    if not ocr.available() or len(doc) == 0:
        return {}
    indexes = sorted({0, len(doc) - 1} if pages is None else {i for i in pages if 0 <= i < len(doc)})
    images, dpis = [], []
    for index in indexes:
        page = doc[index]
        try:
            # At `dpi` of the paper, not of the points: a scan written at 72 dpi
            # would otherwise render at 4x its own resolution.
            scale, px_per_mm = render_scale(*page.get_size(), dpi, max_pixels=OCR_MAX_PIXELS)
            images.append(page.render(scale=scale, grayscale=True).to_pil().convert("L"))
        finally:
            page.close()
        dpis.append(round(px_per_mm * 25.4))
    texts = ocr.read_pages([_ocr_page(im, d) for im, d in zip(images, dpis)], timeout=timeout)
    if texts is None:
        print("OCR failed or ran out of time", file=sys.stderr)
        return {}
    # A sheet scanned sideways or upside down reads as none of the form's words (or as
    # characters that make no words): try it turned, and keep the reading with most of them.
    blind = [n for n, text in enumerate(texts) if _form_words(text) < OCR_TURN_BELOW]
    if blind:
        turns = [(n, angle) for n in blind for angle in (180, 90, 270)]
        turned = ocr.read_pages([_ocr_page(images[n].rotate(angle, expand=True), dpis[n]) for n, angle in turns], timeout=timeout)
        for (n, _), text in zip(turns, turned or ()):
            if _form_words(text) > _form_words(texts[n]):
                texts[n] = text
    return {index + 1: text for index, text in zip(indexes, texts)}


# Words the form's cover and last page print; an upright page reads several, a turned one none.
OCR_FORM_WORDS = ("申报", "单位", "试点", "科协", "科学技术", "协会", "负责人", "联系", "时间", "意见", "同意", "盖章", "公章")
OCR_TURN_BELOW = 3


def _ocr_page(image, dpi: int):
    from . import ocr

    return ocr.Page(image.tobytes(), image.width, image.height, dpi)


def _form_words(text: str) -> int:
    flat = "".join((text or "").split())
    return sum(flat.count(word) for word in OCR_FORM_WORDS)


def _handle(data: bytes) -> dict:
    """One file, inside the limited child."""
    try:
        return inspect(data)
    except MemoryError:
        return {"ok": False, "reason": "too_big_streams"}
    except Exception as exc:  # noqa: BLE001 - report, the parent decides
        return {"ok": False, "reason": "damaged", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _warm_up_pdf() -> bytes:
    """An A4 page like a stamped form: CJK text in a non-embedded font and a red ring."""
    import pikepdf

    pdf = pikepdf.new()
    cid = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.CIDFontType0,
        BaseFont=pikepdf.Name("/STSong-Light"),
        CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="GB1", Supplement=4),
        FontDescriptor=pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name("/STSong-Light"), Flags=6,
            FontBBox=[0, -200, 1000, 900], ItalicAngle=0, Ascent=880, Descent=-120, CapHeight=880, StemV=93,
        ),
    )
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name("/STSong-Light"),
        Encoding=pikepdf.Name("/UniGB-UCS2-H"), DescendantFonts=[cid],
    )
    cx, cy, r = 420.0, 200.0, 57.0  # a 40 mm ring
    k = 0.5523 * r
    ring = (
        f"{cx + r} {cy} m {cx + r} {cy + k} {cx + k} {cy + r} {cx} {cy + r} c "
        f"{cx - k} {cy + r} {cx - r} {cy + k} {cx - r} {cy} c {cx - r} {cy - k} {cx - k} {cy - r} {cx} {cy - r} c "
        f"{cx + k} {cy - r} {cx + r} {cy - k} {cx + r} {cy} c S"
    )
    text = "申报单位意见（公章）".encode("utf-16-be").hex()
    content = f"BT /F1 14 Tf 72 760 Td <{text}> Tj ET q 0.86 0.11 0.12 RG 3 w {ring} Q " \
              f"q 0.86 0.11 0.12 rg {cx - 8} {cy - 8} 16 16 re f Q"
    page = pdf.add_blank_page(page_size=A4)
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(content.encode("ascii"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _warm_up() -> None:
    """Read one form-like page before any fork: imports, the OCR model,
    PDFium's font lookup and the seal search's FFT kernels are then inherited
    by every child instead of redone in each. Best effort: a failure here
    only makes the children slower."""
    try:
        if os.environ.get(OCR_ENV) != "0":
            ocr_available()  # libtesseract and the chi_sim model, shared by every fork
        inspect(_warm_up_pdf())
    except Exception as exc:  # noqa: BLE001
        print(f"PDF worker warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def _child_main(argv: list[str]) -> int:
    if argv[1:2] == ["--serve"]:
        from .sandbox import fork_siblings, protect_channel, serve, sibling_channels, wait_siblings

        channel = protect_channel()
        _warm_up()
        import gc

        gc.freeze()  # the collector must not write to (and so copy) every inherited object in each fork
        siblings = fork_siblings(sibling_channels(argv[2:]), _handle, _limit_resources, own=(0, channel))
        code = serve(_handle, _limit_resources, channel=channel)
        wait_siblings(siblings)
        return code
    _limit_resources()
    result = _handle(sys.stdin.buffer.read())
    sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
