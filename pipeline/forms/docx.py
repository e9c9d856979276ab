"""Read the Word 申报书 into an `Application`.

We have no official template, and applicants add rows, merge and split
tables and keep or delete the guidance in parentheses, so fields are found by
their printed labels and section headings, never by table position. The XML is
read directly (not python-docx `.text`) so tracked insertions, content
controls, text boxes and the four kinds of checkbox are seen, and deleted
text, hidden text and a content control's unfilled prompt are not. Any
failure to open the file becomes a `format_unreadable` finding; a tick beside
words that are none of the pilot types (`pilot_type_unrecognized`) and a file
holding two filled forms (`two_forms_in_word`) become findings too, never a
silent guess. With no tick at all, the one option set apart by its formatting
(underlined, bold, coloured …) is recorded (`pilot_type_marked`), never taken as
the choice: the correction names it and asks for the tick.
"""
from __future__ import annotations

import bisect
import dataclasses
import io
import itertools
import posixpath
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from lxml import etree

from ..amounts import parse_amount
from ..models import (
    ERROR,
    PILOT_TYPE_ALIASES,
    PILOT_TYPES,
    Application,
    BudgetItem,
    Finding,
    Participant,
    Person,
    Section,
    Stage,
)
from ..units import visible
from ..wordcount import word_count

UNREADABLE = Finding(
    "format_unreadable",
    ERROR,
    "Word 版申报书无法打开，请确认文件为 .docx 格式（可用 Word 或 WPS“另存为 .docx”）后重新发送。",
    "Word 版申报书",
)
TOO_LARGE = Finding(
    "format_unreadable",
    ERROR,
    "Word 版申报书的内容过多或结构过于复杂（文字部分解压后过大，或层层嵌套的表格、内容控件），超出处理限制，无法读取。"
    "请删除与申报书无关的内容，在 Word 或 WPS 中“另存为 .docx”后重新发送。",
    "Word 版申报书",
)

# Limits on what one document may hold; beyond them it is a bomb, not a form, and reads as TOO_LARGE.
# A filled form's document.xml is 30–150 KB (photos live in media/, not in the XML); 50 pages of
# Word's most verbose markup with 50 photos are about 3 MB, 125,000 tags and 500 rows. At these
# limits a hostile file reads in about a second and 120 MB.
MAX_XML_BYTES = 8 * 1024 * 1024  # an inflated part larger than this is refused
MAX_MARKUP = 500_000  # tags ('<') in all parts read for one document: bounds the tree before it is built
MAX_ROWS = 20_000  # paragraphs and table rows read
MAX_CONTROL_DEPTH = 40  # content controls inside content controls
MAX_CHUNKS = 20  # altChunk parts read per document (web exports use one)


class _TooLarge(Exception):
    """The document is beyond the limits a real form needs: refused before it costs time or memory."""

W_MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

CHECKED = "☑"
UNCHECKED = "☐"
# Ticks, crosses and filled boxes people type or paste (emoji included: ✅ 🗹).
# A cross marks the choice on these forms; ● ◆ × X are left out: they are also bullets or "no".
CHECKED_CHARS = set("☑☒■√✓✔▣✅🗹🗷🗸⊠✗✘◼⬛")
UNCHECKED_CHARS = set("□☐")

# Symbol-font checkboxes (w:sym or a run in that font holding U+F0xx).
_WINGDINGS = {0xF0FE: CHECKED, 0xF078: CHECKED, 0xF0FD: CHECKED, 0xF0FC: CHECKED, 0xF0FB: CHECKED,
              0xF0A8: UNCHECKED, 0xF06F: UNCHECKED}
_WINGDINGS2 = {0xF052: CHECKED, 0xF053: CHECKED, 0xF054: CHECKED, 0xF050: CHECKED, 0xF051: CHECKED,
               0xF04F: CHECKED, 0xF0A3: UNCHECKED, 0xF0A2: UNCHECKED}
_SYMBOL = {0xF0D6: CHECKED}  # the radical sign: Word's Insert > Symbol "√"

# 带圈字符: Word writes a character drawn inside a box or circle as the field
# `eq \o\ac(□,√)` and draws it from the code (no stored result).
_ENCLOSURES = set("□☐○〇◯◇◻⬜")
_ENCLOSED_TICKS = set("√✓✔×☓Xx✗✘") | CHECKED_CHARS
_EQ_OVERSTRIKE = re.compile(r"\s*eq\s*\\o", re.I)
_FIELD_SWITCH = re.compile(r"\\[a-z]+(?:\s*-?\d+)?", re.I)  # \ac, \s, \up 3


def _enclosed_mark(instr: str) -> str | None:
    """☑ for an enclosure with a tick or cross drawn in it, ☐ for the enclosure alone, None otherwise (①)."""
    if not _EQ_OVERSTRIKE.match(instr):
        return None
    args = _FIELD_SWITCH.sub("", instr[instr.find("("):] if "(" in instr else "")
    chars = {c for c in args if not c.isspace() and c not in "(),;，；"}
    if not chars & _ENCLOSURES:
        return None
    inner = chars - _ENCLOSURES
    if not inner:
        return UNCHECKED
    return CHECKED if inner <= _ENCLOSED_TICKS else None


# The prompts Word and WPS show in an empty content control (text and date controls).
# They are never an applicant's value, also when a .doc or LibreOffice save left them as plain text.
_PROMPTS = (
    "单击或点击此处输入文字。", "点击或单击此处输入文字。", "单击此处输入文字。", "点击此处输入文字。",
    "单击或点击以输入日期。", "单击此处输入日期。",
    "Click or tap here to enter text.", "Click here to enter text.", "Click or tap to enter a date.",
    "Click here to enter a date.",
)
_PROMPT = "(?:" + "|".join(map(re.escape, sorted(_PROMPTS, key=len, reverse=True))) + ")"
# Prompts are also ordinary words an applicant may quote in a sentence, so one is dropped only
# where it stands as the value: a whole paragraph, all that follows a label's colon, or the
# start or end of a control's text next to what was typed over it.
_ONLY_PROMPTS = re.compile(rf"\s*(?:{_PROMPT}\s*)+")
_PROMPT_AFTER_LABEL = re.compile(rf"([:：∶])[ \t\u3000]*(?:{_PROMPT}[ \t\u3000]*)+(?=\s|$)")
_PROMPT_AT_EDGE = re.compile(rf"^\s*(?:{_PROMPT}\s*)+|(?:\s*{_PROMPT})+\s*$")
# Custom prompts a template's author writes (请填写单位全称, 在此输入…): in the Placeholder
# Text style without the flag (LibreOffice drops it), such wording is still the prompt.
_PROMPT_WORDING = re.compile(
    r"^(?:请|在此|此处|在这里|单击|点击|轻触).{0,12}?(?:输入|填写|填入|录入|键入|选择)|^(?:click|tap|enter|type|select|choose)\b",
    re.IGNORECASE,
)
# A drop-down list's prompt: ordinary words in a plan, so a prompt only as a control's whole content.
_CONTROL_PROMPTS = _PROMPTS + ("选择一项。", "Choose an item.")


@dataclass(frozen=True)
class _PromptSource:
    """What marks a content control's text as its prompt in one document."""
    parts: dict[str, str] = field(default_factory=dict)  # docPart name → its prompt text, normalised (the glossary)
    styles: frozenset[str] = frozenset({"PlaceholderText"})  # ids of the character style named Placeholder Text


@dataclass
class _Field:
    """A complex field being read: its instruction until `separate`/`end`, then its result."""
    instr: list[str] = field(default_factory=list)
    in_result: bool = False
    mark: str | None = None  # an enclosed tick drawn from the instruction: its stored result is not read


# -- XML → rows of cells of lines ---------------------------------------------


@dataclass
class Cell:
    col: int  # first grid column
    span: int
    lines: list[str] = field(default_factory=list)
    # A vertically merged continuation cell (w:vMerge) is empty in the XML; Word
    # shows the first cell's text across the rows, so a table record may use it.
    above: list[str] | None = None


@dataclass
class Row:
    cells: list[Cell]
    is_table: bool
    set_off: bool = False  # a centred or right-aligned paragraph: printed titles and names, not typed values
    struck: tuple[str, ...] = ()  # text struck through (删除线): on the cover, options the applicant deleted
    # The row's runs as (text, emphasis) when one of them is emphasised (`_Reader._emphasis`): on the
    # cover, an option set apart only by its formatting is recorded (`_formatted_choice`).
    formats: tuple[tuple[str, frozenset[str]], ...] = ()


class _Line(str):
    """A paragraph's first line, with the checkbox its list bullet draws (`_bullets`): not part
    of the text (Word's 字数 leaves bullets out), but on the cover it is the option's box."""

    bullet: str

    def __new__(cls, text: str, bullet: str) -> _Line:
        line = super().__new__(cls, text)
        line.bullet = bullet
        return line


_PLAIN: frozenset[str] = frozenset()
_PARAGRAPH_END = ("\n", _PLAIN)  # between the runs of two paragraphs of one table row


@dataclass(frozen=True)
class _Bullets:
    """The checkboxes list bullets draw in one document, and the lists paragraph styles give."""
    drawn: dict[tuple[str, str], str] = field(default_factory=dict)  # (numId, ilvl) -> ☑ or ☐
    styles: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # styleId -> (numId, ilvl)
    default_style: str | None = None  # the style of a paragraph that names none


def _flat_lines(rows: list[Row]) -> list[str]:
    """Every line of `rows`, row by row and cell by cell: reading order."""
    return [line for row in rows for cell in row.cells for line in cell.lines]


@dataclass
class _Shared:
    """What the readers of one document share: the limits left and each content control's reading."""
    rows: int = MAX_ROWS  # rows still allowed
    markup: int = MAX_MARKUP  # tags still allowed
    shown: dict = field(default_factory=dict)  # sdt element → the text it shows
    prompt: dict = field(default_factory=dict)  # sdt element → whether that text is only its prompt
    depth: int = 0  # content controls being read inside one another

    def add_rows(self, n: int) -> None:
        self.rows -= n
        if self.rows < 0:
            raise _TooLarge("too many rows")


class _Reader:
    """Flattens the body into rows; a paragraph outside tables is a one-cell row."""

    def __init__(self, ns: str, chunks=None, prompts: _PromptSource | None = None, shared: _Shared | None = None,
                 bullets: _Bullets | None = None):
        self.ns = ns
        self.chunks = chunks  # r:id -> (rows, pictures) of an altChunk's document, or None
        self.prompts = prompts or _PromptSource()
        self.shared = shared or _Shared()
        self.bullets = bullets or _Bullets()  # the checkboxes list bullets draw (`_bullets`)
        # Only a control's shown text is wanted: nested controls give their remembered text.
        self.text_only = False
        self.rows: list[Row] = []
        self.pictures = 0  # drawings and VML pictures: tells a pasted-in scan from a letter
        self.fields: list[_Field] = []  # complex fields open in the current paragraph
        self.struck: list[str] = []  # struck-through text of the current paragraph, adjacent runs joined
        self._struck_end: tuple[list, int] | None = None  # where the last struck run ended: (output, length)
        self._runs: list[tuple[str, object]] = []  # the current paragraph's runs: (text, w:r element)
        self.formats: tuple[tuple[str, frozenset[str]], ...] = ()  # the last paragraph's, when one is emphasised

    def w(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def attr(self, el, name: str) -> str | None:
        return el.get(self.w(name))

    # block level ---------------------------------------------------------------

    def blocks(self, container) -> None:
        for child in container:
            tag = child.tag
            if tag == self.w("p"):
                lines, boxes = self.paragraph(child)
                self.shared.add_rows(1)
                self.rows.append(Row([Cell(0, 1, lines)], False, self._set_off(child), tuple(self.struck), self.formats))
                for box in boxes:
                    self.blocks(box)
            elif tag == self.w("tbl"):
                self.table(child)
            elif tag == self.w("altChunk"):
                self.rows.extend(self._chunk(child))
            elif tag == self.w("sdt"):
                if self._placeholder(child):
                    continue
                content = child.find(self.w("sdtContent"))
                if content is not None:
                    self.blocks(content)
            elif tag in (self.w("customXml"), self.w("ins"), self.w("moveTo"), self.w("smartTag")):
                self.blocks(child)
            elif tag == f"{{{MC}}}AlternateContent":
                choice = child.find(f"{{{MC}}}Choice")
                if choice is not None:
                    self.blocks(choice)

    def _set_off(self, p) -> bool:
        jc = p.find(f"{self.w('pPr')}/{self.w('jc')}")
        return jc is not None and self.attr(jc, "val") in ("center", "centre", "right", "end", "distribute")

    def _sub(self) -> _Reader:
        """A reader for a part of this document read on its own (a cell's control, a nested table)."""
        return _Reader(self.ns, self.chunks, self.prompts, self.shared, self.bullets)

    def _shown(self, sdt) -> str:
        """The text a content control shows, read once per control.

        Its content is read in text-only mode, where a nested control gives
        its own remembered text instead of being read again: reading each
        level anew doubled the work per level of nesting.
        """
        memo = self.shared.shown
        if sdt in memo:
            return memo[sdt]
        content = sdt.find(self.w("sdtContent"))
        parts: list[str] = []
        if content is not None:
            shared = self.shared
            shared.depth += 1
            if shared.depth > MAX_CONTROL_DEPTH:
                raise _TooLarge("content controls nested too deep")
            try:
                sub = self._sub()
                sub.text_only = True
                sub._inline(content, parts, [], None)
            finally:
                shared.depth -= 1
        memo[sdt] = text = "".join(parts)
        return text

    def _placeholder(self, sdt) -> bool:
        """A content control showing only its prompt (单击或点击此处输入文字。): nothing typed.

        Judged by what it shows, not by w:showingPlcHdr alone: LibreOffice drops
        the flag from a control still showing its prompt and keeps it on one the
        applicant typed into. The prompt is the control's own glossary entry
        or a Word/WPS default prompt (once or repeated); text all in the
        Placeholder Text style is the prompt only when flagged or worded as one,
        since typed or pasted text may stay in that style. A control showing
        no text (a picture) goes by the flag.
        """
        memo = self.shared.prompt
        if sdt not in memo:
            memo[sdt] = self._judge_placeholder(sdt)
        return memo[sdt]

    def _judge_placeholder(self, sdt) -> bool:
        pr = sdt.find(self.w("sdtPr"))
        flag = pr.find(self.w("showingPlcHdr")) if pr is not None else None
        content = sdt.find(self.w("sdtContent"))
        shown = self._shown(sdt).strip()
        text = norm(shown)
        flagged = flag is not None and _truthy(self.attr(flag, "val"), default=True)
        if not text:
            return flagged
        prompts = {norm(prompt) for prompt in _CONTROL_PROMPTS}
        part = pr.find(f"{self.w('placeholder')}/{self.w('docPart')}") if pr is not None else None
        own = self.prompts.parts.get(self.attr(part, "val") or "") if part is not None else None
        if own:
            prompts.add(own)
        if re.fullmatch("(?:" + "|".join(map(re.escape, prompts)) + ")+", text):
            return True
        runs = [r for r in content.iter(self.w("r")) if "".join(t.text or "" for t in r.findall(self.w("t"))).strip()]
        styled = bool(runs) and all(self._run_style(r) in self.prompts.styles for r in runs)
        return styled and (flagged or _PROMPT_WORDING.match(shown) is not None)

    def _run_style(self, r) -> str | None:
        style = r.find(f"{self.w('rPr')}/{self.w('rStyle')}")
        return self.attr(style, "val") if style is not None else None

    def _children(self, el, name: str):
        """Direct children named `name`, also through sdt/customXml wrappers."""
        for child in el:
            if child.tag == self.w(name):
                yield child
            elif child.tag == self.w("sdt"):
                content = child.find(self.w("sdtContent"))
                if content is not None:
                    yield from self._children(content, name)
            elif child.tag in (self.w("customXml"), self.w("ins")):
                yield from self._children(child, name)

    def table(self, tbl) -> None:
        above: dict[int, list[str]] = {}  # grid column → text shown there in the previous row
        for tr in self._children(tbl, "tr"):
            trpr = tr.find(self.w("trPr"))
            if trpr is not None and trpr.find(self.w("del")) is not None:
                continue  # a tracked row deletion
            col = 0
            if trpr is not None:
                before = trpr.find(self.w("gridBefore"))
                if before is not None:
                    col = _int(self.attr(before, "val"), 0)
            cells: list[Cell] = []
            nested: list = []
            shown: dict[int, list[str]] = {}
            struck: list[str] = []
            formats: list[tuple[str, frozenset[str]]] = []
            tcs = list(self._children(tr, "tc"))
            for tc in tcs:
                span = 1
                continued = False
                tcpr = tc.find(self.w("tcPr"))
                if tcpr is not None:
                    gs = tcpr.find(self.w("gridSpan"))
                    if gs is not None:
                        span = max(1, _int(self.attr(gs, "val"), 1))
                    if tcpr.find(self.w("cellDel")) is not None:
                        continue
                    vm = tcpr.find(self.w("vMerge"))
                    continued = vm is not None and (self.attr(vm, "val") or "continue") == "continue"
                lines: list[str] = []
                for child in tc:
                    if child.tag == self.w("tbl") and len(tcs) > 1 and self._narrow(child):
                        lines.extend(self._table_lines(child))
                    elif child.tag == self.w("tbl"):
                        nested.append(child)
                    elif child.tag == self.w("altChunk"):
                        lines.extend(_flat_lines(self._chunk(child)))
                    elif child.tag == self.w("p"):
                        plines, boxes = self.paragraph(child)
                        lines.extend(plines)
                        struck.extend(self.struck)
                        if self.formats:
                            formats.extend((*self.formats, _PARAGRAPH_END))
                        nested.extend(("box", b) for b in boxes)
                    elif child.tag in (self.w("sdt"), self.w("customXml")):
                        if child.tag == self.w("sdt") and self._placeholder(child):
                            continue
                        sub = self._sub()
                        sub.blocks(child.find(self.w("sdtContent")) if child.tag == self.w("sdt") else child)
                        self.pictures += sub.pictures
                        lines.extend(_flat_lines(sub.rows))
                        struck.extend(t for r in sub.rows for t in r.struck)
                        formats.extend(f for r in sub.rows if r.formats for f in (*r.formats, _PARAGRAPH_END))
                inherited = above.get(col) if continued else None
                cells.append(Cell(col, span, lines, inherited))
                shown[col] = inherited if inherited is not None and not any(x.strip() for x in lines) else lines
                col += span
            above = shown
            self.shared.add_rows(1)
            self.rows.append(Row(cells, True, struck=tuple(struck), formats=tuple(formats)))
            for item in nested:
                if isinstance(item, tuple):
                    self.blocks(item[1])
                else:
                    self.table(item)

    def _narrow(self, tbl) -> bool:
        """At most two cells a row: a value split in a little table (phone / e-mail), not a section's table."""
        return all(len(list(self._children(tr, "tc"))) <= 2 for tr in self._children(tbl, "tr"))

    def _table_lines(self, tbl) -> list[str]:
        """A table's lines in reading order, for a table that is part of one cell's value."""
        sub = self._sub()
        sub.table(tbl)
        self.pictures += sub.pictures
        return _flat_lines(sub.rows)

    def _chunk(self, el) -> list[Row]:
        """The rows of the document an altChunk imports (Word shows it in place)."""
        r_id = next((v for k, v in el.attrib.items() if etree.QName(k).localname == "id"), None)
        got = self.chunks(r_id) if self.chunks is not None and r_id else None
        if got is None:
            return []
        rows, pictures = got
        self.pictures += pictures
        return rows

    # run level -----------------------------------------------------------------

    def paragraph(self, p) -> tuple[list[str], list]:
        parts: list[str] = []
        boxes: list = []
        self.fields = []  # a field left open by a broken paragraph ends with it
        self.struck = []
        self._runs = []
        self._inline(p, parts, boxes, None)
        text = "".join(parts)
        self.formats = self._formats(text)
        text = "" if _ONLY_PROMPTS.fullmatch(text) else _PROMPT_AFTER_LABEL.sub(r"\1", text)
        lines = text.split("\n")
        bullet = self._bullet(p)
        if bullet and lines[0].strip():
            lines[0] = _Line(lines[0], bullet)
        return lines, boxes

    def _bullet(self, p) -> str:
        """The checkbox a paragraph's list bullet draws (☑ or ☐), or "".

        The list is the paragraph's own numPr, else its style's (Word's bullet given to a style,
        a list style): numId and level each come from the paragraph when it says, numId 0 is no list.
        """
        bullets = self.bullets
        if not bullets.drawn:
            return ""
        ppr = p.find(self.w("pPr"))
        num = ppr.find(self.w("numPr")) if ppr is not None else None
        num_id = ilvl = None
        if num is not None:
            id_el, lvl_el = num.find(self.w("numId")), num.find(self.w("ilvl"))
            num_id = self.attr(id_el, "val") if id_el is not None else None
            ilvl = self.attr(lvl_el, "val") if lvl_el is not None else None
        if (num_id is None or ilvl is None) and bullets.styles:
            style = ppr.find(self.w("pStyle")) if ppr is not None else None
            style_id = self.attr(style, "val") if style is not None else bullets.default_style
            style_num, style_ilvl = bullets.styles.get(style_id or "", (None, None))
            num_id = num_id if num_id is not None else style_num
            ilvl = ilvl if ilvl is not None else style_ilvl
        return bullets.drawn.get((num_id, ilvl or "0"), "")

    def _inline(self, el, out: list[str], boxes: list, font: str | None) -> None:
        w = self.w
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments, processing instructions
            # w:rt is a phonetic guide (拼音指南) printed over its w:rubyBase, not text of the value.
            if tag in (w("del"), w("moveFrom"), w("delText"), w("pPr"), w("rPr"),
                       w("delInstrText"), f"{{{MC}}}Fallback", w("fldData"), w("rt")):
                continue
            if tag == w("instrText"):
                if self.fields and not self.fields[-1].in_result:
                    self.fields[-1].instr.append(child.text or "")
                continue
            if tag == w("r"):
                if self._hidden(child):
                    continue  # hidden text (w:vanish) is neither printed nor seen
                start = len(out)
                self._inline(child, out, boxes, self._run_font(child))
                if self._struck_through(child):
                    self._note_struck(out, start)
                elif not self.text_only:
                    self._runs.append(("".join(out[start:]), child))
            elif tag == w("t"):
                if not any(f.mark for f in self.fields):
                    out.append(self._text(child.text or "", font))
            elif tag in (w("tab"), w("ptab")):
                out.append("\t")
            elif tag in (w("br"), w("cr")):
                out.append("\n")
            elif tag == w("noBreakHyphen"):
                out.append("-")
            elif tag == w("sym"):
                out.append(self._symbol(self.attr(child, "font") or "", self.attr(child, "char") or ""))
            elif tag == w("fldChar"):
                out.append(self._field_char(child))
            elif tag == w("fldSimple"):
                mark = _enclosed_mark(self.attr(child, "instr") or "")
                if mark is not None:
                    out.append(mark)
                else:
                    self._inline(child, out, boxes, font)
            elif tag == w("sdt"):
                mark = self._sdt_checkbox(child)
                if mark is not None:
                    out.append(mark)
                elif self._placeholder(child):
                    continue
                elif self.text_only:
                    typed = self._shown(child)
                    out.append(_PROMPT_AT_EDGE.sub("", typed) if _PROMPT_AT_EDGE.search(typed) else typed)
                else:
                    content = child.find(w("sdtContent"))
                    if content is not None:
                        start = len(out)
                        self._inline(content, out, boxes, font)
                        typed = "".join(out[start:])
                        if _PROMPT_AT_EDGE.search(typed):  # the prompt left beside what was typed
                            out[start:] = [_PROMPT_AT_EDGE.sub("", typed)]
            elif tag == w("txbxContent"):
                boxes.append(child)
            elif tag in (w("drawing"), w("pict"), w("object")):
                self.pictures += 1
                self._inline(child, out, boxes, font)  # text boxes live inside drawings
            elif tag == w("p"):  # a paragraph reached through an odd wrapper
                out.append("\n")
                self._inline(child, out, boxes, font)
            else:
                self._inline(child, out, boxes, font)

    def _hidden(self, r) -> bool:
        vanish = r.find(f"{self.w('rPr')}/{self.w('vanish')}")
        return vanish is not None and _truthy(self.attr(vanish, "val"), default=True)

    def _formats(self, text: str) -> tuple[tuple[str, frozenset[str]], ...]:
        """The paragraph's runs with their emphasis, kept only where it names a pilot-type option
        and some run is emphasised: all `_formatted_choice` needs, at no cost elsewhere."""
        if len(text) > _MAX_OPTION_LINE or not _ANY_OPTION.search(text):
            return ()
        runs = tuple((piece, self._emphasis(r)) for piece, r in self._runs)
        return runs if any(emphasis for _, emphasis in runs) else ()

    def _emphasis(self, r) -> frozenset[str]:
        """The run's own marks of emphasis an applicant may pick their option with: 加粗, 倾斜,
        下划线, 着重号, 字符边框, 突出显示, 底纹 and a colour that does not read as black (each colour
        its own; Word's 黑色文字1淡色5% 0D0D0D and web greys like 333333 look black on paper)."""
        rpr = r.find(self.w("rPr"))
        if rpr is None:
            return _PLAIN
        found = set()
        for name in ("b", "i"):
            el = rpr.find(self.w(name))
            if el is not None and _truthy(self.attr(el, "val"), default=True):
                found.add(name)
        for name in ("u", "em", "bdr", "highlight"):
            el = rpr.find(self.w(name))
            if el is not None and (self.attr(el, "val") or "single").lower() not in ("none", "nil", "0", "false"):
                found.add(name)
        shd = rpr.find(self.w("shd"))
        if shd is not None and (self.attr(shd, "fill") or "auto").upper() not in ("AUTO", "FFFFFF", "") and \
                (self.attr(shd, "val") or "clear").lower() != "nil":
            found.add("shd")
        color = rpr.find(self.w("color"))
        value = (self.attr(color, "val") or "auto").upper() if color is not None else "AUTO"
        if value != "AUTO" and not _near_black(value):
            found.add("color=" + value)
        return frozenset(found) if found else _PLAIN

    def _struck_through(self, r) -> bool:
        rpr = r.find(self.w("rPr"))
        if rpr is None:
            return False
        marks = (rpr.find(self.w("strike")), rpr.find(self.w("dstrike")))
        return any(m is not None and _truthy(self.attr(m, "val"), default=True) for m in marks)

    def _note_struck(self, out: list[str], start: int) -> None:
        """Keep the text a struck run added to `out`, joined to the struck run just before it."""
        piece = "".join(out[start:])
        end = self._struck_end
        if self.struck and end is not None and end[0] is out and end[1] == start:
            self.struck[-1] += piece
        elif piece:
            self.struck.append(piece)
        self._struck_end = (out, len(out))

    def _run_font(self, r) -> str | None:
        rpr = r.find(self.w("rPr"))
        if rpr is None:
            return None
        fonts = rpr.find(self.w("rFonts"))
        if fonts is None:
            return None
        for key in ("ascii", "hAnsi", "eastAsia", "cs"):
            value = self.attr(fonts, key)
            if value and ("wingdings" in value.lower() or value.strip().lower() == "symbol"):
                return value
        return None

    def _text(self, text: str, font: str | None) -> str:
        """Map symbol-font checkbox glyphs to ☑/☐; other private-use chars vanish.

        Wingdings letters are pictures, so they vanish too; Symbol-font letters
        (Greek) are kept as typed unless they are the √ people insert.
        """
        if not any(0xF000 <= ord(c) <= 0xF0FF for c in text) and not font:
            return text
        symbol = bool(font) and "wingdings" not in font.lower()
        out = []
        for c in text:
            code = ord(c)
            if font and code < 0x100:
                mark = _symbol_mark(font, code | 0xF000)
                out.append(mark if mark or not symbol else c)
                continue
            if not 0xF000 <= code <= 0xF0FF:
                out.append(c)
                continue
            out.append(_symbol_mark(font or "Wingdings", code))
        return "".join(out)

    def _symbol(self, font: str, char: str) -> str:
        try:
            code = int(char, 16)
        except ValueError:
            return ""
        if code < 0x100:
            code |= 0xF000
        if not 0xF000 <= code <= 0xF0FF:
            return chr(code) if code < 0x110000 else ""
        return _symbol_mark(font, code)

    def _sdt_checkbox(self, sdt) -> str | None:
        pr = sdt.find(self.w("sdtPr"))
        if pr is None:
            return None
        box = pr.find(f"{{{W14}}}checkbox")
        if box is None:
            return None
        checked = box.find(f"{{{W14}}}checked")
        value = checked.get(f"{{{W14}}}val") if checked is not None else "0"
        return CHECKED if _truthy(value, default=True) else UNCHECKED

    def _field_char(self, fld) -> str:
        """A complex field's begin, separate or end: the checkbox it draws, if any.

        A FORMCHECKBOX is known at its begin; an enclosed tick (带圈字符) once
        its instruction is complete, at `separate` or, with no result, `end`.
        """
        kind = self.attr(fld, "fldCharType")
        if kind == "begin":
            self.fields.append(_Field())
            return self._form_checkbox(fld)
        if not self.fields or kind not in ("separate", "end"):
            return ""
        current = self.fields[-1]
        mark = ""
        if not current.in_result:
            current.in_result = True
            current.mark = _enclosed_mark("".join(current.instr))
            mark = current.mark or ""
        if kind == "end":
            self.fields.pop()
        return mark

    def _form_checkbox(self, fld) -> str:
        if self.attr(fld, "fldCharType") != "begin":
            return ""
        data = fld.find(self.w("ffData"))
        box = data.find(self.w("checkBox")) if data is not None else None
        if box is None:
            return ""
        checked = box.find(self.w("checked"))
        if checked is not None:
            return CHECKED if _truthy(self.attr(checked, "val"), default=True) else UNCHECKED
        default = box.find(self.w("default"))
        if default is not None and _truthy(self.attr(default, "val"), default=False):
            return CHECKED
        return UNCHECKED


def _symbol_mark(font: str, code: int) -> str:
    if "wingdings" not in font.lower() and "symbol" in font.lower():
        table = _SYMBOL
    else:
        table = _WINGDINGS2 if "2" in font or "3" in font else _WINGDINGS
    return table.get(code, "")


def _truthy(value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "on")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _main_part(zf: zipfile.ZipFile) -> str | None:
    """The name of the main document part, found through the package relationships."""
    names = set(zf.namelist())
    target = None
    if "_rels/.rels" in names:
        rels = etree.fromstring(_read(zf, "_rels/.rels"), _parser())
        for rel in rels:
            if (rel.get("Type") or "").endswith("/officeDocument"):
                target = posixpath.normpath((rel.get("Target") or "").lstrip("/"))
                break
    if target not in names:
        target = "word/document.xml" if "word/document.xml" in names else None
    return target


def _relationships(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, part name) of one part's relationships inside the package."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    if rels_name not in zf.namelist():
        return []
    out = []
    for rel in etree.fromstring(_read(zf, rels_name), _parser()):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External" or not rel.get("Id"):
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        out.append((rel.get("Id"), rel.get("Type") or "", posixpath.normpath(path)))
    return out


def _prompt_source(zf: zipfile.ZipFile, rels: list[tuple[str, str, str]]) -> _PromptSource:
    """The document's own control prompts (glossary docParts) and Placeholder Text style ids.

    Chinese Word gives built-in styles ids like `a5`, so the style is found by
    its name. A part that cannot be read only loses these hints, never the form.
    """
    names = set(zf.namelist())

    def root_of(kind: str, default: str):
        name = next((n for _, t, n in rels if t.endswith("/" + kind)), default)
        return etree.fromstring(_read(zf, name), _parser()) if name in names else None

    parts: dict[str, str] = {}
    styles = set(_PromptSource().styles)
    try:
        glossary = root_of("glossaryDocument", "word/glossary/document.xml")
        if glossary is not None:
            ns = etree.QName(glossary).namespace
            for doc_part in glossary.iter(f"{{{ns}}}docPart"):
                name = doc_part.find(f"{{{ns}}}docPartPr/{{{ns}}}name")
                body = doc_part.find(f"{{{ns}}}docPartBody")
                if name is not None and body is not None:
                    text = norm("".join(t.text or "" for t in body.iter(f"{{{ns}}}t")))
                    if text:
                        parts[name.get(f"{{{ns}}}val") or ""] = text
        style_root = root_of("styles", "word/styles.xml")
        if style_root is not None:
            ns = etree.QName(style_root).namespace
            for style in style_root.iter(f"{{{ns}}}style"):
                name = style.find(f"{{{ns}}}name")
                if name is not None and norm(name.get(f"{{{ns}}}val") or "").lower() == "placeholdertext":
                    styles.add(style.get(f"{{{ns}}}styleId") or "")
    except (etree.XMLSyntaxError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError, _TooLarge):
        pass  # a damaged or oversized styles or glossary part: the form itself may still read
    return _PromptSource(parts, frozenset(styles))


def _bullets(zf: zipfile.ZipFile, rels: list[tuple[str, str, str]]) -> _Bullets:
    """The list levels whose bullet is a checkbox, and the list each paragraph style gives.

    pandoc writes a task list (`- [x] 其它单位`) as list items whose bullet is ☒
    or ☐, and Word's bullet library draws ✓ in Wingdings: the paragraph's text
    then holds only the option's name. The list may be the paragraph's own or
    its style's (a bullet given to a style, a 列表样式 linked by numStyleLink),
    so styles.xml is read when a checkbox bullet or such a link is there.
    Numbered levels and other bullets are left out. A numbering or styles part
    that cannot be read, or is oversized (bounded by MAX_XML_BYTES), only loses
    the bullets.
    """
    name = next((n for _, t, n in rels if t.endswith("/numbering")), None)
    if name is None or name not in zf.namelist():
        return _Bullets()
    try:
        root = etree.fromstring(_read(zf, name), _parser())
    except (etree.XMLSyntaxError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError, _TooLarge):
        return _Bullets()
    ns = etree.QName(root).namespace

    def w(tag: str) -> str:
        return f"{{{ns}}}{tag}"

    def val(el, tag: str) -> str | None:
        found = el.find(w(tag)) if el is not None else None
        return found.get(w("val")) if found is not None else None

    def glyph(lvl) -> str:
        fmt, text = lvl.find(w("numFmt")), lvl.find(w("lvlText"))
        value = text.get(w("val")) if text is not None else ""
        if fmt is None or fmt.get(w("val")) != "bullet" or not value or len(value.strip()) != 1:
            return ""
        c = value.strip()
        if c in CHECKED_CHARS or c in UNCHECKED_CHARS:
            return CHECKED if c in CHECKED_CHARS else UNCHECKED
        fonts = lvl.find(f"{w('rPr')}/{w('rFonts')}")
        faces = [fonts.get(w(k)) or "" for k in ("ascii", "hAnsi", "eastAsia", "cs")] if fonts is not None else []
        font = next((f for f in faces if "wingdings" in f.lower() or f.strip().lower() == "symbol"), None)
        code = ord(c)
        if font and code < 0x100:
            code |= 0xF000
        return _symbol_mark(font or "Wingdings", code) if 0xF000 <= code <= 0xF0FF else ""

    abstracts = {a.get(w("abstractNumId")): a for a in root.findall(w("abstractNum"))}
    levels = {key: {lvl.get(w("ilvl")): glyph(lvl) for lvl in a.findall(w("lvl"))} for key, a in abstracts.items()}
    nums = {num.get(w("numId")): num for num in root.findall(w("num"))}
    links = {key: val(a, "numStyleLink") for key, a in abstracts.items() if val(a, "numStyleLink")}
    linked_levels = {lvl_style: lvl.get(w("ilvl")) for lvl in root.iter(w("lvl")) if (lvl_style := val(lvl, "pStyle"))}
    styles, default_style, list_styles = {}, None, {}
    if links or any(mark for drawn in levels.values() for mark in drawn.values()):
        styles, default_style, list_styles = _style_lists(zf, rels)
    for key, link in links.items():
        # A list style's abstractNum holds no levels: they are in the abstractNum its numbering style's num uses.
        num = nums.get((list_styles.get(link) or (None, None))[0])
        target = val(num, "abstractNumId") if num is not None else None
        if target in levels and target != key:
            levels[key] = levels[target]
    drawn: dict[tuple[str, str], str] = {}
    for num_id, num in nums.items():
        marks = dict(levels.get(val(num, "abstractNumId"), {}))
        for override in num.findall(w("lvlOverride")):
            lvl = override.find(w("lvl"))
            if lvl is not None:
                marks[override.get(w("ilvl"))] = glyph(lvl)
        drawn.update({(num_id, ilvl): mark for ilvl, mark in marks.items() if mark})
    if not drawn:
        return _Bullets()
    # A style naming a list but no level is at the level linked to it (lvl/pStyle), else the first.
    styles = {sid: (num_id, ilvl if ilvl is not None else linked_levels.get(sid)) for sid, (num_id, ilvl) in styles.items()}
    return _Bullets(drawn, styles, default_style)


def _style_lists(zf: zipfile.ZipFile, rels: list[tuple[str, str, str]]):
    """(paragraph styleId -> (numId, ilvl) through basedOn, the default paragraph style,
    numbering styleId -> (numId, ilvl)); numId or ilvl None where no style in the chain says."""
    name = next((n for _, t, n in rels if t.endswith("/styles")), "word/styles.xml")
    if name not in zf.namelist():
        return {}, None, {}
    try:
        root = etree.fromstring(_read(zf, name), _parser())
    except (etree.XMLSyntaxError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError, _TooLarge):
        return {}, None, {}
    ns = etree.QName(root).namespace
    own: dict[str, tuple[str | None, str | None]] = {}
    based: dict[str, str] = {}
    numbering: dict[str, tuple[str | None, str | None]] = {}
    default = None
    for style in root.iter(f"{{{ns}}}style"):
        sid, kind = style.get(f"{{{ns}}}styleId") or "", style.get(f"{{{ns}}}type") or "paragraph"
        num = style.find(f"{{{ns}}}pPr/{{{ns}}}numPr")
        values = (None, None)
        if num is not None:
            id_el, lvl_el = num.find(f"{{{ns}}}numId"), num.find(f"{{{ns}}}ilvl")
            values = (id_el.get(f"{{{ns}}}val") if id_el is not None else None,
                      lvl_el.get(f"{{{ns}}}val") if lvl_el is not None else None)
        if kind == "numbering":
            numbering[sid] = values
            continue
        if kind != "paragraph":
            continue
        own[sid] = values
        parent = style.find(f"{{{ns}}}basedOn")
        if parent is not None:
            based[sid] = parent.get(f"{{{ns}}}val") or ""
        if _truthy(style.get(f"{{{ns}}}default"), default=False):
            default = sid
    resolved: dict[str, tuple[str | None, str | None]] = {}
    for sid, (num_id, ilvl) in own.items():
        seen, at = {sid}, based.get(sid)
        while (num_id is None or ilvl is None) and at in own and at not in seen:  # a cycle ends the chain
            seen.add(at)
            num_id = num_id if num_id is not None else own[at][0]
            ilvl = ilvl if ilvl is not None else own[at][1]
            at = based.get(at)
        if num_id is not None or ilvl is not None:
            resolved[sid] = (num_id, ilvl)
    return resolved, default, numbering


def _read(zf: zipfile.ZipFile, name: str, shared: _Shared | None = None) -> bytes:
    """A part's bytes, refused when it inflates past MAX_XML_BYTES (the size in the
    directory may lie) or, for the parts read as the document, holds more tags than are left."""
    info = zf.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise _TooLarge("part too large")
    with zf.open(info) as fh:
        data = fh.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise _TooLarge("part too large")
    if shared is not None:
        # Every element starts with '<' (text holds &lt;), so this bounds the tree before lxml
        # builds it: 60 MB of one-character paragraphs took 37 s and 2.6 GB to read.
        shared.markup -= data.count(b"<")
        if shared.markup < 0:
            raise _TooLarge("too many elements")
    return data


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _rows(data: bytes, depth: int = 0, shared: _Shared | None = None) -> tuple[list[Row], int] | None:
    """The body as rows, and how many pictures it holds."""
    shared = shared or _Shared()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        target = _main_part(zf)
        if target is None:
            return None
        try:
            root = etree.fromstring(_read(zf, target, shared), _parser())
        except etree.XMLSyntaxError as e:
            if "depth" in str(e).lower():  # libxml2 refuses nesting past 256 levels: a bomb, not damage
                raise _TooLarge("nested too deep") from e
            raise
        ns = etree.QName(root).namespace
        if ns not in (W_MAIN, W_STRICT):
            return None
        body = root.find(f"{{{ns}}}body")
        if body is None:
            return None
        rels = _relationships(zf, target)
        targets = {r_id: name for r_id, _, name in rels}
        used: set[str] = set()

        def chunks(r_id: str) -> tuple[list[Row], int] | None:
            # Each imported part once, and a few in all: a document pointing at one big
            # chunk thousands of times would otherwise parse it thousands of times.
            name = targets.get(r_id)
            if name is None or name in used or len(used) >= MAX_CHUNKS or name not in zf.namelist():
                return None
            used.add(name)
            return _chunk_rows(_read(zf, name, shared), depth, shared)

        reader = _Reader(ns, chunks, _prompt_source(zf, rels), shared, _bullets(zf, rels))
        reader.blocks(body)
        return reader.rows, reader.pictures


# -- altChunk: a document Word imports into the form when it opens it ----------


def _chunk_rows(data: bytes, depth: int, shared: _Shared) -> tuple[list[Row], int] | None:
    """Rows of an imported chunk: a .docx, an MHT or HTML page (web 导出Word tools), or plain text."""
    if data.startswith(b"PK\x03\x04"):
        return _rows(data, depth + 1, shared) if depth < 1 else None
    from ..mime import decode_bytes  # the mail reader's charset rules (GB labels as GB18030)

    head = data[:300].lstrip().lower()
    if head.startswith((b"mime-version", b"content-type")):
        text = _mht_html(data)
        if text is None:
            return None
    else:
        text = decode_bytes(data).lstrip("\ufeff")
    if "<" in text and re.search(r"<(?:html|body|p|div|table|br|span|h\d)\b", text, re.I):
        rows, pictures = _html_rows(text)
        shared.add_rows(len(rows))
        return rows, pictures
    shared.add_rows(text.count("\n") + 1)
    return [Row([Cell(0, 1, [line])], False) for line in text.splitlines()], 0


def _mht_html(data: bytes) -> str | None:
    """The HTML page inside an MHT (MIME) chunk, as text."""
    import email
    import email.policy

    from ..mime import decode_bytes

    for part in email.message_from_bytes(data, policy=email.policy.compat32).walk():
        if part.get_content_type() == "text/html":
            return decode_bytes(part.get_payload(decode=True) or b"", part.get_content_charset()).lstrip("\ufeff")
    return None


_HTML_BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "pre",
                          "table", "tr", "section", "article", "center", "body", "html", "form"})
_HTML_SKIP = frozenset({"script", "style", "head", "title"})


def _html_rows(text: str) -> tuple[list[Row], int]:
    """HTML as the reader's rows: tables give table rows, other blocks one-cell rows."""
    import lxml.html

    doc = lxml.html.document_fromstring(text)
    rows: list[Row] = []
    _html_blocks(doc, rows)
    return rows, len(doc.findall(".//img"))


def _html_blocks(el, rows: list[Row]) -> None:
    loose = _html_space(el.text)
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "table":
            rows.extend(_html_table(child))
        elif tag in _HTML_BLOCKS and tag not in ("tr",):
            if loose.strip():
                rows.append(Row([Cell(0, 1, loose.strip().split("\n"))], False))
            loose = ""
            if any(isinstance(c.tag, str) and (c.tag in _HTML_BLOCKS) for c in child):
                _html_blocks(child, rows)
            else:
                rows.append(Row([Cell(0, 1, _html_text(child).split("\n"))], False))
        elif tag not in _HTML_SKIP and tag:
            loose += _html_text(child)
        loose += _html_space(child.tail)
    if loose.strip():
        rows.append(Row([Cell(0, 1, loose.strip().split("\n"))], False))


def _html_table(table) -> list[Row]:
    rows = []
    for tr in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"):
        cells, col = [], 0
        for td in tr.xpath("./td|./th"):
            span = max(1, _int(td.get("colspan"), 1))
            cells.append(Cell(col, span, _html_text(td).split("\n")))
            col += span
        rows.append(Row(cells, True))
    return rows


def _html_text(el) -> str:
    """Visible text of an element, a line break for <br> and between blocks."""
    if not isinstance(el.tag, str) or el.tag in _HTML_SKIP:
        return ""
    parts = [_html_space(el.text)]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "br":
            parts.append("\n")
        elif tag in _HTML_BLOCKS or tag in ("td", "th"):
            parts.append("\n" + _html_text(child) + "\n")
        else:
            parts.append(_html_text(child))
        parts.append(_html_space(child.tail))
    return re.sub(r"\n\s*\n", "\n", "".join(parts)).strip("\n")


def _html_space(text: str | None) -> str:
    """HTML white space: source line breaks and runs of spaces show as one space."""
    return re.sub(r"[ \t\r\n]+", " ", (text or "").replace("\xa0", " "))


# -- labels and sections -------------------------------------------------------


def norm(text: str) -> str:
    """Comparison form: NFKC, no whitespace (forms space out labels: 单 位 名 称)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def after_label(line: str, label: str) -> str | None:
    """The text after `label` (and a colon) if `line` starts with it, else None.

    Matching ignores whitespace and width so `单 位 名 称：` matches 单位名称;
    the returned remainder keeps the applicant's own characters.
    """
    target = norm(label)
    i = 0
    j = 0
    while j < len(target):
        if i >= len(line):
            return None
        ch = line[i]
        if ch.isspace():
            i += 1
            continue
        if unicodedata.normalize("NFKC", ch) != target[j]:
            return None
        i += 1
        j += 1
    rest = line[i:].lstrip()
    # "申报单位（盖章）：": a note on the label, not the value
    note = _LABEL_NOTE.match(rest)
    if note:
        after = rest[note.end():].lstrip()
        if after[:1] in _COLONS or _NOTE_WORDS.search(note.group(1)):
            rest = after
    if rest[:1] in _COLONS:
        rest = rest[1:]
    # "申报单位：____新乡市红旗区科协____": the blank line printed on the form
    return rest.strip().strip("_＿").strip()


_COLONS = (":", "：", "∶")
_LABEL_NOTE = re.compile(r"^[(（]\s*([^()（）]{1,12}?)\s*[)）]")
_NOTE_WORDS = re.compile(r"盖\s*章|公\s*章|签\s*[字名章]|全\s*称|必\s*填")


SECTIONS = (
    (1, ("申报单位基本情况",)),
    (2, ("主要参加人员",)),
    (3, ("工作基础",)),
    (4, ("试点建设方案",)),
    (5, ("考核指标",)),
    (6, ("计划进度及阶段目标", "计划进度")),
    (7, ("经费支出预算表", "经费支出预算")),
    (8, ("申报单位意见",)),
)
_ROMAN = r"(?:VIII|VII|VI|IV|V|III|II|I)"  # Ⅰ–Ⅷ after NFKC
_NUMBERED = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.,，]|[(（][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十]+(?:部分|章|节)[:：、.]?"
    rf"|[1-8][、.](?!\d)|[(（][1-8][)）]|{_ROMAN}[、.,，])"
)
# A number written straight before the title: 三　工作基础 (the space is gone after `norm`),
# ③工作基础 (NFKC: 3工作基础), Ⅲ工作基础. A heading only when the printed title follows it exactly,
# so that a sentence opening with a numeral (三年来…, 3个乡镇…) stays text.
_GLUED_NUMBER = re.compile(rf"^(?:[一二三四五六七八九十]{{1,2}}|[1-8]|{_ROMAN})(?=[^\W\d_])")
_DINGBAT_DIGITS = {0x2776 + i: str(i + 1) for i in range(8)} | {0x278A + i: str(i + 1) for i in range(8)}  # ❶ ➊
_BRACKETED = re.compile(r"^[(（][^()（）]*[)）][:：]?$")


class _Heading(NamedTuple):
    index: int  # section 1–8
    rest: str  # content after the heading's colon
    exact: bool  # the printed title itself, not a renamed or extended one
    numeral: int | None  # the number written before it (五、 → 5)


def heading_index(line: str) -> _Heading | None:
    """The section `line` starts, if any.

    A numbered line (`五、考核指标：…`, `四、试点建设工作方案`) is a heading and
    keeps what follows the colon as content; without a number only a line
    that is the heading alone counts, since `考核指标：组建队伍1支` inside the
    plan is the plan's text. A printed parenthesis such as `(单位:人民币元)`
    is part of the heading. A renamed or extended title is only `exact=False`:
    `split_sections` decides whether it is a heading or a sub-heading of the text.
    """
    n = norm(line.translate(_DINGBAT_DIGITS))
    if not n:
        return None
    if n.startswith("【") and "】" in n:
        n = n[1:].replace("】", "", 1)  # 【工作基础】: a title in brackets, standing alone
    m = _NUMBERED.match(n)
    glued = m is None and _GLUED_NUMBER.match(n)
    if glued:
        m = glued
    numbered = m is not None
    numeral = _numeral(m.group()) if m else None
    body = n[m.end():] if m else n
    tolerant: _Heading | None = None
    for index, keys in SECTIONS:
        for key in keys:
            if body.startswith(key):
                rest = body[len(key):]
                exact = not rest or rest[0] in ":：(（"
                if glued and not exact:
                    continue
            elif numbered and not glued and _renamed(key, body):
                rest = body[re.match(r"[^:：(（]*", body).end():]
                exact = False
            else:
                continue
            found = None
            if not rest:
                found = _Heading(index, "", exact, numeral)
            elif rest[0] in ":：":
                if not numbered and rest[1:]:
                    continue
                cut = re.search("[:：]", line)
                found = _Heading(index, line[cut.end():].strip() if cut else "", exact, numeral)
            elif rest[0] in "(（" and len(n) <= 60 and (numbered or _BRACKETED.match(rest)):
                found = _Heading(index, "", exact, numeral)
            elif numbered and len(rest) < 12:
                found = _Heading(index, "", False, numeral)
            if found is not None and found.exact:
                return found
            tolerant = tolerant or found
    return tolerant


def _numeral(prefix: str) -> int | None:
    """5 for `五、`, `（五）`, `第五部分`, `5.`, `Ⅴ、` (V); None for 十一 and beyond."""
    digit = re.search(r"[1-8]", prefix)
    if digit:
        return int(digit.group())
    roman = re.match(_ROMAN, prefix)
    if roman:
        return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII").index(roman.group()) + 1
    chinese = re.search("[一二三四五六七八九十]+", prefix)
    if chinese and len(chinese.group()) == 1:
        return "一二三四五六七八九十".index(chinese.group()) + 1
    return None


def _renamed(key: str, body: str) -> bool:
    """`试点建设工作方案` for `试点建设方案`: the key's characters in order, a few more added."""
    title = re.match(r"[^:：(（。，,;；]*", body).group()
    if not 0 <= len(title) - len(key) <= 4:
        return False
    chars = iter(title)
    return all(c in chars for c in key)


@dataclass
class Region:
    rows: list[Row]
    title: str = ""  # the heading line that starts it (七's may say 单位：万元)

    def lines(self) -> list[str]:
        return _flat_lines(self.rows)

    def text(self) -> str:
        return "\n".join(self.lines())


def split_sections(rows: list[Row], copies: list | None = None) -> dict[int, Region]:
    """Cut the row stream at headings; 0 is the cover (and 填报说明).

    `copies`, when given, receives each whole copy of the form found in the
    file as (its titles {section: position}, whether it is the one read).
    """
    chosen = _choose_headings(rows, copies)
    regions: dict[int, Region] = {i: Region([]) for i in range(9)}
    current = 0
    for r, row in enumerate(rows):
        out_cells: list[Cell] = []
        for c, cell in enumerate(row.cells):
            kept: list[str] = []
            for k, line in enumerate(cell.lines):
                found = chosen.get((r, c, k))
                if found is not None:
                    if kept:
                        out_cells.append(Cell(cell.col, cell.span, kept, cell.above))
                    if out_cells:
                        regions[current].rows.append(Row(out_cells, row.is_table, row.set_off, row.struck, row.formats))
                    out_cells, kept = [], []
                    current = found.index
                    regions[current].title = line
                    if found.rest:
                        kept.append(found.rest)
                    continue
                kept.append(line)
            if kept or not cell.lines:
                out_cells.append(Cell(cell.col, cell.span, kept, cell.above))
        if out_cells:
            regions[current].rows.append(Row(out_cells, row.is_table, row.set_off, row.struck, row.formats))
    return regions


def _choose_headings(rows: list[Row], copies: list | None = None) -> dict[tuple[int, int, int], _Heading]:
    """The lines that start sections, by (row, cell, line).

    Printed titles win: the plan's own sub-heading `五、工作计划进度` or
    `五、预期考核指标` must not cut the sections when the real headings follow.
    A renamed title is a heading only for a section with no printed title
    anywhere, when its number is the section's and it falls between the
    neighbouring headings.
    """
    found = [
        ((r, c, k), h)
        for r, row in enumerate(rows)
        for c, cell in enumerate(row.cells)
        for k, line in enumerate(cell.lines)
        if (h := heading_index(line)) is not None
    ]
    chosen = _printed_headings(rows, found, copies)
    for index in range(1, 9):
        if index in chosen:
            continue
        lo = max((p for i, p in chosen.items() if i < index), default=(-1, -1, -1))
        hi = min((p for i, p in chosen.items() if i > index), default=(len(rows), 0, 0))
        for pos, h in found:
            if not h.exact and h.index == index and h.numeral == index and lo < pos < hi:
                chosen[index] = pos
                break
    by_pos = dict(found)
    return {pos: by_pos[pos] for pos in chosen.values()}


class _Title(NamedTuple):
    pos: tuple[int, int, int]  # (row, cell, line)
    heading: _Heading
    quality: tuple[int, int]  # (carries its own section's number, stands alone in its cell)


def _printed_headings(rows: list[Row], found: list, seen: list | None = None) -> dict[int, tuple[int, int, int]]:
    """{section: position} of the printed titles, in order, as the form has them.

    The plan may carry its own `考核指标：` or `六、计划进度` line, the very
    words of a later title, so the first match is not enough. Of the chains
    of titles in document order, take the one covering most sections; then
    the one whose titles carry their own section's number (`五、`: the opinion
    cell's `申报单位意见：` under 八 has none); then titles standing alone in
    their cell, as printed (a sub-heading shares the plan's cell). A second
    whole form in the file (a blank template left below the filled one, or
    above it) is another chain as good: the one holding more text is read.
    """
    titles = []
    for pos, h in found:
        if h.exact:
            r, c, _ = pos
            alone = sum(1 for line in rows[r].cells[c].lines if line.strip()) == 1
            titles.append(_Title(pos, h, (int(h.numeral == h.index), int(alone))))
    copies = _copies(titles)
    if not copies:
        return {}
    chain = max(copies, key=lambda chain: _chars_between(rows, min(chain.values()), max(chain.values())))
    if seen is not None:
        seen[:] = [(dict(copy), copy is chain) for copy in copies]
    return _later_look_alikes(rows, titles, chain)


def _best_chain(titles: list[_Title]) -> tuple[tuple[int, ...], dict]:
    """The best chain of `titles` in document order, scored (sections, numbers, alone, earliness)."""
    # best[k]: the best-scoring chain whose last title is section k, as (score, {section: position}).
    best: dict[int, tuple[tuple[int, int, int, int], dict]] = {}
    for rank, title in enumerate(titles):
        index = title.heading.index
        own = (1, *title.quality, -rank)
        score, chain = max((best[k] for k in best if k < index), key=lambda b: b[0], default=((0, 0, 0, 0), {}))
        score = tuple(a + b for a, b in zip(score, own))
        if index not in best or score > best[index][0]:
            best[index] = (score, {**chain, index: title.pos})
    return max(best.values(), key=lambda b: b[0]) if best else ((), {})


def _copies(titles: list[_Title]) -> list[dict]:
    """The best chain, and every other chain as good lying wholly before or after it, in document order.

    Earliness only orders chains within one copy of the form; copies of the
    whole form are told apart by what they hold (`_printed_headings`).
    """
    found: list[dict] = []
    top = None  # the score of the best chain of all, found first
    segments = [titles]
    while segments:
        segment = segments.pop()
        score, chain = _best_chain(segment)
        top = top or score
        if not chain or score[:3] != top[:3]:
            continue
        found.append(chain)
        first, last = min(chain.values()), max(chain.values())
        segments += [[t for t in segment if t.pos < first], [t for t in segment if t.pos > last]]
    return sorted(found, key=lambda chain: min(chain.values()))


def _chars_between(rows: list[Row], start: tuple[int, int, int], end: tuple[int, int, int]) -> int:
    """Characters (no spaces) of the lines strictly between two positions: how filled a copy is."""
    return sum(
        len(norm(line))
        for r in range(start[0], end[0] + 1)
        for c, cell in enumerate(rows[r].cells)
        for k, line in enumerate(cell.lines)
        if start < (r, c, k) < end
    )


def _later_look_alikes(rows: list[Row], titles: list[_Title], chain: dict) -> dict:
    """Each title moved to the last as good look-alike of it before the next chosen title.

    A look-alike in the plan comes before the real title, so between the
    neighbouring titles the later one wins. The last title only yields to one
    before any other section's title: past that lies another copy of the form.
    """
    order = sorted(chain)
    quality = {t.pos: t.quality for t in titles}
    for n in reversed(range(len(order))):
        index = order[n]
        if n + 1 < len(order):
            hi = chain[order[n + 1]]
        else:
            hi = next((t.pos for t in titles if t.pos > chain[index] and t.heading.index != index), (len(rows), 0, 0))
        for t in titles:
            if t.heading.index == index and chain[index] < t.pos < hi and t.quality >= quality[chain[index]]:
                chain[index] = t.pos
    return chain


def cell_text(cell: Cell) -> str:
    return "\n".join(line.strip() for line in cell.lines if line.strip())


def label_values(region: Region, labels: dict[str, str]) -> list[tuple[str, str]]:
    """(key, value) for each label cell/line found, in reading order.

    `labels` maps label text → key. A value is the rest of the label's line;
    when that is empty, the lines under the label in its cell, else the next
    non-label cell of the row, else the row (or paragraph) below when that
    row holds no label: people write where there is room.
    """
    ordered = sorted(labels, key=lambda s: -len(norm(s)))

    def find(line: str) -> tuple[str, str] | None:
        for label in ordered:
            rest = after_label(line, label)
            if rest is not None:
                return labels[label], rest
        return None

    # A later "标签：" on the line, after white space: 试点负责人：王建国　　职称/职务：主席.
    later = re.compile(  # after a non-space: each run of spaces is tried once (no quadratic backtracking)
        r"(?<=\S)[^\S\n]+(?=(?:" + "|".join(map(re.escape, ordered)) + r")[^\S\n]*(?:[(（][^()（）]{1,12}[)）][^\S\n]*)?[:：∶])"
    )

    def pieces(line: str) -> list[str]:
        return _pairs(line, find, later)

    out: list[tuple[str, str]] = []
    held: list[_Entry] = []  # the previous row's labels; empty ones may take the row below
    held_row: Row | None = None
    for row in region.rows:
        if any(not e.value for e in held):
            if _is_value_row(row, held_row, find):
                for e in held:
                    if not e.value:
                        e.value = "\n".join(
                            cell_text(c) for c in row.cells if c.col <= e.hi and c.col + c.span - 1 >= e.lo and cell_text(c)
                        )
                out.extend((e.key, e.value) for e in held)
                held, held_row = [], None
                continue
            if not any(cell_text(c) for c in row.cells) and row.is_table == held_row.is_table:
                continue  # a blank line between a label and what is written under it
        out.extend((e.key, e.value) for e in held)
        held, held_row = _row_labels(row, find, pieces), row
    out.extend((e.key, e.value) for e in held)
    return out


def _pairs(line: str, find, later: re.Pattern) -> list[str]:
    """A line cut into its "标签：值" pieces: at tabs (a row typed or pasted without a table:
    试点负责人⇥王建国⇥职称/职务⇥主席) and where a known label and its colon follow white space.
    Pieces of one value split by a tab are joined again with a space."""
    out: list[str] = []
    bare = False  # the last piece is a label still waiting for its value
    for piece in (p.strip() for p in line.split("\t")):
        if not piece:
            continue
        found = find(piece)
        if found is None and out and not bare:
            out[-1] += " " + piece
        else:
            out.append(piece)
        bare = found is not None and not found[1]
    return [cut.strip() for piece in out for cut in later.split(piece) if cut.strip()]


@dataclass
class _Entry:
    key: str
    value: str
    lo: int  # grid columns the label and its empty value cells cover
    hi: int


def _row_labels(row: Row, find, pieces) -> list[_Entry]:
    """The labels of one row with the values found on the row itself (`pieces` cuts a line
    holding more than one "标签：值")."""
    entries: list[_Entry] = []
    pending: _Entry | None = None  # a label still waiting for its value
    for cell in row.cells:
        lines = [piece for line in cell.lines if line.strip() for piece in pieces(line)]
        taken: list[str] = []
        for line in lines:
            found = find(line)
            if found is not None:
                if pending is not None and taken:
                    pending.value = "\n".join(taken)
                key, rest = found
                entry = _Entry(key, rest, cell.col, cell.col + cell.span - 1)
                entries.append(entry)
                pending = None if rest else entry
                taken = []
            elif pending is not None and not _is_note(line):
                taken.append(line)
        if pending is not None:
            pending.hi = max(pending.hi, cell.col + cell.span - 1)
            if taken:
                pending.value = "\n".join(taken)
                pending = None
    return entries


def _is_note(line: str) -> bool:
    """A bracketed note under a label, such as （全称）, is not its value."""
    return bool(_BRACKETED.match(norm(line)))


def _is_value_row(row: Row, above: Row, find) -> bool:
    """Whether `row` is what was written under the labels of the row `above`."""
    if row.is_table != above.is_table or row.set_off:
        return False
    raw = [line for c in row.cells for line in c.lines if line.strip()]
    lines = [line.strip() for line in raw]
    if not lines or any(_printed(line) for line in raw):
        return False
    if any((h := heading_index(line)) is not None and h.exact for line in lines):
        return False  # a section's title (三、工作基础 under a header row typed with tabs) is no value
    return not any(find(line) is not None or line.endswith(_COLONS) or _is_note(line) for line in lines)


# The form's own printed lines (the organiser under 申报时间, the titles), also when retyped.
_PRINTED_LINES = {
    norm(t) for t in ("新乡市科学技术协会", "新乡市科协", "新乡市科技志愿服务试点建设", "申报书", "新乡市科技志愿服务试点建设申报书", "填报说明")
}


def _printed(line: str) -> bool:
    """A printed line, or one pushed to the middle with spaces (WPS centres the organiser so): not a typed value."""
    text = line.strip()
    return norm(text) in _PRINTED_LINES or len(line) - len(line.lstrip()) > len(text)


# Parenthesised guidance printed on the form, e.g. （…限 1500 字以内）.
_GUIDANCE = re.compile(
    r"[(（][^()（）]*?(?:字以内|字内|数量可增减|实施阶段以工作方案为准|核实后填写|单位[:：]\s*人民币元|单位[:：]\s*元)[^()（）]*?[)）]"
)


def strip_guidance(text: str) -> str:
    return _GUIDANCE.sub("", text)


def clean_lines(text: str) -> str:
    lines = [line.strip() for line in strip_guidance(text).split("\n")]
    return "\n".join(line for line in lines if line)


# -- the sections ----------------------------------------------------------------


_COVER_LABELS = {"申报单位": "unit", "主要负责人": "leader", "联系方式": "contact", "申报时间": "date"}
# 八's label, read only so that it is not taken for `申报单位` + `意见：` when a blank
# copy of the whole form stands before the filled one (all of it is then the cover).
_COVER_LOOK_ALIKES = {"申报单位意见": "opinion"}


def _cover(region: Region) -> dict:
    values: dict[str, str] = {}
    for key, value in label_values(region, {**_COVER_LABELS, **_COVER_LOOK_ALIKES}):
        if value and not values.get(key):
            values[key] = value
    # A list bullet drawing a checkbox (pandoc's task list: ☒ 其它单位) is the option's box here.
    text = "\n".join(getattr(line, "bullet", "") + line for line in region.lines())
    reading = read_pilot_types(text, struck=[t for row in region.rows for t in row.struck])
    marked = ""
    if not reading.types and not reading.unrecognised and CHECKED not in _normalise_marks(text):
        # No tick anywhere, one option set apart by its formatting alone: most likely the choice,
        # but formatting is also pasted (web colours), left by a reviewer (highlight) or the
        # template's. A receipt must not name a type the unit never ticked: the pilot-type rule
        # asks the applicant to tick it, naming the option that looked chosen.
        marked = _formatted_choice(region.rows) or ""
    return {
        "pilot_types": reading.types,
        "pilot_type_marked": marked,
        "problems": (_unrecognised_pilot_type(reading.unrecognised, reading.written),) if reading.unrecognised else (),
        "cover_unit": visible(values.get("unit", "")),  # no bidi/zero-width marks in a name shown everywhere
        "cover_leader": values.get("leader", ""),
        "cover_contact": values.get("contact", ""),
        "cover_date": values.get("date", ""),
    }


def _near_black(hex_colour: str) -> bool:
    """A text colour that prints as black: every channel dark (an unreadable value counts as black)."""
    try:
        return all(int(hex_colour[i:i + 2], 16) < 0x60 for i in (0, 2, 4)) and len(hex_colour) == 6
    except ValueError:
        return True


def _unrecognised_pilot_type(words: tuple[str, ...], written: bool = False) -> Finding:
    """A tick beside words that are none of the options, or such words written as the answer
    with no option left (`written`): say what was ticked or written, not only 未勾选."""
    quoted = "、".join(f"“{w[:20]}…”" if len(w) > 20 else f"“{w}”" for w in words)
    return Finding(
        "pilot_type_unrecognized",
        ERROR,
        f"封面“试点类型”{'填写' if written else '勾选'}的是{quoted}，不是申报书列出的选项，无法确定试点类型。"
        f"请在{''.join(f'“{t}”' for t in PILOT_TYPES)}中勾选一项（不属于前三类的单位请勾选“{PILOT_TYPES[-1]}”），"
        "然后重新发送 Word 版和盖章 PDF 版。",
        "封面 / 试点类型",
    )


_OPTION = re.compile("|".join(map(re.escape, PILOT_TYPES)))
_OPEN, _CLOSE = "(（[【〔［", ")）]】〕］"
# (filled, hollow) marks of one kind, as radio buttons and online-form printouts pair them.
_RADIO_FAMILIES = (("●◉⦿", "○◯〇⚪"), ("◆", "◇"), ("★", "☆"), ("▲", "△"))
_HOLLOW = "".join(hollow for _, hollow in _RADIO_FAMILIES)  # 〇 is a letter (Nl) to Unicode, ○ a symbol
_BOX_GAP = "[ \t\u3000]*"
_H_SPACE = " \t\u3000\xa0"


def _alias_pattern(alias: str) -> str:
    """An option's other wording as a pattern: brackets of either width, 、 also typed as / or ，."""
    classes = {"(": "[(（]", "（": "[(（]", ")": "[)）]", "）": "[)）]"} | dict.fromkeys("、/／,，", "[、/／,，]")
    return "".join(classes.get(c, re.escape(c)) for c in alias)


_ALIASES = sorted(((a, name) for name, aliases in PILOT_TYPE_ALIASES.items() for a in aliases), key=lambda x: -len(x[0]))
# An alias that begins its printed name (县级科协 in 县级科协试点) is not looked at there.
_ALIAS = re.compile("|".join(
    f"({_alias_pattern(a)}{f'(?!{re.escape(name[len(a):])})' if name.startswith(a) else ''})" for a, name in _ALIASES
))
_ALIAS_MARKS = CHECKED + UNCHECKED + "".join(f + h for f, h in _RADIO_FAMILIES)
_TYPE_HEAD = re.compile(r"[\s]*(?:试[\s]*点[\s]*类[\s]*型[\s]*[:：∶]?[\s]*)?")
_NAME_NOTE = re.compile(r"[(（][^()（）]*[)）]")


def _printed_names(text: str) -> str:
    """`text` with each other wording of an option (高校科协, 其它, 县（市、区）科协) written as the
    printed name, where it stands as a whole option name: beside a box with nothing glued to its
    other side, alone on its line, or all that follows 试点类型：. Inside a sentence it stays text."""
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if _ALIAS.search(line) is None:
            continue
        head = _TYPE_HEAD.match(line).end()  # where a name standing alone on the line would start

        def printed(m: re.Match, line: str = line, head: int = head) -> str:
            i, j = m.start() - 1, m.end()
            while i >= 0 and line[i] in _H_SPACE:
                i -= 1
            while j < len(line) and line[j] in _H_SPACE:
                j += 1
            prev, nxt = line[i] if i >= 0 else "", line[j] if j < len(line) else ""
            left = not prev or i < m.start() - 1 or prev in _ALIAS_MARKS or prev in ":：∶"
            right = not nxt or j > m.end() or nxt in _ALIAS_MARKS or nxt in "(（、，,;；。:：∶"
            boxed = (prev != "" and prev in _ALIAS_MARKS and right) or (nxt != "" and nxt in _ALIAS_MARKS and left)
            whole = m.start() == head and (not nxt or _NAME_NOTE.fullmatch(line[j:].rstrip(_H_SPACE)) is not None)
            return _ALIASES[m.lastindex - 1][1] if boxed or whole else m.group()

        lines[n] = _ALIAS.sub(printed, line)
    return "\n".join(lines)


def _normalise_marks(text: str) -> str:
    """Every way of ticking written as ☑, every empty box as ☐.

    `（√）` `[√]` `【√】` are ticks and empty brackets are boxes; a tick typed
    next to the printed box (`√□`, `□√`) is one checked box.
    """
    t = text.replace("其他单位", "其它单位")
    t = re.sub("[\ufe0e\ufe0f]", "", t)  # ☑️: the emoji variation selector
    t = "".join(CHECKED if c in CHECKED_CHARS else UNCHECKED if c in UNCHECKED_CHARS else c for c in t)
    t = re.sub(f"[{re.escape(_OPEN)}][ \t\u3000]*{CHECKED}[ \t\u3000]*[{re.escape(_CLOSE)}]", CHECKED, t)
    t = re.sub(f"[{re.escape(_OPEN)}][ \t\u3000]*[{re.escape(_CLOSE)}]", UNCHECKED, t)
    t = _printed_names(t)
    # Radio buttons (●县级科协试点 ○高校科协试点): beside a filled mark of their own family, hollow
    # marks in a box's place are empty boxes, so the filled one is the odd box (`_odd_box`). Without
    # one, a lone ☆ or 〇 among □ is itself that odd box; away from an option ○ is a zero (二○二五年).
    for filled, hollow in _RADIO_FAMILIES:
        if re.search(f"[{filled}]{_BOX_GAP}(?:{_OPTION.pattern})|(?:{_OPTION.pattern}){_BOX_GAP}[{filled}]", t):
            t, before = re.subn(f"[{hollow}](?={_BOX_GAP}(?:{_OPTION.pattern}))", UNCHECKED, t)
            t, after = re.subn(f"((?:{_OPTION.pattern}){_BOX_GAP})[{hollow}]", lambda m: m.group(1) + UNCHECKED, t)
            if before or after:
                # Filled and hollow marks of one family: every filled one is a choice (two ● among
                # ○ are two choices, which the rules then question, not none).
                t = re.sub(f"[{filled}](?={_BOX_GAP}(?:{_OPTION.pattern}))", CHECKED, t) if before else t
                t = re.sub(f"((?:{_OPTION.pattern}){_BOX_GAP})[{filled}]", lambda m: m.group(1) + CHECKED, t) if after else t
    return re.sub(f"[{CHECKED}{UNCHECKED}]{{2,}}", lambda m: CHECKED if CHECKED in m.group() else UNCHECKED, t)


class _Mark(NamedTuple):
    checked: bool
    glued_prev: bool  # written against the end of the option before it (县级科协试点☑)
    glued_next: bool  # written against the start of the option after it (☑高校科协试点)


_TOKEN = re.compile(f"({_OPTION.pattern})|([{CHECKED}{UNCHECKED}])")


class _Unknown(str):
    """Words a tick stands beside that are none of the options (社会组织, 街道科协): an option
    of their own while the line is read, so that tick is never given to a neighbour."""


_MAX_OPTION_WORD = 16  # characters: an option's name, not a sentence
_MAX_OPTION_LINE = 400  # characters: a line of options (four names and their boxes), not a page of text


def _line_tokens(line: str, unknown: bool = False) -> list[tuple[str, object]]:
    """("name", option) and ("mark", _Mark) in reading order; other text is skipped.

    With `unknown`, the word on a tick's box side that is no option becomes a name of its own,
    an `_Unknown` (`_unknown_words`).
    """
    tokens: list[tuple[str, object]] = []
    unknown = unknown and len(line) <= _MAX_OPTION_LINE
    spans: list[tuple[int, int]] = []  # where each token stands, for `unknown` only
    name_end = -1
    for m in _TOKEN.finditer(line):  # a name where one starts, else a box
        if m.lastindex == 1:
            tokens.append(("name", m.group()))
            name_end = m.end()
        else:
            i = m.start()
            tokens.append(("mark", _Mark(line[i] == CHECKED, name_end == i, _OPTION.match(line, i + 1) is not None)))
        if unknown:
            spans.append(m.span())
    if not unknown or not any(kind == "mark" and mark.checked for kind, mark in tokens):
        return tokens
    words = _unknown_words(line, tokens, spans)
    if not words:
        return tokens
    placed = [(start, token) for (start, _), token in zip(spans, tokens)]
    placed += [(start, ("name", _Unknown(line[start:end].strip(_WORD_PUNCT)))) for start, end in words]
    return [token for _, token in sorted(placed, key=lambda p: p[0])]


_WORD_PUNCT = "（）()[]【】、，,;；。."


def _unknown_words(line: str, tokens: list, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of the words ticks stand beside on their box side that are no option.

    The box side is the line's convention: when every option has its box before
    it (or every one after it), a tick's box side is the word after (before) it,
    whatever that word is. Otherwise a tick with an option on neither side takes
    the word after it, else the one before, if it looks like an option's name.
    """
    names = [span for (kind, _), span in zip(tokens, spans) if kind == "name"]

    def skip(i: int, step: int) -> int:
        while 0 <= i < len(line) and line[i] in _H_SPACE:
            i += step
        return i

    def boxed(i: int) -> bool:
        return 0 <= i < len(line) and line[i] in (CHECKED, UNCHECKED)

    def word(i: int, step: int) -> tuple[int, int] | None:
        if not 0 <= i < len(line) or line[i] in _H_SPACE or boxed(i):
            return None
        j = i
        while 0 <= j + step < len(line) and line[j + step] not in _H_SPACE and not boxed(j + step):
            j += step
        return (min(i, j), max(i, j) + 1)

    ends = [e for _, e in names]

    def known(w: tuple[int, int] | None) -> bool:
        """Whether the word holds an option's name (names are in order and never overlap)."""
        k = bisect.bisect_right(ends, w[0]) if w is not None else len(names)
        return k < len(names) and names[k][0] < w[1]

    before = bool(names) and all(boxed(skip(s - 1, -1)) for s, _ in names)
    after = bool(names) and all(boxed(skip(e, 1)) for _, e in names)
    found: dict[int, tuple[int, int]] = {}
    for (kind, mark), (p, _) in zip(tokens, spans):
        if kind != "mark" or not mark.checked:
            continue
        right, left = word(skip(p + 1, 1), 1), word(skip(p - 1, -1), -1)
        clear = before != after
        if clear:
            sides = [right] if before else [left]
        elif before:  # every box stands between two names: the word the tick is written against
            glued_right, glued_left = word(p + 1, 1) is not None, word(p - 1, -1) is not None
            clear = glued_right != glued_left
            sides = [right] if glued_right and not glued_left else [left] if glued_left and not glued_right else [right, left]
        elif known(right) or known(left):
            continue
        else:
            sides = [right, left]
        for w in sides:
            if w is not None and not known(w) and (clear or _option_like(line[w[0]:w[1]])) and line[w[0]:w[1]].strip(_WORD_PUNCT):
                found[w[0]] = w
                break
    return sorted(found.values())


def _option_like(word: str) -> bool:
    """A short name (社会组织, 民营企业), not a label (试点类型：), a number or a sentence."""
    core = word.strip(_WORD_PUNCT)
    return (
        0 < len(core) <= _MAX_OPTION_WORD
        and not any(c in ":：∶。，" for c in core)
        and "试点类型" not in core
        and re.search(r"[^\W\d_]", core) is not None
    )


def _owner(tokens: list[tuple[str, object]], names: list[int], i: int, marks_before: bool) -> str:
    """The option mark `i` belongs to if boxes precede (`marks_before`) or follow
    their names; a mark past the end goes to the nearest name. `names`: name token indexes."""
    k = bisect.bisect(names, i)  # names[k] is the first name after the mark
    if marks_before:
        j = names[k] if k < len(names) else names[-1]
    else:
        j = names[k - 1] if k > 0 else names[0]
    return tokens[j][1]


def _owners(tokens: list[tuple[str, object]], names: list[int], i: int, marks_before: bool) -> set[str]:
    """The option(s) a tick belongs to on a line whose boxes all precede (or all follow) their names.

    A tick that is not the box next to its name is an extra mark typed beside
    an option (`□县级科协试点 √  □高校科协试点`): when every option kept its
    own box, it is the option it was written after (before, for boxes that
    follow names); otherwise both neighbours, and the check asks.
    """
    step = 1 if marks_before else -1
    j = i + step
    while 0 <= j < len(tokens) and tokens[j][0] != "name":
        if tokens[j][0] == "mark":
            break  # another mark stands between the tick and the name: it is that name's box
        j += step
    else:
        return {_owner(tokens, names, i, marks_before)}
    boxed = all(0 <= n - step < len(tokens) and tokens[n - step][0] == "mark" for n in names)
    beside = _owner(tokens, names, i, not marks_before)
    if boxed:
        return {beside}
    return {beside, _owner(tokens, names, i, marks_before)}


def _boxes_past_names(tokens: list[tuple[str, object]], names: list[int]) -> set[str] | None:
    """A line whose names stand together with the boxes around them, as LibreOffice's
    PDF text gives `☑ 县级科协试点 高校科协试点 □`: the boxes in order are the names' in order.

    With one empty box per name, an extra tick is the option whose box
    precedes it (follows it, when no box leads the line). None when the
    marks cannot be paired so.
    """
    marks = [mark.checked for kind, mark in tokens if kind == "mark"]
    options = [tokens[i][1] for i in names]
    if len(marks) == len(options):
        return {name for name, checked in zip(options, marks) if checked}
    if len(marks) < len(options) or marks.count(False) != len(options):
        return None
    before = tokens[0][0] == "mark"
    chosen = set()
    for p, checked in enumerate(marks):
        if checked:
            k = marks[:p].count(False) - (1 if before else 0)
            if not 0 <= k < len(options):
                return None
            chosen.add(options[k])
    return chosen


def _moved_boxes(tokens: list[tuple[str, object]], names: list[int]) -> set[str] | None:
    """LibreOffice draws a ☑ it lacks in the text font from a fallback font, and its PDF text writes
    that glyph at the end of the line: `□县级科协试点　 高校科协试点　□市级学会试点　□其它单位 ☑`.

    When every other option keeps its box on one side (before it, or after it) and the marks left
    past the last option's own box are as many as the options without one, they are those options'
    boxes, in order. None when the line is not laid out so.
    """
    marks = sum(1 for kind, _ in tokens if kind == "mark")
    if marks != len(names):
        return None
    tail = [mark.checked for kind, mark in tokens[names[-1] + 1:] if kind == "mark"]
    readings = []
    for step in (-1, 1):  # boxes before their names, then after
        boxed = [0 <= n + step < len(tokens) and tokens[n + step][0] == "mark" for n in names]
        bare = [tokens[n][1] for n, has in zip(names, boxed) if not has]
        surplus = tail[1:] if step == 1 and boxed[-1] else tail
        # A box written against the option on its other side (县级科协试点☑ 高校…) is that option's.
        glued = any(tokens[n + step][1].glued_prev if step == -1 else tokens[n + step][1].glued_next
                    for n, has in zip(names, boxed) if has)
        if glued or not bare or len(bare) != len(surplus) or (step == 1 and any(k == "mark" for k, _ in tokens[: names[0]])):
            continue
        chosen = {tokens[n][1] for n, has in zip(names, boxed) if has and tokens[n + step][1].checked}
        readings.append((len(bare), chosen | {name for name, checked in zip(bare, surplus) if checked}))
    # The convention leaving fewer options without a box; both as good: the line does not say.
    if not readings or (len(readings) == 2 and readings[0][0] == readings[1][0]):
        return None
    return min(readings, key=lambda r: r[0])[1]


def _line_choice(tokens: list[tuple[str, object]]) -> set[str]:
    """The checked options of one line, by the line's own convention.

    Marks before the first name mean every box precedes its name, marks after
    the last name that every box follows it. When the line does not say
    (marks only between names, or at both ends), a mark written against one
    name and spaced from the other belongs to the first; otherwise both
    candidates are returned and the pilot-type check asks the applicant to
    tick one, instead of the reader guessing.
    """
    names = [i for i, (kind, _) in enumerate(tokens) if kind == "name"]
    ticks = [i for i, (kind, mark) in enumerate(tokens) if kind == "mark" and mark.checked]
    if len(names) == 1:
        return {tokens[names[0]][1]} if ticks else set()
    if names[-1] - names[0] == len(names) - 1:
        paired = _boxes_past_names(tokens, names)
        if paired is not None:
            return paired
    moved = _moved_boxes(tokens, names)
    if moved is not None:
        return moved
    lead = any(k == "mark" for k, _ in tokens[: names[0]])
    trail = any(k == "mark" for k, _ in tokens[names[-1] + 1:])
    if lead != trail:
        return {name for i in ticks for name in _owners(tokens, names, i, marks_before=lead)}
    chosen = set()
    for i in ticks:
        before, after = _owner(tokens, names, i, True), _owner(tokens, names, i, False)
        mark = tokens[i][1]
        if before == after:
            chosen.add(before)
        elif mark.glued_next != mark.glued_prev:
            chosen.add(before if mark.glued_next else after)
        else:
            chosen |= {before, after}
    return chosen


def _names_then_marks(text: str) -> tuple[str, ...] | None:
    """LibreOffice's PDF text of the cover: every name, then every box
    (`县级科协试点 高校科协试点 市级学会试点 其它单位 ☑ □ □ □`); the Nth box is the Nth name's.
    None when the text is not laid out that way."""
    tokens = [t for line in text.split("\n") for t in _line_tokens(line)]
    names = [v for k, v in tokens if k == "name"]
    marks = [v.checked for k, v in tokens if k == "mark"]
    if len(names) < 2 or len(marks) != len(names) or any(k == "mark" for k, _ in tokens[: len(names)]):
        return None
    chosen = {name for name, checked in zip(names, marks) if checked}
    return tuple(name for name in PILOT_TYPES if name in chosen)


class PilotReading(NamedTuple):
    types: tuple[str, ...]  # the options chosen, in form order
    unrecognised: tuple[str, ...] = ()  # ticked words that are none of the options, as written
    written: bool = False  # `unrecognised` is the answer written with no box, every option deleted


def pilot_types(text: str, *, struck: Iterable[str] = ()) -> tuple[str, ...]:
    """The pilot types the applicant chose on the cover (`read_pilot_types`)."""
    return read_pilot_types(text, struck=struck).types


def read_pilot_types(text: str, *, struck: Iterable[str] = ()) -> PilotReading:
    """The pilot types the applicant chose on the cover, and what was ticked that is no option.

    Boxes and names may share a line in either order, stand on lines of
    their own (a table of cells), or the other options may simply have been
    deleted, or struck through (`struck`: the struck-through text): an option
    left alone is the chosen one. A strike is also emphasis, or lies over the
    whole ticked line, so struck options are deleted only when the cover
    read as it stands shows no choice: a tick is never moved to another option.
    Nor is a tick beside words that are none of the options (`_Unknown`): they
    are returned as `unrecognised`, and no option is read for that tick.
    """
    marked = _normalise_marks(text)
    chosen = _choice(marked)
    names = {m.group() for piece in struck for m in _OPTION.finditer(_normalise_marks(piece))}
    if chosen.types or chosen.unrecognised or not names:
        return chosen
    return _choice(_strike_out(marked, names))


def _strike_out(marked: str, names: set[str]) -> str:
    """`marked` without the struck option names, each with its box (the one before it, or after it
    when the form puts boxes after the names), so no box is left over for a neighbour to take."""
    first = _OPTION.search(marked)
    before = first is not None and marked[: first.start()].rstrip()[-1:] in (CHECKED, UNCHECKED)
    boxes = f"[{CHECKED}{UNCHECKED}]"
    for name in names:
        pattern = f"(?:{boxes}\\s*)?{re.escape(name)}" if before else f"{re.escape(name)}(?:\\s*{boxes})?"
        marked = re.sub(pattern, "", marked)
    return marked


def _choice(marked: str) -> PilotReading:
    """The options chosen on a cover whose marks are normalised (`_normalise_marks`)."""
    paired = _names_then_marks(marked)
    if paired is not None:
        return PilotReading(paired)
    items: list[tuple[str, object]] = []  # ("names", tokens) | ("marks", checked) | ("text", None)
    block = False  # in the 试点类型 block: its own line and the option lines after it
    for line in marked.split("\n"):
        tokens = _line_tokens(line)
        has_name = any(k == "name" for k, _ in tokens)
        if "试点类型" in norm(line):
            block = True
        elif not tokens and line.strip():
            block = False
        if (has_name or block) and len(line) <= _MAX_OPTION_LINE and any(k == "mark" and m.checked for k, m in tokens):
            # Only there is a word beside a tick an option of its own: elsewhere on the cover
            # (填报说明) a ✓ is a bullet.
            tokens = _line_tokens(line, unknown=True)
        if any(k == "name" for k, _ in tokens):
            items.append(("names", tokens))
        elif tokens and not re.sub(f"[{CHECKED}{UNCHECKED}\\s]", "", line):
            items.append(("marks", any(mark.checked for _, mark in tokens)))
        elif line.strip():
            items.append(("text", None))
    named = [i for i, (kind, _) in enumerate(items) if kind == "names"]
    if not named:
        answer = _written_answer(marked)
        return PilotReading((), (answer,), written=True) if answer else PilotReading(())
    chosen: set[str] = set()
    for i in named:
        chosen |= _line_choice(items[i][1])
    # Boxes in cells of their own: each belongs to the option line it precedes
    # (or follows), by the convention the first and last options show.
    loose = [i for i, (kind, value) in enumerate(items) if kind == "marks" and value]
    if loose:
        lead = named[0] > 0 and items[named[0] - 1][0] == "marks"
        trail = named[-1] + 1 < len(items) and items[named[-1] + 1][0] == "marks"
        readings = [lead] if lead != trail else [True, False]
        for i in loose:
            for before in readings:
                j = i + 1 if before else i - 1
                if 0 <= j < len(items) and items[j][0] == "names":
                    names = [v for k, v in items[j][1] if k == "name"]
                    chosen.add(names[0] if before else names[-1])
    unknown = list(dict.fromkeys(
        v for i in named for k, v in items[i][1] if k == "name" and isinstance(v, _Unknown) and v in chosen
    ))
    found = {v for i in named for k, v in items[i][1] if k == "name" and not isinstance(v, _Unknown)}
    if len(found) == 1 and not unknown:
        chosen = found  # the other options deleted: what is left is the choice
    if not chosen:
        odd = _odd_box(marked)
        chosen = {odd} if odd else chosen
    return PilotReading(tuple(name for name in PILOT_TYPES if name in chosen), tuple(str(v) for v in unknown))


def _odd_box(text: str) -> str | None:
    """The option whose box holds another symbol (●县级科协试点, □ before every other option).

    ● ★ ◆ ▲ are bullets or decoration anywhere else, so the symbol counts only
    in the box position of a form where every other option kept its empty box,
    and no tick was made anywhere.
    """
    options = list(_OPTION.finditer(text))
    if len(options) < 2 or CHECKED in text:
        return None
    for before in (True, False):
        odd: list[str] = []
        for m in options:
            i, step = (m.start() - 1, -1) if before else (m.end(), 1)
            while 0 <= i < len(text) and text[i].isspace():
                i += step
            c = text[i] if 0 <= i < len(text) else " "
            if c == UNCHECKED:
                continue
            if unicodedata.category(c) not in ("So", "Sm") and c not in _HOLLOW:
                break
            odd.append(m.group())
        else:
            if len(odd) == 1:
                return odd[0]
    return None


# The label as printed: 试点类型 opening its line, then a colon or nothing more on the line.
_TYPE_LABEL = re.compile(r"\s*试\s*点\s*类\s*型\s*([:：∶]?)")


def _written_answer(marked: str) -> str | None:
    """The words written as the 试点类型 answer where every option was deleted and nothing
    ticked (`试点类型：社会组织`, or on the line below): an answer, but none of the options.

    Only words that look like an option's name count: not a bracketed note (（请勾选）),
    not the next cover label, not a sentence, nor 试点类型 inside a sentence.
    """
    if CHECKED in marked or _OPTION.search(marked):
        return None
    lines = marked.split("\n")
    for n, line in enumerate(lines):
        label = _TYPE_LABEL.match(line)
        rest = line[label.end():].strip(_H_SPACE + UNCHECKED) if label else ""
        if label and (label.group(1) or not rest):
            break
    else:
        return None
    below = [text for text in (line.strip(_H_SPACE + UNCHECKED) for line in lines[n + 1:]) if text]
    answer = rest or (below[0] if below else "")
    if (not answer or _NAME_NOTE.fullmatch(answer) or _printed(answer)
            or any(norm(answer).startswith(label) for label in (*_COVER_LABELS, *_COVER_LOOK_ALIKES))):
        return None
    return answer if _option_like(answer) else None


_ANY_OPTION = re.compile(f"{_OPTION.pattern}|其他单位")
_OPTION_DRESS = re.compile(f"[{_H_SPACE}{CHECKED}{UNCHECKED}□☐{re.escape(_OPEN + _CLOSE)}、，,;；。.:：∶]*")


def _formatted_choice(rows: list[Row]) -> str | None:
    """The one option set apart by its formatting (underlined, bold, highlighted, coloured …) where
    no box is ticked: a mark of emphasis the other three options do not carry.

    The emphasis must lie on the option's whole name and on little else (its box, spaces,
    brackets): an underlined cover value that holds an option's name is no choice. Each of the
    four options must be printed once; two options each set apart their own way choose nothing.
    """
    counts = {name: 0 for name in PILOT_TYPES}
    for row in rows:
        for line in (line for cell in row.cells for line in cell.lines):
            for m in _OPTION.finditer(line.replace("其他单位", "其它单位")):
                counts[m.group()] += 1
    if any(n != 1 for n in counts.values()):
        return None
    marks: dict[str, frozenset[str]] = {}
    for row in rows:
        if not row.formats:
            continue
        text = "".join(piece for piece, _ in row.formats).replace("其他单位", "其它单位")
        bounds = list(itertools.accumulate(len(piece) for piece, _ in row.formats))
        for m in _OPTION.finditer(text):
            first, last = bisect.bisect_right(bounds, m.start()), bisect.bisect_left(bounds, m.end())
            runs = [row.formats[k] for k in range(first, last + 1) if row.formats[k][0].strip()]
            span_start = bounds[first - 1] if first else 0
            around = text[span_start:m.start()] + text[m.end():bounds[last]]
            if runs and _OPTION_DRESS.fullmatch(around):
                marks[m.group()] = frozenset.intersection(*(emphasis for _, emphasis in runs))
    held = {mark: {name for name in PILOT_TYPES if mark in marks.get(name, _PLAIN)} for name in marks for mark in marks[name]}
    singled = {next(iter(names)) for names in held.values() if len(names) == 1}
    return singled.pop() if len(singled) == 1 else None


def _basic(region: Region) -> dict:
    labels = {
        "单位名称": "unit", "试点负责人": "leader", "试点联系人": "contact",
        "职称/职务": "title", "职务/职称": "title", "职称": "title", "职务": "title",
        "电子邮箱": "email", "电子信箱": "email", "邮箱": "email", "E-mail": "email", "Email": "email",
        "联系电话": "phone", "手机号码": "phone", "手机号": "phone", "手机": "phone", "电话": "phone",
        "单位地址": "address", "通讯地址": "address", "地址": "address",
    }
    people = {"leader": {}, "contact": {}}
    current = "leader"
    unit = address = ""
    for key, value in label_values(region, labels):
        if key in ("leader", "contact"):
            current = key
            people[key].setdefault("name", value)
        elif key == "unit":
            unit = unit or value
        elif key == "address":
            address = address or value
        else:
            if not people[current].get(key):
                people[current][key] = value
    return {
        "unit_name": visible(unit),  # no bidi/zero-width marks in a name shown everywhere
        "address": address,
        "leader": Person(**{k: v for k, v in people["leader"].items()}),
        "contact": Person(**{k: v for k, v in people["contact"].items()}),
    }


def _tabbed(region: Region) -> Region:
    """The region with each paragraph of two or more tab-separated pieces read as a table row, one
    cell per piece (empty ones kept, so the columns line up with a header typed the same way): the
    notice's text, copied, gives its tables as such lines (序号⇥姓名⇥性别…)."""
    rows = []
    for row in region.rows:
        lines = [line for cell in row.cells for line in cell.lines if line.strip()]
        if row.is_table or len(row.cells) != 1 or len(lines) != 1 or lines[0].count("\t") < 2:
            rows.append(row)
            continue
        cells = [Cell(col, 1, [piece.strip()] if piece.strip() else []) for col, piece in enumerate(lines[0].split("\t"))]
        rows.append(Row(cells, True, row.set_off, row.struck, row.formats))
    return Region(rows, region.title)


def _columns(header: Row, rules: list[tuple[str, tuple[str, ...]]]) -> dict[int, tuple[int, str]]:
    """Map each header cell's grid span to a field, by keyword."""
    cols: dict[int, tuple[int, str]] = {}
    for cell in header.cells:
        n = norm(cell_text(cell))
        for name, keys in rules:
            if any(k in n for k in keys) and name not in {v[1] for v in cols.values()}:
                cols[cell.col] = (cell.span, name)
                break
    return cols


def _field_of(cell: Cell, cols: dict[int, tuple[int, str]]) -> str | None:
    for start, (span, name) in cols.items():
        if start <= cell.col < start + span:
            return name
    return None


def _table_records(region: Region, rules, is_header, stop=None, skip=None, merged=False, settle=None):
    """Rows under the header as {field: text}; header repeats and `skip` rows are skipped.

    With `merged`, a vertically merged cell gives its text to every row it spans.
    `stop` and `skip` see the row and the header's columns; `settle(header rows,
    columns)` may adjust the columns once the header (one row or two) is read.
    Returns (records, stop_row_index or None, columns, the header's rows).
    """
    cols: dict[int, tuple[int, str]] | None = None
    header: list[Row] = []
    in_header = False  # right under a header row: a second header row may follow
    records: list[dict[str, str]] = []
    for i, row in enumerate(region.rows):
        if is_header(row):
            if cols is None:
                cols, header = _columns(row, rules), [row]
            in_header = True
            continue
        if cols is None:
            continue
        if in_header and _continues_header(row):
            if not records:  # the first header's own rows name columns; a repeated header's are skipped
                header.append(row)
                _narrow_columns(cols, _columns(row, rules))
            continue
        if in_header and not records and settle is not None:
            settle(header, cols)
        in_header = False
        if stop is not None and stop(row, cols):
            return records, i, cols, header
        if not row.is_table or (skip is not None and skip(row, cols)):
            continue
        rec: dict[str, str] = {}
        for cell in row.cells:
            name = _field_of(cell, cols)
            text = cell_text(cell)
            if not text and merged and cell.above:
                text = cell_text(Cell(cell.col, cell.span, cell.above))
            if name and text:
                rec[name] = (rec[name] + "\n" + text) if name in rec else text
        records.append(rec)
    return records, None, cols or {}, header


# A unit written in a cell of its own: （元） under 金额 in a two-row header, 单位：万元.
_UNIT_NOTE = re.compile(r"^[(（\[【]?(?:单位[:：]?)?(?:人民币)?(?:万元|千元|元|万|千)[)）\]】]?$")


def _continues_header(row: Row) -> bool:
    """A second header row: cells merged down from the header (w:vMerge) beside sub-headings
    (申请 / 自筹 under 金额) or unit notes, and no number, or nothing but unit notes."""
    if not row.is_table:
        return False
    texts = [norm(cell_text(c)) for c in row.cells]
    filled = [t for t in texts if t]
    if not filled or any(re.search(r"\d", t) for t in filled):
        return False
    merged_down = any(c.above is not None and not t for c, t in zip(row.cells, texts))
    return merged_down or all(_UNIT_NOTE.match(t) for t in filled)


def _narrow_columns(cols: dict[int, tuple[int, str]], sub: dict[int, tuple[int, str]]) -> None:
    """A field named again in a second header row, inside its first-row span, takes that narrower column."""
    for col, (span, name) in sub.items():
        for start, (wide, known) in list(cols.items()):
            if known == name and start <= col < start + wide and span < wide:
                del cols[start]
                cols[col] = (span, name)


def _row_has(row: Row, *keys: str) -> bool:
    texts = [norm(cell_text(c)) for c in row.cells]
    return all(any(k in t for t in texts) for k in keys)


_PARTICIPANT_COLS = [
    ("seq", ("序号",)), ("name", ("姓名",)), ("gender", ("性别",)),
    ("role", ("承担", "主要工作")), ("title", ("职务", "职称")),
    ("employer", ("工作单位", "单位")), ("phone", ("联系方式", "电话", "手机")),
]


def _participants(region: Region) -> tuple[Participant, ...]:
    records, *_ = _table_records(
        region, _PARTICIPANT_COLS, lambda r: _row_has(r, "姓名") and (_row_has(r, "序号") or _row_has(r, "性别")), merged=True
    )
    out = []
    for rec in records:
        if any(rec.get(k) for k in ("name", "title", "employer", "role", "phone")):
            out.append(Participant(**{k: strip_guidance(v).strip() for k, v in rec.items()}))
    return tuple(out)


_PLACEHOLDER_PERIOD = re.compile(r"^[\s*＊]*年[\s*＊]*月至[\s*＊]*月$")


def _schedule(region: Region) -> tuple[Stage, ...]:
    rules = [("name", ("实施阶段", "阶段")), ("goal", ("目标",)), ("period", ("时间",))]
    records, *_ = _table_records(region, rules, lambda r: _row_has(r, "目标") and (_row_has(r, "阶段") or _row_has(r, "时间")))
    out = []
    for rec in records:
        name = clean_lines(rec.get("name", ""))
        goal = clean_lines(rec.get("goal", ""))
        period = clean_lines(rec.get("period", ""))
        if _PLACEHOLDER_PERIOD.match(period):
            period = ""
        if re.fullmatch(r"[.。…·\s]*", name):
            name = ""
        if goal or period:
            out.append(Stage(name=name, goal=goal, period=period))
    return tuple(out)


_BUDGET_COLS = [("seq", ("序号",)), ("item", ("支出事项", "事项", "项目", "内容")), ("amount", ("金额",)), ("basis", ("测算", "依据", "标准"))]


# 合计, 合计：3600, 合计（大写）：叁仟陆佰元整, 合计人民币3600元; not 小计类耗材 (an item).
_TOTAL = re.compile(
    r"^(小计|合计|总计|共计)(?:[(（][^()（）]{0,8}[)）])?(?:[:：].*|(?:人民币)?[0-9０-９¥￥零壹贰叁肆伍陆柒捌玖拾佰仟].*)?$"
)
_TOTAL_LABEL = re.compile(r"^\s*(?:小\s*计|合\s*计|总\s*计|共\s*计)\s*(?:[(（][^()（）]{0,8}[)）])?\s*[:：]?")
# What may stand before the amount in its cell: （小写）：, 大写:, 人民币, ￥ is left to parse_amount.
_AMOUNT_NOTE = re.compile(r"^\s*(?:[(（]\s*(?:大写|小写|元|人民币|金额)\s*[)）]|大写|小写)\s*[:：]?\s*")


def _amount_start(cols: dict[int, tuple[int, str]]) -> int | None:
    return next((start for start, (_, name) in cols.items() if name == "amount"), None)


def _label_cells(row: Row, cols: dict[int, tuple[int, str]]) -> list[str]:
    """The normalised cells where a sum row writes 合计: any cell starting left of the amount column
    (序号, 类别, 支出事项), never 测算依据 (which may say 共计2000份)."""
    amount = _amount_start(cols)
    if amount is not None:
        return [norm(cell_text(c)) for c in row.cells if c.col < amount and _field_of(c, cols) != "basis"]
    cells = [norm(cell_text(c)) for c in row.cells if _field_of(c, cols) in ("seq", "item")]
    if not any(f in ("seq", "item") for _, f in cols.values()):
        cells = [t for t in (norm(cell_text(c)) for c in row.cells) if t][:1]
    return cells


def _is_total_row(row: Row, cols: dict[int, tuple[int, str]]) -> bool:
    """A 小计/合计/总计/共计 row: a sum, never an item; `小计类耗材` is an item (norm drops the spaces in 合  计)."""
    return any(_TOTAL.match(t) for t in _label_cells(row, cols))


def _is_grand_total_row(row: Row, cols: dict[int, tuple[int, str]]) -> bool:
    """The row holding the budget total; 小计 rows only sum part of the items."""
    return any(_TOTAL.match(t) and not t.startswith("小计") for t in _label_cells(row, cols))


# Money other than what is requested from the call: the limit is about the 申请 (requested) amount.
_OWN_FUNDS = ("自筹", "配套", "其他", "其它", "单位出资", "单位承担")
_REQUESTED = ("申请", "申报", "资助", "补助", "市科协")


def _requested_column(header: list[Row], cols: dict[int, tuple[int, str]]) -> None:
    """With two amount columns (申请金额 | 自筹金额), read the requested one, wherever it stands.

    The call caps the money asked for (经费支出合计不超过 4000 元), so the
    applicant's own contribution is neither an item's amount nor the total.
    """
    amount = _amount_start(cols)
    span = cols[amount][0] if amount is not None else 0
    candidates = []
    for depth, row in enumerate(header):
        for cell in row.cells:
            t = norm(cell_text(cell))
            # 申请 / 自筹 written under a merged 金额 need not repeat the word.
            under = depth > 0 and amount is not None and amount <= cell.col < amount + span
            if t and ("金额" in t or under) and not _UNIT_NOTE.match(t):
                rank = 0 if any(k in t for k in _REQUESTED) else 2 if any(k in t for k in _OWN_FUNDS) else 1
                candidates.append((rank, -depth, cell.col, cell))
    if len(candidates) < 2:
        return
    best = min(candidates, key=lambda c: c[:3])[3]
    for start, (_, name) in list(cols.items()):
        if name == "amount" or start == best.col:
            del cols[start]
    cols[best.col] = (best.span, "amount")


_UNIT_FACTORS = {"万": Decimal(10000), "千": Decimal(1000), "": Decimal(1)}
_UNIT_IN_HEADER = re.compile(r"[(（/／\[【]\s*(?:单位[:：]?)?\s*(?:人民币)?\s*([万千]?)元?\s*[)）\]】]?$|单位[:：]?\s*(?:人民币)?\s*([万千]?)元")
_UNIT_NOTE_LINE = re.compile(r"单位[:：]?\s*(?:人民币)?\s*([万千]?)元")
# 100万元 is far beyond any budget of this kind: bare numbers that large were typed in 元 under a
# heading left saying 万元, and multiplying them would only produce an absurd reply.
_IMPLAUSIBLE = Decimal(1_000_000)


def _budget_unit(region: Region, header: list[Row], cols: dict[int, tuple[int, str]]) -> Decimal:
    """Yuan per bare number in the amount column: 金额（万元） or a note 单位：万元 above the table.

    The amount column's header (and the unit row under it) decides; then a
    单位 note in the other header cells; then the nearest one above the table,
    the section's heading last (the printed one says 单位:人民币元).
    """
    amount = _amount_start(cols)
    span = cols[amount][0] if amount is not None else 0
    in_amount, elsewhere = [], []
    for row in header:
        for cell in row.cells:
            t = norm(cell_text(cell))
            overlaps = amount is not None and cell.col < amount + span and amount < cell.col + cell.span
            (in_amount if overlaps else elsewhere).append(t)
    for texts, pattern in ((in_amount, _UNIT_IN_HEADER), (elsewhere, _UNIT_NOTE_LINE)):
        for t in texts:
            m = pattern.search(t)
            if m:
                return _UNIT_FACTORS[next((g for g in m.groups() if g is not None), "")]
    first = next((i for i, row in enumerate(region.rows) if header and row is header[0]), 0)
    for line in [*reversed(_flat_lines(region.rows[:first])), region.title]:
        m = _UNIT_NOTE_LINE.search(norm(line))
        if m:
            return _UNIT_FACTORS[m.group(1)]
    return Decimal(1)


def _budget(region: Region) -> dict:
    is_header = lambda r: _row_has(r, "金额") and (_row_has(r, "支出事项") or _row_has(r, "序号"))  # noqa: E731
    is_stop = lambda r, cols: _is_grand_total_row(r, cols) or _row_has(r, "开户")  # noqa: E731
    skip = lambda r, cols: _is_total_row(r, cols) or _only_unit_notes(r)  # noqa: E731
    records, stop, cols, header = _table_records(
        region, _BUDGET_COLS, is_header, stop=is_stop, skip=skip, settle=_requested_column
    )
    rows = []
    for rec in records:
        rec = {k: clean_lines(v) for k, v in rec.items()}
        if rec.get("item") or rec.get("amount") or rec.get("basis"):
            rows.append(rec)
    total_text = capital = ""
    if stop is not None and _is_grand_total_row(region.rows[stop], cols):
        total_text, capital = _total_text(region.rows[stop], cols)
    unit = _budget_unit(region, header, cols)
    if unit != 1:
        scaled = [parse_amount(t, unit=unit) for t in [r.get("amount", "") for r in rows] + [total_text] if t]
        if any(v is not None and v >= _IMPLAUSIBLE for v in scaled):
            unit = Decimal(1)
    items = tuple(
        BudgetItem(seq=r.get("seq", ""), item=r.get("item", ""), amount_text=r.get("amount", ""),
                   amount=parse_amount(r.get("amount", ""), unit=unit), basis=r.get("basis", ""))
        for r in rows
    )
    account = _account(region.text())
    return {
        "budget_items": items,
        "budget_total_text": total_text,
        "budget_total": parse_amount(total_text, unit=unit) if total_text else None,
        "budget_total_capital": capital,
        **account,
    }


def _only_unit_notes(row: Row) -> bool:
    """A row holding nothing but a unit (（元）, 单位：元): never a budget line."""
    texts = [norm(cell_text(c)) for c in row.cells]
    return any(texts) and all(_UNIT_NOTE.match(t) for t in texts if t)


def _total_text(row: Row, cols: dict[int, tuple[int, str]]) -> tuple[str, str]:
    """The total as written in the 合计 row (in the amount column, or after 合计 in its own
    cell), and the total in words when the row gives both.

    Extra columns (数量, 单价, 自筹金额) may be filled in the total row too,
    so the amount column is read, not the first filled cell. A row that gives
    the total twice (合计（大写）：叁仟陆佰元整 | （小写）：3600元) is read by
    its Arabic figure, which is what the applicant typed as the number; the
    words are returned beside it for the check that both say the same.
    """
    amount = _amount_start(cols)
    span = cols[amount][0] if amount is not None else 0
    cells = row.cells
    for i, cell in enumerate(cells):
        text = cell_text(cell)
        m = _TOTAL_LABEL.match(text)
        if not m or (amount is not None and cell.col >= amount):
            continue
        found = []
        rest = _AMOUNT_NOTE.sub("", clean_lines(text[m.end():]))
        if rest:
            found.append(rest)
        later = [clean_lines(cell_text(c)) for c in cells[i + 1:]]
        if amount is not None:
            column = [
                clean_lines(cell_text(c)) for c in cells[i + 1:] if c.col < amount + span and amount < c.col + c.span
            ]
            found += [_AMOUNT_NOTE.sub("", v) for v in column if v]
        if not found:
            found += [_AMOUNT_NOTE.sub("", v) for v in later if v and not re.fullmatch(r"[(（]?\s*单位.*", v)][:1]
        arabic = [v for v in found if re.search(r"[0-9０-９]", v)]
        words = [v for v in found if v not in arabic] if arabic else []
        return (arabic or found or [""])[0], (words or [""])[0]
    return "", ""


_ACCOUNT = re.compile(r"(开户名称|开户名|户名|开户银行|开户行|银行账号|账号|帐号)\s*[:：]?")
_ACCOUNT_KEYS = {"开户名称": "account_name", "开户名": "account_name", "户名": "account_name",
                 "开户银行": "account_bank", "开户行": "account_bank",
                 "银行账号": "account_number", "账号": "account_number", "帐号": "account_number"}


_NEXT_SECTION = re.compile(r"[一二三四五六七八九十]{1,2}[、．.]\s*\S")


def _account(text: str) -> dict:
    """开户名/开户银行/账号, each from its own line or, when that is empty, the next line
    (a long number wrapped under `账号:`, or label and value in two cells)."""
    out = {"account_name": "", "account_bank": "", "account_number": ""}
    lines = strip_guidance(text).split("\n")
    for n, line in enumerate(lines):
        matches = list(_ACCOUNT.finditer(line))
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            value = line[m.end():end]
            # A converted .doc may glue the next section onto the line (账号: 2490…八、申报单位意见).
            value = _NEXT_SECTION.split(value, 1)[0].strip().strip(";；,，。").strip()
            if not value and i == len(matches) - 1:
                value = _next_line_value(lines, n)
            key = _ACCOUNT_KEYS[m.group(1)]
            if value and not out[key]:
                out[key] = value
    return out


def _next_line_value(lines: list[str], n: int) -> str:
    """The next non-empty line, unless it is a label or a total of its own."""
    for line in lines[n + 1:]:
        line = line.strip()
        if not line:
            continue
        if _ACCOUNT.match(line) or line.endswith(_COLONS) or re.match(r"^(小|合|总|共)\s*计", line):
            return ""
        if not re.search(r"[^\W_]", line):
            return ""  # a rule printed under the account line (------): nothing written
        return line.strip(";；,，。").strip()
    return ""


_DATE = re.compile(r"([0-9０-９〇零一二三四五六七八九]{2,4})\s*年\s*([0-9０-９一二三四五六七八九十]{1,3})\s*月\s*([0-9０-９一二三四五六七八九十]{1,3})\s*日")
_EMPTY_DATE = re.compile(r"年\s*月\s*日")
_OPINION_LABELS = [
    re.compile(r"申\s*报\s*单\s*位\s*意\s*见\s*[:：]?"),
    re.compile(r"法\s*定\s*代\s*表\s*人\s*[(（]?\s*签\s*字\s*[)）]?\s*[:：]?"),
    re.compile(r"[(（]\s*(?:单\s*位\s*)?公\s*章\s*[)）]"),
    re.compile(r"[(（]\s*盖\s*章\s*[)）]"),
]


def _opinion(region: Region) -> dict:
    text = region.text()
    m = _DATE.search(text)
    date = re.sub(r"\s+", "", m.group(0)) if m else ""
    rest = _DATE.sub("", text)
    rest = _EMPTY_DATE.sub("", rest)
    for pattern in _OPINION_LABELS:
        rest = pattern.sub("", rest)
    filled = bool(re.sub(r"[\s_＿—\-:：.。,，;；]+", "", rest))
    return {"opinion_filled": filled, "opinion_date": date}


def _section_text(region: Region) -> Section:
    text = clean_lines(region.text())
    return Section(text=text, chars=word_count(text))


# -- entry point ---------------------------------------------------------------


NOT_THE_FORM = Finding(
    "wrong_form",
    "error",
    "收到的 Word 文件不是本次的申报书（没有找到“试点类型”“一、申报单位基本情况”等栏目）。请使用本邮件附件中的申报书模板填写后，连同盖章 PDF 版重新发送。",
    "Word 版申报书",
)
# Same code as NOT_THE_FORM on purpose: one finding instead of every empty field,
# and the correction mail carries the blank template, which is what these applicants need.
PICTURES_ONLY = Finding(
    "wrong_form",
    "error",
    "收到的 Word 文件中只有图片（申报书是以图片或扫描件的形式放进 Word 的），无法读取填写的内容。"
    "请使用本邮件附件中的 Word 版申报书模板，直接在 Word 或 WPS 中填写文字（不要粘贴成图片），连同盖章 PDF 版重新发送。",
    "Word 版申报书",
)
BLANK_FORM = Finding(
    "wrong_form",
    "error",
    "收到的 Word 文件是空白的申报书模板，各栏目都没有填写（可能是发送时选错了文件）。"
    "请填写完整后，将 Word 版申报书连同盖章 PDF 版重新发送。",
    "Word 版申报书",
)
MAX_TEXT_OF_A_SCAN = 20  # characters a pasted-in scan may carry besides the title and cover lines


def _scan_caption(line: str) -> bool:
    """The title or a cover line (`申报单位：…`) typed above a pasted-in scan: not a letter's text."""
    n = norm(line)
    return n in _PRINTED_LINES or any(after_label(line, label) is not None for label in _COVER_LABELS)


def read_form(data: bytes) -> Application:
    """Read a .docx 申报书; never raises (unreadable → a format_unreadable finding)."""
    try:
        parsed = _rows(data)
        if parsed is None:
            return Application(problems=(UNREADABLE,))
        rows, pictures = parsed
        return parse_rows(rows, pictures)
    except _TooLarge:
        return Application(problems=(TOO_LARGE,))
    except Exception:  # any bytes at all: corrupt zip, bad XML, bombs, recursion
        return Application(problems=(UNREADABLE,))


def _second_form(rows: list[Row], copies: list) -> list[Finding]:
    """A finding when more than one copy of the form in the file is filled in (a revision above
    the old draft, two units' forms in one file): only one is read, and the applicant must say
    which by sending one form per file. A blank template beside the filled form is no second form."""
    filled = []  # (unit, read)
    for titles, read in copies:
        start, end = min(titles.values())[0], max(titles.values())[0]
        # Sections 一 to 七 of this copy: 八 runs on into the next copy's cover.
        regions = split_sections(rows[start:end + 1])
        basic = _basic(regions[1])
        parts = (_participants(_tabbed(regions[2])), _schedule(_tabbed(regions[6])), _budget(_tabbed(regions[7]))["budget_items"])
        texts = [_section_text(regions[i]).text for i in (3, 4, 5)]
        if basic["unit_name"] or basic["leader"].name or any(parts) or any(texts):
            filled.append((_without_tabs(basic["unit_name"]), read))
    if len(filled) < 2:
        return []
    units = list(dict.fromkeys(unit for unit, _ in filled if unit))
    count = "两" if len(filled) == 2 else str(len(filled))
    listed = "、".join(f"“{u}”" for u in units[:4]) + ("等" if len(units) > 4 else "")
    named = f"申报单位分别为{listed}" if len(units) > 1 else "可能是修改稿和旧稿"
    n = next(i for i, (_, read) in enumerate(filled) if read) if any(read for _, read in filled) else None
    which = f"（目前读取的是第{'一二三四五六七八九十'[n]}份）" if n is not None and n < 10 else ""
    return [Finding(
        "two_forms_in_word",
        ERROR,
        f"Word 版申报书文件中有{count}份填写过的申报书（{named}），无法确定以哪一份为准{which}。"
        "请每个 Word 文件只保留一份申报书：修改后的申报书请删除旧稿，其他单位的申报书请由该单位单独发送，"
        "然后重新发送 Word 版和盖章 PDF 版。",
        "Word 版申报书",
    )]


_TAB = re.compile(r"[ \u3000]*\t[\t \u3000]*")


def _without_tabs(value):
    """`value` (a field, or a record of fields) with each tab written as a space: values are quoted
    in replies, where a raw tab shows as a gap or a box."""
    if isinstance(value, str):
        return _TAB.sub(" ", value) if "\t" in value else value
    if isinstance(value, tuple):
        return tuple(_without_tabs(v) for v in value)
    if dataclasses.is_dataclass(value):
        changes = {f.name: _without_tabs(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes) if any(v is not getattr(value, k) for k, v in changes.items()) else value
    return value


def parse_rows(rows: list[Row], pictures: int = 0) -> Application:
    """Build the Application from the flattened rows of a readable document."""
    copies: list = []
    regions = split_sections(rows, copies)
    fields: dict = {}
    fields.update(_cover(regions[0]))
    problems = list(fields.pop("problems"))
    if len(copies) > 1:
        problems.extend(_second_form(rows, copies))
    fields.update(_basic(regions[1]))
    for index in (2, 6, 7):  # the sections printed as tables
        regions[index] = _tabbed(regions[index])
    fields["participants"] = _participants(regions[2])
    fields["work_basis"] = _section_text(regions[3])
    fields["plan"] = _section_text(regions[4])
    fields["indicators"] = _section_text(regions[5])
    fields["schedule"] = _schedule(regions[6])
    fields.update(_budget(regions[7]))
    fields.update(_opinion(regions[8]))
    headings = sum(1 for i in range(1, 9) if regions[i].rows)
    cover = norm(regions[0].text())
    app = Application(**{k: _without_tabs(v) for k, v in fields.items()}, problems=tuple(problems))
    if headings < 2 and "试点类型" not in cover:
        # Not this call's 申报书 at all (a letter, another call's form), or a scan of it pasted in.
        text = sum(len(norm(line)) for line in _flat_lines(rows) if not _scan_caption(line))
        problem = PICTURES_ONLY if pictures and text <= MAX_TEXT_OF_A_SCAN else NOT_THE_FORM
        return dataclasses.replace(app, problems=(problem,))
    if dataclasses.replace(app, problems=()) == Application():
        return dataclasses.replace(app, problems=(BLANK_FORM,))
    return app
