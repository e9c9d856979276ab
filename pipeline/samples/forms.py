"""Write the 申报书 as the notice prints it, filled with an `Application`.

We have no official template, so this committed generator is the blank form
(`build_form_docx(Application())`) and the source of every test form. The
options reproduce what applicants do to the form: the four checkbox kinds,
guidance kept or deleted, rows added, tables split.
"""
from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Cm, Mm, Pt

from ..models import PILOT_TYPES, Application, BudgetItem, Participant, Stage

CHECKBOX_STYLES = ("char", "wingdings", "w14", "formfield")
# Budget tables as finance staff retype them: a 类别 column with merged cells, 数量/单价 columns
# (filled in the 合计 row too), 自筹/申请 amount columns, a two-row header with （元） under 金额,
# amounts in 万元, and the total given in capitals and figures (合计（大写）… | （小写）…).
BUDGET_LAYOUTS = ("plain", "category", "quantity", "requested", "two_row_header", "wan", "capital_total")

GUIDANCE_BASIS = "(填写科技志愿服务相关的工作经验、成果等情况, 以及辖区内高校、科研院所、医疗卫生机构等的数量和联系合作等情况, 限 1500 字以内)"
GUIDANCE_PLAN = "(围绕试点建设的主要任务进行填写，需集中体现目标任务、工作思路、具体举措、保障措施等，限 1500 字以内)"
GUIDANCE_INDICATORS = "(提出完成试点建设的考核指标，考核指标需要可量化，包括具体事项、质量、数量等要素，限 500 字以内)"
GUIDANCE_SCHEDULE = "(实施阶段以工作方案为准, 数量可增减)"
INSTRUCTIONS = (
    "1. 申报书填写内容须实事求是，表述应明确、严谨。相应栏目请填写完整。格式不符的不予受理。",
    "2. 申报书以 Word 文档格式填写；表格空间不足的，可以扩展或另加附页。",
    "3. 申报书填好后，用 A4 纸双面打印，左侧装订，并加盖单位公章，按照申报通知要求报送。",
)
OPINION_TEXT = "经审核，申报材料内容真实，同意申报新乡市科技志愿服务试点建设。"


def build_form_docx(
    app: Application,
    *,
    checkbox_style: str = "char",
    keep_guidance: bool = True,
    extra_rows: int = 0,
    split_tables: bool = False,
    budget_layout: str = "plain",
) -> bytes:
    """The filled form as .docx bytes; `Application()` gives the blank form."""
    if checkbox_style not in CHECKBOX_STYLES:
        raise ValueError(f"checkbox_style must be one of {CHECKBOX_STYLES}")
    if budget_layout not in BUDGET_LAYOUTS:
        raise ValueError(f"budget_layout must be one of {BUDGET_LAYOUTS}")
    doc = Document()
    # The notice asks for A4 (A4纸双面打印); python-docx's default template is US Letter,
    # and a PDF exported from a Letter form gets pdf_not_a4.
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = section.bottom_margin = Cm(2.54)
    section.left_margin = section.right_margin = Cm(3.18)
    style = doc.styles["Normal"]
    style.font.name = "宋体"
    style.element.rPr.rFonts.set(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia", "宋体"
    )
    style.font.size = Pt(12)
    _cover(doc, app, checkbox_style)
    _instructions(doc)
    b = _Builder(doc, split_tables)
    _basic(b, app)
    _participants(b, app, extra_rows)
    _text_section(b, "三、工作基础", GUIDANCE_BASIS, app.work_basis.text, keep_guidance, inline=False)
    _text_section(b, "四、试点建设方案", GUIDANCE_PLAN, app.plan.text, keep_guidance, inline=False)
    _text_section(b, "五、考核指标", GUIDANCE_INDICATORS, app.indicators.text, keep_guidance, inline=True)
    _schedule(b, app, keep_guidance, extra_rows)
    if budget_layout == "plain":
        _budget(b, app, keep_guidance, extra_rows)
    else:
        _budget_variant(b, app, budget_layout)
    _opinion(b, app)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# -- cover and instructions ----------------------------------------------------


def _centered(doc, text: str, size: int, bold: bool = True):
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)
    return p


def _cover(doc, app: Application, style: str) -> None:
    _centered(doc, "新乡市科技志愿服务试点建设", 22)
    _centered(doc, "申报书", 26)
    doc.add_paragraph("试点类型：")
    for name in PILOT_TYPES:
        p = doc.add_paragraph()
        p.paragraph_format.left_indent = Pt(48)
        _checkbox(p, name in app.pilot_types, style)
        p.add_run(" " + name)
    for label, value in (
        ("申报单位", app.cover_unit),
        ("主要负责人", app.cover_leader),
        ("联系方式", app.cover_contact),
        ("申报时间", app.cover_date),
    ):
        p = doc.add_paragraph()
        p.add_run(f"{label}：")
        if value:
            run = p.add_run(value)
            run.underline = True
    _centered(doc, "新乡市科学技术协会", 16)


def _instructions(doc) -> None:
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _centered(doc, "填 报 说 明", 16)
    for line in INSTRUCTIONS:
        doc.add_paragraph(line)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _checkbox(p, checked: bool, style: str) -> None:
    """Append one checkbox of the given kind to paragraph `p`."""
    if style == "char":
        p.add_run("☑" if checked else "□")
    elif style == "wingdings":
        char = "F0FE" if checked else "F0A8"
        p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:sym w:font="Wingdings" w:char="{char}"/></w:r>'))
    elif style == "w14":
        glyph = "☒" if checked else "☐"
        p._p.append(
            parse_xml(
                f'<w:sdt {nsdecls("w", "w14")}><w:sdtPr><w14:checkbox>'
                f'<w14:checked w14:val="{1 if checked else 0}"/>'
                '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
                '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/>'
                "</w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:rPr>"
                '<w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" w:hAnsi="MS Gothic" w:hint="eastAsia"/>'
                f"</w:rPr><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"
            )
        )
    else:  # legacy FORMCHECKBOX field
        state = "<w:checked/>" if checked else ""
        for xml in (
            f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val=""/>'
            f'<w:enabled/><w:calcOnExit w:val="0"/><w:checkBox><w:sizeAuto/><w:default w:val="0"/>{state}'
            "</w:checkBox></w:ffData></w:fldChar></w:r>",
            f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>',
            f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>',
        ):
            p._p.append(parse_xml(xml))


# -- tables --------------------------------------------------------------------


class _Builder:
    """Adds tables row by row; `split()` starts a new table as applicants do."""

    def __init__(self, doc, split_tables: bool):
        self.doc = doc
        self.split_tables = split_tables
        self.table = None
        self.cols = 0

    def new_table(self, cols: int) -> None:
        if self.table is not None:
            # Word keeps a paragraph between two tables (adjacent ones merge);
            # LibreOffice's .doc export flattens tables that touch.
            self.doc.add_paragraph()
        self.table = self.doc.add_table(rows=0, cols=cols)
        self.table.style = "Table Grid"
        self.cols = cols

    def split(self) -> None:
        if self.split_tables and self.table is not None and len(self.table.rows):
            self.new_table(self.cols)

    def row(self, *cells: str | list[str], spans: tuple[int, ...] | None = None) -> None:
        """Add a row; `spans` merges cells (their sum must be the column count)."""
        spans = spans or (1,) * len(cells)
        row = self.table.add_row()
        col = 0
        for value, span in zip(cells, spans):
            cell = row.cells[col]
            if span > 1:
                cell = cell.merge(row.cells[col + span - 1])
            _fill(cell, value)
            col += span

    def paragraph(self, text: str) -> None:
        self.doc.add_paragraph(text)
        self.table = None


def _fill(cell, value: str | list[str]) -> None:
    lines = value if isinstance(value, list) else (value.split("\n") if value else [""])
    for extra in cell.paragraphs[1:]:
        extra._p.getparent().remove(extra._p)
    cell.paragraphs[0].text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)


def _basic(b: _Builder, app: Application) -> None:
    b.new_table(4)
    b.row("一、申报单位基本情况", spans=(4,))
    b.row("单位名称", app.unit_name, spans=(1, 3))
    b.row("试点负责人", app.leader.name, "职称/职务", app.leader.title)
    b.row("电子邮箱", app.leader.email, "联系电话", app.leader.phone)
    b.split()
    b.row("试点联系人", app.contact.name, "职称/职务", app.contact.title)
    b.row("电子邮箱", app.contact.email, "手机号码", app.contact.phone)
    b.row("单位地址", app.address, spans=(1, 3))


def _participants(b: _Builder, app: Application, extra_rows: int) -> None:
    b.new_table(7)
    b.row("二、主要参加人员", spans=(7,))
    b.row("序号", "姓名", "性别", "职务/职称", "工作单位", "在试点建设中承担的主要工作", "联系方式")
    people = list(app.participants) or [Participant()] * 3
    for i, p in enumerate(people):
        if i == 2:
            b.split()
        b.row(p.seq, p.name, p.gender, p.title, p.employer, p.role, p.phone)
    for _ in range(extra_rows):
        b.row("", "", "", "", "", "", "")


def _text_section(b: _Builder, heading: str, guidance: str, text: str, keep: bool, *, inline: bool) -> None:
    b.new_table(1)
    b.row(heading)
    lines = [line for line in text.split("\n") if line] if text else []
    if keep:
        if inline and lines:
            lines = [guidance + lines[0]] + lines[1:]
        else:
            lines = [guidance] + lines
    b.row(lines or [""])


def _schedule(b: _Builder, app: Application, keep: bool, extra_rows: int) -> None:
    b.new_table(3)
    b.row("六、计划进度及阶段目标", spans=(3,))
    b.row("实施阶段", "目标内容", "时间跨度")
    stages = list(app.schedule) or [
        Stage("第一阶段", "", "**年**月至**月"),
        Stage("第二阶段", "", ""),
        Stage("第三阶段", "", ""),
    ]
    for i, s in enumerate(stages):
        if i == 2:
            b.split()
        b.row(s.name, s.goal, s.period)
    for _ in range(extra_rows):
        b.row("", "", "")
    if keep:
        b.row(".....", GUIDANCE_SCHEDULE, "")


def _budget(b: _Builder, app: Application, keep: bool, extra_rows: int) -> None:
    b.paragraph("七、经费支出预算表(单位:人民币元)")
    b.paragraph("注: 经费支出合计不超过 4000 元。")
    b.new_table(4)
    b.row("序号", "支出事项", "金额", "测算依据/标准")
    items = list(app.budget_items) or [BudgetItem(), BudgetItem()]
    for i, item in enumerate(items):
        if i == 2:
            b.split()
        b.row(item.seq, item.item, item.amount_text, item.basis)
    for _ in range(extra_rows):
        b.row("", "", "", "")
    b.row("", "合计:", app.budget_total_text, "(单位:人民币元)")
    label = "乙方账户信息 (请与单位财务部门核实后填写)" if keep else "乙方账户信息"
    b.row(
        label,
        [f"开户名: {app.account_name}", f"开户银行: {app.account_bank}", f"账号: {app.account_number}"],
        spans=(2, 2),
    )


def _budget_variant(b: _Builder, app: Application, layout: str) -> None:
    """The budget table in one of the retyped layouts of BUDGET_LAYOUTS (filled forms only)."""
    b.paragraph("七、经费支出预算表(单位:人民币元)")
    b.paragraph("注: 经费支出合计不超过 4000 元。")
    items = list(app.budget_items)
    total = app.budget_total_text
    if layout == "category":
        b.new_table(5)
        b.row("序号", "类别", "支出事项", "金额", "测算依据/标准")
        for i, item in enumerate(items):
            b.row(item.seq, "宣传类" if i == 0 else "活动类" if i == 2 else "", item.item, item.amount_text, item.basis)
        for first, last in ((1, min(2, len(items))), (3, len(items))):
            if last > first:
                b.table.cell(first, 1).merge(b.table.cell(last, 1))  # w:vMerge, as Word merges cells
        b.row("", "合计", "", total, "")
    elif layout == "quantity":
        b.new_table(6)
        b.row("序号", "支出事项", "数量", "单价（元）", "金额（元）", "测算依据")
        for item in items:
            b.row(item.seq, item.item, "1", item.amount_text, item.amount_text, item.basis)
        b.row("", "合计", str(len(items)), "", total, "")
    elif layout == "requested":
        b.new_table(5)
        b.row("序号", "支出事项", "自筹金额", "申请金额", "测算依据")
        for item in items:
            b.row(item.seq, item.item, "1500", item.amount_text, item.basis)  # the unit's own money may be more
        b.row("", "合计", str(1500 * len(items)), total, "")
    elif layout == "two_row_header":
        b.new_table(4)
        b.row("序号", "支出事项", "金额", "测算依据/标准")
        b.row("", "", "（元）", "")
        for col in (0, 1, 3):
            b.table.cell(0, col).merge(b.table.cell(1, col))
        for item in items:
            b.row(item.seq, item.item, item.amount_text, item.basis)
        b.row("", "合计:", total, "(单位:人民币元)")
    elif layout == "wan":
        b.new_table(4)
        b.row("序号", "支出事项", "金额（万元）", "测算依据")
        for item in items:
            b.row(item.seq, item.item, _wan(item.amount), item.basis)
        b.row("", "合计", _wan(app.budget_total), "")
    else:  # capital_total
        b.new_table(4)
        b.row("序号", "支出事项", "金额", "测算依据/标准")
        for item in items:
            b.row(item.seq, item.item, item.amount_text, item.basis)
        amount = app.budget_total
        b.row(f"合计（大写）：{_capitals(amount)}", f"（小写）：{amount:f}元", spans=(2, 2))
    cols = b.cols
    b.row(
        "乙方账户信息",
        [f"开户名: {app.account_name}", f"开户银行: {app.account_bank}", f"账号: {app.account_number}"],
        spans=(cols // 2, cols - cols // 2),
    )


def _wan(amount) -> str:
    """An amount in yuan written in 万元 (1200 → 0.12)."""
    return f"{(amount / 10000).normalize():f}"


def _capitals(amount) -> str:
    """Whole yuan in financial capitals, as 合计（大写） writes them: 3600 → 叁仟陆佰元整."""
    digits, units = "零壹贰叁肆伍陆柒捌玖", ("", "拾", "佰", "仟")
    n = int(amount)
    if not 0 < n < 10000 or amount != n:
        raise ValueError("only whole amounts under 10,000 yuan are written in capitals here")
    out, zero = "", False
    for power in range(3, -1, -1):
        d = n // 10**power % 10
        if d:
            out += ("零" if zero and out else "") + digits[d] + units[power]
            zero = False
        else:
            zero = True
    return out + "元整"


def _opinion(b: _Builder, app: Application) -> None:
    b.new_table(1)
    b.row("八、申报单位意见")
    lines = ["申报单位意见:"]
    if app.opinion_filled:
        lines.append(OPINION_TEXT)
    lines += ["", "法定代表人(签字):", "", "(公章)", app.opinion_date or "年 月 日"]
    b.row(lines)
