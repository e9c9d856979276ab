"""Is the stamped PDF the same application as the Word file?

Pure text comparisons: the unit the PDF names, and how much of the Word
form's own text (sections 三–五) the PDF contains, as a containment figure of
character 4-grams (robust to line breaks, page headers and layout).
"""
from __future__ import annotations

import re
import unicodedata

from .models import Application
from .units import simplified, visible

_WS = re.compile(r"\s+")
# Possessive spaces, the colon's own: `\s*[:：]?\s*` split a run of spaces between its two
# quantifiers every way there is (quadratic: 20,000 spaces after 申报单位 took 2.6 s).
_UNIT_LABEL = re.compile(r"(?:申报单位|单位名称)\s*+(?:[:：]\s*+)?(?!基本情况|意见)([^\s:：]{4,80})")


def _norm(text: str) -> str:
    # Traditional forms as simplified: a scanner's OCR layer set to 繁体 reads 申報單位 for 申报单位.
    return _WS.sub("", simplified(unicodedata.normalize("NFKC", text or "")))


def _grams(text: str, n: int = 4) -> set[str]:
    return {text[i : i + n] for i in range(max(len(text) - n + 1, 0))}


def containment(word_text: str, pdf_text: str) -> float | None:
    """Share of the Word text's 4-grams found in the PDF text (None: nothing to compare)."""
    word = _grams(_norm(word_text))
    if len(word) < 20:
        return None
    return len(word & _grams(_norm(pdf_text))) / len(word)


def form_text(app: Application) -> str:
    return "\n".join(s.text for s in (app.work_basis, app.plan, app.indicators))


# OCR puts spaces between Chinese characters (新乡市红旗区科 学技术协会).
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])[ \t\u3000]+(?=[\u3400-\u9fff])")
# Labels that can follow the unit on the same line once OCR's gaps are closed.
_NEXT_LABEL = re.compile(r"(?:主要负责人|试点负责人|负责人|联系方式|联系人|申报时间|职称|电子邮箱)")


# What a cover line writes after the name: （盖章）, a date.
_AFTER_NAME = re.compile(r"[(（]?\s*(?:盖章|公章|签章)|\d{4}\s*年|\d{4}[-./]\d{1,2}[-./]\d{1,2}")


def pdf_units(pdf_text: str, *, ocr: bool = False) -> list[str]:
    """Unit names the PDF writes after 申报单位/单位名称 (`ocr`: text read from page images),
    without what a cover line adds after them (（盖章）2025年6月20日)."""
    # Invisible marks pasted into the name (WeChat, web pages) are no part of it: the Word's
    # unit is read without them, and names quoted to the applicant must look as they differ.
    text = simplified(unicodedata.normalize("NFKC", visible(pdf_text or "")))
    if ocr:
        text = _CJK_GAP.sub("", text)
    units = []
    for m in _UNIT_LABEL.finditer(text):
        unit = _NEXT_LABEL.split(m.group(1), maxsplit=1)[0]
        unit = _AFTER_NAME.split(unit, maxsplit=1)[0]
        if len(unit) >= 4 and not _NOT_A_NAME.search(unit):
            units.append(unit)
    return units


# What OCR of the 八 page hands over as a "name" when it loses a character of the heading
# (个、申报单位 / 申报单位意见；申报单位意 同意申报): a heading or the opinion, not a unit.
_NOT_A_NAME = re.compile(r"^(?:申报)?单位|意见|同意")


# Headings only the form has: a PDF with three of them is the form, not an appendix or a certificate.
_FORM_MARKS = ("申报单位基本情况", "工作基础", "试点建设方案", "考核指标", "计划进度", "经费支出预算", "申报单位意见")


def looks_like_form(pdf_text: str, least: int = 3) -> bool:
    """Whether a PDF's text is this call's form (`least` of its headings), not any PDF naming
    a unit; with least=1, whether it is part of it (the stamped page, the cover) at all."""
    text = _norm(pdf_text)
    return sum(mark in text for mark in _FORM_MARKS + (_COVER_MARKS if least == 1 else ())) >= least


_COVER_MARKS = ("申报书", "试点类型")


_TOTAL = re.compile(r"合\s*计\s*[:：]?\s*((?:(?!合\s*计)[^(（]){1,30})")


def pdf_total_readings(pdf_text: str) -> tuple:
    """Every way the PDF's 合计 rows read as amounts (Decimals): the text's last row first (its
    pieces joined first), then the last row of each budget table, the last table first.

    A text layer loses the table's columns: "合计 2014 3600" is 数量 and 金额, "合计 3600 800"
    申请 and 自筹, and "合计 270\n0" one number wrapped in a narrow cell. So the readings are
    the pieces joined, each piece, and each two neighbours joined; the caller accepts the
    Word's total if any reading is it. The table's 合计 row comes last (a 合计 typed below the
    table may even come after 八 in the text layer), but a file may hold two forms (a revision
    above its old draft, two units' forms): the last 合计 row of each budget table (七 up to 八
    or the next 七) is a reading too, and the Word reader reports the two forms. A 合计 in a
    plan's text (合计服务3000人次) lies outside every budget table."""
    from .amounts import parse_amount

    text = unicodedata.normalize("NFKC", pdf_text or "")
    starts = [m.start() for m in _BUDGET_HEADING.finditer(text)]
    tables = [(start, _TABLE_END.search(text, start + 1)) for start in starts]
    spans = [(0, len(text))] + [(start, end.start() if end else len(text)) for start, end in tables]
    rows: list[tuple] = []
    for lo, hi in spans:
        last: tuple = ()
        for match in _TOTAL.finditer(text, lo, hi):
            joined = re.sub(r"\s+", "", match.group(1))
            if joined.startswith(("不超过", "不得超过", "上限", "限额")):
                continue  # the form's own note: 经费支出合计不超过 4000 元
            pieces = match.group(1).split()
            texts = [joined, *pieces, *(a + b for a, b in zip(pieces, pieces[1:]))]
            readings = tuple(v for v in map(parse_amount, texts) if v is not None)
            if readings:
                last = readings  # the table's 合计 row comes last in it
        if last:
            rows.append(last)
    # The whole text's last row first (`pdf_total`), then each table's, the last table first.
    return tuple(dict.fromkeys(v for readings in rows[:1] + rows[:0:-1] for v in readings))


_BUDGET_HEADING = re.compile(r"经\s*费\s*支\s*出\s*预\s*算")
_TABLE_END = re.compile(r"申\s*报\s*单\s*位\s*意\s*见|经\s*费\s*支\s*出\s*预\s*算")


def pdf_total(pdf_text: str):
    """The 合计 the PDF states, its pieces joined (Decimal), or None when it cannot be read."""
    readings = pdf_total_readings(pdf_text)
    return readings[0] if readings else None


_COVER_END = re.compile(r"填\s*报\s*说\s*明|一\s*、\s*申\s*报\s*单\s*位\s*基\s*本\s*情\s*况")


def pdf_pilot_types(pdf_text: str) -> tuple[str, ...]:
    """Pilot types ticked on the PDF's cover, read as the Word reader reads the cover
    (boxes before or after their names, （√）, ✅ …: `forms.docx.pilot_types`)."""
    from .forms.docx import pilot_types

    text = simplified(unicodedata.normalize("NFC", pdf_text or ""))
    end = _COVER_END.search(text)
    return pilot_types(text[: end.start() if end else 1500])


def cjk_count(text: str) -> int:
    """Chinese characters (the CJK Unified Ideographs block) in `text`."""
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff")


def readable_form_text(pdf_text: str) -> bool:
    """Whether a text layer reads as this form in Chinese (not a broken font map)."""
    text = _norm(pdf_text)
    if not text:
        return False
    return cjk_count(text) / len(text) >= 0.3 and any(mark in text for mark in ("申报", "试点", "科技志愿"))


# Scan apps print a visible line of real text on every page they write ("扫描全能王 创建",
# "Scanned with CamScanner"): their watermark, not anything the applicant's file says.
SCAN_APP_MARKS = (
    "扫描全能王", "全能扫描王", "camscanner", "夸克扫描", "wps扫描", "wpsscan", "万能扫描王", "福昕扫描",
    "迅捷扫描", "扫描宝", "adobescan", "officelens", "microsoftlens", "tapscanner", "geniusscan",
)
_WATERMARK_MAX = 40  # characters: a watermark is a short line


def scan_app_watermark(line: str) -> bool:
    """Whether a line of text is a scan app's watermark (short, naming a known app)."""
    if len(line) > 4 * _WATERMARK_MAX:
        return False
    text = _norm(line).casefold()
    return 0 < len(text) <= _WATERMARK_MAX and any(mark in text for mark in SCAN_APP_MARKS)


def own_text(pages: list[str], *, repeated: bool = True) -> list[str]:
    """Each page's text without what is not the file's own: scan-app watermarks, and
    (`repeated`: for page images) lines repeated identically on every page of two or
    more, the watermark of an app nobody listed. An export keeps its repeated lines:
    a form printed twice is still its own text."""
    lines = [(page or "").split("\n") for page in pages]
    common: set[str] = set()
    if repeated and len(lines) >= 2:
        common = set.intersection(*({line.strip() for line in page} - {""} for page in lines))
    if not common and not any(scan_app_watermark(line) for page in lines for line in page):
        return [page or "" for page in pages]  # the common case: nothing to drop, the text as it was
    return ["\n".join(line for line in page if line.strip() not in common and not scan_app_watermark(line))
            for page in lines]


def _unreadable_char(c: str) -> bool:
    # Control characters, private use, unassigned code points and U+FFFD are what a
    # font without a Unicode map extracts to; whitespace is dropped before this.
    return c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs")


def readable_text(pdf_text: str) -> bool:
    """Whether a text layer reads as text in any script (not a broken font map's control
    characters), with at least a short line's worth of letters."""
    text = _norm(pdf_text)
    if not text:
        return False
    bad = sum(1 for c in text if _unreadable_char(c))
    letters = sum(1 for c in text if c.isalnum())
    return bad <= 0.02 * len(text) and letters >= 10


SCAN_TEXT_PER_PAGE = 10  # Chinese characters a page's own text needs (on average) to say anything: a scan app's watermark has fewer


def chinese_text(pdf_text: str, pages: int = 1) -> bool:
    """Whether a scan's text is Chinese text of a real amount: not an OCR layer that could
    not read Chinese (Adobe Scan, Office Lens), nor a stray line left after the watermarks."""
    text = _norm(pdf_text)
    cjk = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    return readable_text(text) and cjk >= max(20, SCAN_TEXT_PER_PAGE * pages) and cjk >= 0.3 * len(text)
