"""Is the stamped PDF the same application as the Word file?

Pure text comparisons: the unit the PDF names, and how much of the Word
form's own text (sections 三–五) the PDF contains, as a containment figure of
character 4-grams (robust to line breaks, page headers and layout).
"""
from __future__ import annotations

import re
import unicodedata

from .models import Application

_WS = re.compile(r"\s+")
_UNIT_LABEL = re.compile(r"(?:申报单位|单位名称)\s*[:：]?\s*(?!基本情况|意见)([^\s:：]{4,80})")


def _norm(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text or ""))


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
    text = unicodedata.normalize("NFKC", pdf_text or "")
    if ocr:
        text = _CJK_GAP.sub("", text)
    units = []
    for m in _UNIT_LABEL.finditer(text):
        unit = _NEXT_LABEL.split(m.group(1), maxsplit=1)[0]
        unit = _AFTER_NAME.split(unit, maxsplit=1)[0]
        if len(unit) >= 4:
            units.append(unit)
    return units


# Headings only the form has: a PDF with three of them is the form, not an appendix or a certificate.
_FORM_MARKS = ("申报单位基本情况", "工作基础", "试点建设方案", "考核指标", "计划进度", "经费支出预算", "申报单位意见")


def looks_like_form(pdf_text: str, least: int = 3) -> bool:
    """Whether a PDF's text is this call's form (`least` of its headings), not any PDF naming
    a unit; with least=1, whether it is part of it (the stamped page, the cover) at all."""
    text = _norm(pdf_text)
    return sum(mark in text for mark in _FORM_MARKS + (_COVER_MARKS if least == 1 else ())) >= least


_COVER_MARKS = ("申报书", "试点类型")


_TOTAL = re.compile(r"合\s*计\s*[:：]?\s*((?:(?!合\s*计)[^(（]){1,30})")


def pdf_total(pdf_text: str):
    """The 合计 the PDF states (Decimal), or None when it cannot be read."""
    from .amounts import parse_amount

    found = None
    for match in _TOTAL.finditer(unicodedata.normalize("NFKC", pdf_text or "")):
        # Narrow table cells wrap numbers in the text layer ("270\n0"): join the pieces.
        words = re.sub(r"\s+", "", match.group(1))
        if words.startswith(("不超过", "不得超过", "上限", "限额")):
            continue  # the form's own note: 经费支出合计不超过 4000 元
        value = parse_amount(words)
        if value is not None:
            found = value  # the table's 合计 row comes last
    return found


_COVER_END = re.compile(r"填\s*报\s*说\s*明|一\s*、\s*申\s*报\s*单\s*位\s*基\s*本\s*情\s*况")


def pdf_pilot_types(pdf_text: str) -> tuple[str, ...]:
    """Pilot types ticked on the PDF's cover, read as the Word reader reads the cover
    (boxes before or after their names, （√）, ✅ …: `forms.docx.pilot_types`)."""
    from .forms.docx import pilot_types

    text = unicodedata.normalize("NFC", pdf_text or "")
    end = _COVER_END.search(text)
    return pilot_types(text[: end.start() if end else 1500])


def readable_form_text(pdf_text: str) -> bool:
    """Whether a text layer reads as this form in Chinese (not a broken font map)."""
    text = _norm(pdf_text)
    if not text:
        return False
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return cjk / len(text) >= 0.3 and any(mark in text for mark in ("申报", "试点", "科技志愿"))
