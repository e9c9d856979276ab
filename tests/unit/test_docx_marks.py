"""How applicants mark their pilot type on the cover, beyond a tick in the printed box: a checkbox
bullet that comes from a style, a type written out with no box at all, a choice shown only by
formatting, and a circle put in place of one box."""
from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree
from test_docx_form import docx_of, edit_document
from test_docx_form import paragraph_containing as paragraph_with

from pipeline.convert import soffice, to_docx
from pipeline.forms.docx import pilot_types, read_form
from pipeline.models import Application
from pipeline.samples.apps import sample_applications
from pipeline.samples.forms import build_form_docx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
APPS = sample_applications()
OPTIONS = ("县级科协试点", "高校科协试点", "市级学会试点", "其它单位")


def with_parts(data: bytes, parts: dict[str, bytes]) -> bytes:
    """The package with the named parts replaced (or added); everything else kept."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, parts.pop(info.filename, None) or src.read(info))
        for name, body in parts.items():
            dst.writestr(name, body)
    return out.getvalue()


def w(xml: str):
    return etree.fromstring(f'<root xmlns:w="{W}">{xml}</root>')[0]


# -- a. the checkbox is a list bullet that comes from the paragraph's style ---------------------

# Word's bullet library draws its boxes in Wingdings: F0A8 empty, F0FE ticked.
EMPTY_LEVEL = ('<w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0a8"/>'
               '<w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings" w:hint="default"/></w:rPr></w:lvl>')
TICKED_LEVEL = ('<w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0fe"/>'
                '<w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings" w:hint="default"/></w:rPr></w:lvl>')
STYLE_NUMBERING = (
    f'<w:numbering xmlns:w="{W}">'
    f'<w:abstractNum w:abstractNumId="1">{EMPTY_LEVEL}</w:abstractNum>'
    f'<w:abstractNum w:abstractNumId="2">{TICKED_LEVEL}</w:abstractNum>'
    '<w:num w:numId="21"><w:abstractNumId w:val="1"/></w:num><w:num w:numId="22"><w:abstractNumId w:val="2"/></w:num>'
    "</w:numbering>"
)


def styled_cover(styles: dict[str, tuple[str | None, str | None]], used: dict[str, str],
                 numbering: str = STYLE_NUMBERING) -> bytes:
    """A cover whose options take their bullets from paragraph styles, as Word writes a style
    given a bullet (修改样式 > 格式 > 编号): the numPr sits in styles.xml, the paragraph has only
    its pStyle. `styles`: style name -> (numId or None, basedOn name or None); `used`: option -> style."""
    import docx as python_docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    doc = python_docx.Document()
    made = {}
    for name, (num_id, based_on) in styles.items():
        style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = made[based_on] if based_on else doc.styles["Normal"]
        if num_id is not None:
            style.element.get_or_add_pPr().append(
                parse_xml(f'<w:numPr {nsdecls("w")}><w:numId w:val="{num_id}"/></w:numPr>'))
        made[name] = style
    doc.add_paragraph("试点类型：")
    for option in OPTIONS:
        doc.add_paragraph(option, style=used[option])
    doc.add_paragraph("申报单位：新乡市红旗区科协")
    buf = io.BytesIO()
    doc.save(buf)
    return with_parts(buf.getvalue(), {"word/numbering.xml": numbering.encode("utf-8")})


def test_a_ticked_bullet_from_the_paragraph_style_is_the_choice():
    data = styled_cover({"选项": ("21", None), "已选": ("22", None)},
                        {o: "已选" if o == "高校科协试点" else "选项" for o in OPTIONS})
    assert read_form(data).pilot_types == ("高校科协试点",)


def test_option_styles_with_empty_bullets_only_choose_nothing():
    data = styled_cover({"选项": ("21", None)}, dict.fromkeys(OPTIONS, "选项"))
    app = read_form(data)
    assert app.pilot_types == () and app.problems == ()


def test_a_style_bullet_is_inherited_through_based_on_and_numid_0_removes_it():
    """`已选方框` carries the ☑ bullet; `已选` inherits it; `选项` is based on `已选` but switches
    numbering off (numId 0), as Word writes a style whose bullet was removed."""
    styles = {"已选方框": ("22", None), "已选": (None, "已选方框"), "选项": ("0", "已选")}
    data = styled_cover(styles, {o: "已选" if o == "其它单位" else "选项" for o in OPTIONS})
    assert read_form(data).pilot_types == ("其它单位",)


def test_a_paragraph_numid_0_switches_its_style_bullet_off():
    """A paragraph's own numPr overrides its style's: numId 0 draws no bullet there."""
    data = styled_cover({"已选": ("22", None)}, dict.fromkeys(OPTIONS, "已选"))

    def edit(root):
        for option in OPTIONS[:3]:
            p = paragraph_with(root, option)
            p.find(f"{{{W}}}pPr").append(w('<w:numPr><w:numId w:val="0"/></w:numPr>'))

    assert read_form(edit_document(data, edit)).pilot_types == ("其它单位",)


def test_a_list_style_linked_through_num_style_link_draws_the_boxes():
    """Word's 定义新列表样式: the num points at an abstractNum holding only numStyleLink; the
    numbering style's numPr names the num whose abstractNum (styleLink) holds the levels."""
    numbering = (
        f'<w:numbering xmlns:w="{W}">'
        '<w:abstractNum w:abstractNumId="1"><w:styleLink w:val="复选框空"/>' + EMPTY_LEVEL + "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="2"><w:styleLink w:val="复选框勾"/>' + TICKED_LEVEL + "</w:abstractNum>"
        '<w:abstractNum w:abstractNumId="3"><w:numStyleLink w:val="复选框空"/></w:abstractNum>'
        '<w:abstractNum w:abstractNumId="4"><w:numStyleLink w:val="复选框勾"/></w:abstractNum>'
        '<w:num w:numId="21"><w:abstractNumId w:val="1"/></w:num><w:num w:numId="22"><w:abstractNumId w:val="2"/></w:num>'
        '<w:num w:numId="23"><w:abstractNumId w:val="3"/></w:num><w:num w:numId="24"><w:abstractNumId w:val="4"/></w:num>'
        "</w:numbering>"
    )
    data = styled_cover({"选项": ("23", None), "已选": ("24", None)},
                        {o: "已选" if o == "市级学会试点" else "选项" for o in OPTIONS}, numbering)

    def link_styles(body: bytes) -> bytes:
        root = etree.fromstring(body)
        for style_id, num_id in (("复选框空", "21"), ("复选框勾", "22")):
            root.append(w(f'<w:style w:type="numbering" w:styleId="{style_id}"><w:name w:val="{style_id}"/>'
                          f'<w:pPr><w:numPr><w:numId w:val="{num_id}"/></w:numPr></w:pPr></w:style>'))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)

    styles = zipfile.ZipFile(io.BytesIO(data)).read("word/styles.xml")
    assert read_form(with_parts(data, {"word/styles.xml": link_styles(styles)})).pilot_types == ("市级学会试点",)


# -- b. the type written out, the other options deleted, no box at all ----------------------------


@pytest.mark.parametrize(
    "lines, written",
    [
        (["试点类型：社会组织试点"], "社会组织试点"),
        (["试点类型：社会组织"], "社会组织"),
        (["试点类型：", "街道科协试点"], "街道科协试点"),
    ],
)
def test_a_type_written_out_that_is_no_option_is_quoted_not_left_unticked(lines, written):
    """The applicant deleted the four options and wrote their own: say what was written, never
    only 未勾选, and never read it as an option."""
    app = read_form(docx_of(lines + ["申报单位：新乡市红旗区科协", "主要负责人：王建国"]))
    assert app.pilot_types == ()
    (problem,) = [p for p in app.problems if p.code == "pilot_type_unrecognized"]
    assert f"“{written}”" in problem.message and "填写" in problem.message and "勾选的是" not in problem.message
    assert problem.severity == "error" and not problem.staff_only


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["试点类型：高校科协试点"], ("高校科协试点",)),
        (["试点类型：", "市级学会试点"], ("市级学会试点",)),
        (["试点类型：其它单位（社会组织）"], ("其它单位",)),
    ],
)
def test_one_option_written_out_alone_is_the_choice(lines, expected):
    app = read_form(docx_of(lines + ["申报单位：新乡市红旗区科协"]))
    assert app.pilot_types == expected and app.problems == ()


@pytest.mark.parametrize(
    "lines",
    [
        ["试点类型：", "申报单位：新乡市红旗区科协"],  # all four deleted, nothing written
        ["试点类型：（请勾选）", "申报单位：新乡市红旗区科协"],
        ["试点类型：", "县级科协试点", "高校科协试点", "市级学会试点", "其它单位", "申报单位：新乡市红旗区科协"],
    ],
)
def test_nothing_written_or_every_option_left_chooses_nothing(lines):
    app = read_form(docx_of(lines))
    assert app.pilot_types == () and app.problems == ()


def test_the_blank_form_still_chooses_nothing():
    app = read_form(build_form_docx(Application()))
    assert app.pilot_types == () and [p.code for p in app.problems] == ["wrong_form"]


# -- c. the choice shown only by formatting ------------------------------------------------------


def formatted_cover(marks: dict[str, str], ticked: str | None = None) -> bytes:
    """The sample form with every box emptied and run properties `marks[option]` put on the
    option's name (what Word writes for 下划线, 加粗, 突出显示, 字体颜色, 着重号, 字符边框)."""
    app = APPS[0]

    def edit(root):
        for option in OPTIONS:
            p = paragraph_with(root, option)
            box, name = p.findall(f"{{{W}}}r")[:2]
            box.find(f"{{{W}}}t").text = "☑" if option == ticked else "□"
            if option in marks:
                name.insert(0, w(f"<w:rPr>{marks[option]}</w:rPr>"))

    return edit_document(build_form_docx(app), edit)


@pytest.mark.parametrize(
    "rpr",
    ['<w:u w:val="single"/>', "<w:b/>", '<w:highlight w:val="yellow"/>', '<w:color w:val="FF0000"/>',
     '<w:em w:val="dot"/>', '<w:bdr w:val="single" w:sz="4" w:space="0" w:color="auto"/>',
     '<w:shd w:val="clear" w:color="auto" w:fill="FFFF00"/>'],
    ids=["underline", "bold", "highlight", "colour", "emphasis-dots", "character-border", "shading"],
)
def test_the_one_option_formatted_differently_is_named_but_not_chosen(rpr):
    """Formatting is also pasted, left by a reviewer or the template's: the receipt must not name a
    type nobody ticked. The applicant is told which option looked chosen and asked to tick it."""
    app = read_form(formatted_cover({"高校科协试点": rpr}))
    assert (app.pilot_types, app.pilot_type_marked) == ((), "高校科协试点")


@pytest.mark.parametrize(
    "marks",
    [
        {"高校科协试点": "<w:b/>", "市级学会试点": '<w:u w:val="single"/>'},  # two options, each marked its own way
        dict.fromkeys(OPTIONS, "<w:b/>"),  # all four alike
        {"高校科协试点": '<w:u w:val="none"/>', "其它单位": '<w:b w:val="0"/>', "县级科协试点": '<w:color w:val="000000"/>'},
    ],
    ids=["two-marked", "all-bold", "switched-off"],
)
def test_formatting_that_does_not_single_one_option_out_chooses_nothing(marks):
    app = read_form(formatted_cover(marks))
    assert (app.pilot_types, app.pilot_type_marked) == ((), "")


@pytest.mark.skipif(soffice() is None, reason="LibreOffice not installed")
def test_an_underlined_option_survives_a_doc_saved_by_libreoffice(tmp_path):
    """WPS and old Word users send .doc: intake converts it with LibreOffice, which rewrites every run's properties."""
    import os
    import subprocess

    (tmp_path / "in.docx").write_bytes(formatted_cover({"其它单位": '<w:u w:val="single"/>'}))
    subprocess.run([soffice(), f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless", "--norestore",
                    "--convert-to", "doc", "--outdir", str(tmp_path / "out"), str(tmp_path / "in.docx")],
                   check=False, capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    converted = to_docx((tmp_path / "out" / "in.doc").read_bytes(), "doc")
    assert converted is not None and read_form(converted).pilot_type_marked == "其它单位"


def test_a_tick_wins_over_formatting():
    app = read_form(formatted_cover({"高校科协试点": "<w:b/>"}, ticked="县级科协试点"))
    assert (app.pilot_types, app.pilot_type_marked) == (("县级科协试点",), "")


def test_an_option_name_inside_an_underlined_cover_value_is_no_formatting_choice():
    def edit(root):
        for option in OPTIONS:
            paragraph_with(root, option).findall(f"{{{W}}}r")[0].find(f"{{{W}}}t").text = "□"
        unit = paragraph_with(root, "申报单位：")
        unit.findall(f"{{{W}}}r")[-1].find(f"{{{W}}}t").text = "新乡学院高校科协试点工作站"

    assert read_form(edit_document(build_form_docx(APPS[0]), edit)).pilot_types == ()


# -- d. a circle in place of one box -----------------------------------------------------------


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["试点类型：□县级科协试点 〇高校科协试点 □市级学会试点 □其它单位"], ("高校科协试点",)),
        (["试点类型：", "□ 县级科协试点", "□ 高校科协试点", "□ 市级学会试点", "〇 其它单位"], ("其它单位",)),
        (["试点类型：县级科协试点□ 高校科协试点□ 市级学会试点〇 其它单位□"], ("市级学会试点",)),
        (["试点类型：", "□县级科协试点", "○高校科协试点", "□市级学会试点", "□其它单位"], ("高校科协试点",)),
        # every box a circle (an online form's radio buttons, none filled), or two circles: no guess
        (["试点类型：〇县级科协试点 〇高校科协试点 〇市级学会试点 〇其它单位"], ()),
        (["试点类型：〇县级科协试点 □高校科协试点 〇市级学会试点 □其它单位"], ()),
    ],
)
def test_a_lone_circle_among_boxes_is_the_choice(lines, expected):
    """Circling an option (画圈) is how a choice is marked on paper; a 〇 (the IME's 零) or ○ put in
    place of one □ is that mark, whichever of the two look-alike characters was typed."""
    app = read_form(docx_of(lines + ["申报单位：新乡市红旗区科协", "申报时间：二〇二五年六月二十日"]))
    assert app.pilot_types == expected
    assert pilot_types("\n".join(lines)) == expected  # the stamped PDF's text is read the same way


def test_a_circle_zero_in_a_date_is_no_mark():
    text = "试点类型：\n□县级科协试点\n□高校科协试点\n□市级学会试点\n□其它单位\n申报时间：二〇二五年六月"
    assert pilot_types(text) == ()


@pytest.mark.parametrize("colour", ["0D0D0D", "333333", "000000", "auto"])
def test_a_colour_that_prints_as_black_marks_no_option(colour):
    """Word's 黑色，文字1，淡色5% (0D0D0D) from retyped text and web greys pasted in look black."""
    app = read_form(formatted_cover({"市级学会试点": f'<w:color w:val="{colour}"/>'}))
    assert (app.pilot_types, app.pilot_type_marked) == ((), "")
