"""Money amounts as applicants write them in the budget table.

`1,200`, `1200元`, `￥1,200.00`, `0.12万元`, `1.2千元`, full-width digits and
Chinese capitals (`壹万贰仟叁佰肆拾伍元陆角柒分`) all occur in real forms; the
budget checks need one exact Decimal (never a float) or None.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_DIGITS = {
    "零": 0, "〇": 0, "○": 0, "Ｏ": 0,
    "壹": 1, "一": 1, "幺": 1,
    "贰": 2, "貳": 2, "二": 2, "两": 2, "兩": 2,
    "叁": 3, "參": 3, "三": 3,
    "肆": 4, "四": 4,
    "伍": 5, "五": 5,
    "陆": 6, "陸": 6, "六": 6,
    "柒": 7, "七": 7,
    "捌": 8, "八": 8,
    "玖": 9, "九": 9,
}
_SMALL_UNITS = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}
_BIG_UNITS = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_CAPITALS = set("零壹贰貳叁參肆伍陆陸柒捌玖拾佰仟圆")
_MONEY_UNITS = set("元圆角分")
_CN_CHARS = "".join(_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS) + "元圆角分整正"
_CN_RUN = re.compile(f"[{_CN_CHARS}]+")

# An Arabic number with optional thousands separators and a Chinese multiplier.
_ARABIC = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(万|千|百)?")
_MULTIPLIER = {"万": Decimal(10000), "千": Decimal(1000), "百": Decimal(100), None: Decimal(1)}


def parse_amount(text: str, unit: Decimal | int = 1) -> Decimal | None:
    """The amount in `text` in yuan as an exact Decimal, or None if it has no number.

    `unit` is what a bare Arabic number counts in (10000 under a 金额（万元）
    header); a number written with its own unit (`1200元`, `0.12万`) keeps it.
    """
    if not text:
        return None
    norm = unicodedata.normalize("NFKC", text)  # full-width digits, ￥, ，．
    norm = norm.replace("，", ",").replace("．", ".")
    # "5人×200元=1000元": the result follows the last '='.
    if "=" in norm:
        tail = norm.rsplit("=", 1)[1]
        if re.search(r"\d", tail) or _CN_RUN.search(tail):
            norm = tail
    # Thousands separators written with spaces ("1 200") are joined first.
    norm = re.sub(r"(?<=\d)[ \u00a0'](?=\d{3}\b)", "", norm)
    mixed = _MIXED.search(norm)
    if mixed and len(re.findall(r"\d+", mixed.group())) > 1 and not re.search(r"\d", norm[: mixed.start()]):
        return _mixed_amount(mixed.group())
    match = _ARABIC.search(norm)
    if match:
        whole, frac, mult = match.groups()
        try:
            value = Decimal(whole.replace(",", "") + (frac or ""))
        except InvalidOperation:
            return None
        if mult is None and not re.search("[元圆万萬千]", norm):
            return value * Decimal(unit)
        return value * _MULTIPLIER[mult]
    return _parse_chinese_money(norm)


# Digits between Chinese units, as typed in a hurry: 1万2千元, 3千6百, 3千5.
_MIXED = re.compile(r"\d+\s*[万千百十](?:\s*零?\s*\d+\s*[万千百十])*(?:\s*零?\s*\d+)?")
_MIXED_UNITS = {"万": 10000, "千": 1000, "百": 100, "十": 10}


def _mixed_amount(text: str) -> Decimal:
    """`1万2千` → 12000; a last single digit counts in the next lower unit, as said
    aloud (`3千5` → 3500, `1万2` → 12000); more digits, or 零 before it, count
    as they stand (`3千500`, `1千零5`)."""
    total = section = 0
    unit = 1
    for zero, number, unit_char in re.findall(r"(零?)\s*(\d+)\s*([万千百十]?)", text):
        n = int(number)
        if unit_char == "万":
            total += (section + n) * 10000
            section, unit = 0, 10000
        elif unit_char:
            unit = _MIXED_UNITS[unit_char]
            section += n * unit
        else:  # the trailing number
            section += n * unit // 10 if len(number) == 1 and unit >= 100 and not zero else n
    return Decimal(total + section)


def _parse_chinese_money(text: str) -> Decimal | None:
    """Chinese numerals: capitals always, lower-case only next to a money unit."""
    for run in _CN_RUN.findall(text):
        if not any(c in _DIGITS or c in _SMALL_UNITS for c in run):
            continue
        if not (set(run) & _CAPITALS or set(run) & _MONEY_UNITS):
            continue  # "第一", "一批": not an amount
        yuan, jiao, fen = run, "", ""
        for sep in ("元", "圆"):
            if sep in yuan:
                yuan, rest = yuan.split(sep, 1)
                break
        else:
            rest = ""
            if "角" in yuan or "分" in yuan:
                yuan, rest = "", yuan
        m = re.match(r"零?(.)角", rest)
        if m and m.group(1) in _DIGITS:
            jiao = m.group(1)
        m = re.search(r"(.)分", rest)
        if m and m.group(1) in _DIGITS:
            fen = m.group(1)
        integer = parse_chinese_int(yuan.rstrip("整正")) if yuan.strip("整正") else 0
        if integer is None:
            continue
        value = Decimal(integer)
        if jiao:
            value += Decimal(_DIGITS[jiao]) / 10
        if fen:
            value += Decimal(_DIGITS[fen]) / 100
        return value
    return None


def parse_chinese_int(text: str) -> int | None:
    """`壹万贰仟零伍` → 12005, `十五` → 15; digit strings like `二〇二五` → 2025."""
    if not text:
        return None
    if all(c in _DIGITS for c in text) and len(text) > 1:
        return int("".join(str(_DIGITS[c]) for c in text))
    total, section, number = 0, 0, 0
    seen = False
    for ch in text:
        if ch in _DIGITS:
            number = _DIGITS[ch]
            seen = True
        elif ch in _SMALL_UNITS:
            section += (number if seen and number else 1) * _SMALL_UNITS[ch]
            number, seen = 0, False
        elif ch in _BIG_UNITS:
            unit = _BIG_UNITS[ch]
            if unit == 10**8:
                total = (total + section + number) * unit
            else:
                total += (section + number) * unit
            section, number, seen = 0, 0, False
        else:
            return None
    return total + section + number
