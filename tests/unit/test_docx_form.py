"""The Word reader finds every field by label, whatever applicants did to the form."""
from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from lxml import etree

from pipeline.forms.docx import read_form
from pipeline.models import Application, Section
from pipeline.samples.apps import sample_applications
from pipeline.samples.forms import CHECKBOX_STYLES, build_form_docx
from pipeline.wordcount import word_count

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
APPS = sample_applications()


def diff(got: Application, want: Application) -> dict:
    return {
        f.name: (getattr(got, f.name), getattr(want, f.name))
        for f in dataclasses.fields(Application)
        if getattr(got, f.name) != getattr(want, f.name)
    }


def edit_document(data: bytes, edit) -> bytes:
    """Rewrite word/document.xml with `edit(root)`; the rest of the package is kept."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "word/document.xml":
                root = etree.fromstring(body)
                edit(root)
                body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            dst.writestr(info, body)
    return out.getvalue()


def paragraph_containing(root, needle: str):
    for p in root.iter(f"{{{W}}}p"):
        if needle in "".join(t.text or "" for t in p.iter(f"{{{W}}}t")):
            return p
    raise AssertionError(needle)


def w(xml: str):
    return etree.fromstring(f'<root xmlns:w="{W}">{xml}</root>')[0]


# -- round trips -------------------------------------------------------------------


def test_samples_are_varied_and_complete():
    assert len(APPS) >= 6
    assert {t for a in APPS for t in a.pilot_types} == {"县级科协试点", "高校科协试点", "市级学会试点", "其它单位"}
    for app in APPS:
        assert 3 <= len(app.participants) <= 6
        assert len(app.schedule) == 3
        assert app.budget_total == sum(i.amount for i in app.budget_items) <= 4000


@pytest.mark.parametrize("style", CHECKBOX_STYLES)
@pytest.mark.parametrize("index", range(len(APPS)))
def test_round_trip_every_sample_every_checkbox_style(index, style):
    app = APPS[index]
    assert diff(read_form(build_form_docx(app, checkbox_style=style)), app) == {}


@pytest.mark.parametrize(
    "options",
    [
        {"keep_guidance": False},
        {"extra_rows": 3},
        {"split_tables": True},
        {"keep_guidance": False, "extra_rows": 2, "split_tables": True, "checkbox_style": "w14"},
    ],
)
@pytest.mark.parametrize("index", range(len(APPS)))
def test_round_trip_with_applicant_edits(index, options):
    app = APPS[index]
    assert diff(read_form(build_form_docx(app, **options)), app) == {}


@pytest.mark.parametrize("style", CHECKBOX_STYLES)
def test_blank_form_parses_empty(style):
    assert read_form(build_form_docx(Application(), checkbox_style=style)) == Application()


def test_blank_form_with_guidance_removed_and_rows_added_is_still_empty():
    blank = build_form_docx(Application(), keep_guidance=False, extra_rows=3, split_tables=True)
    assert read_form(blank) == Application()


@pytest.mark.parametrize("index", range(len(APPS)))
def test_guidance_kept_or_deleted_gives_the_same_sections(index):
    app = APPS[index]
    kept = read_form(build_form_docx(app, keep_guidance=True))
    deleted = read_form(build_form_docx(app, keep_guidance=False))
    for name in ("work_basis", "plan", "indicators"):
        assert getattr(kept, name) == getattr(deleted, name) == getattr(app, name)
        assert getattr(kept, name).chars == word_count(getattr(app, name).text)


def test_several_types_checked_are_all_reported():
    app = dataclasses.replace(APPS[0], pilot_types=("县级科协试点", "其它单位"))
    for style in CHECKBOX_STYLES:
        assert read_form(build_form_docx(app, checkbox_style=style)).pilot_types == ("县级科协试点", "其它单位")


# -- unreadable input ------------------------------------------------------------------


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a word file at all",
        b"%PDF-1.7\n...",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,  # legacy .doc
        b"PK\x03\x04" + b"\0" * 100,  # a broken zip
        zip_of({"hello.txt": b"hi"}),  # zip without a document
        zip_of({"word/document.xml": b"<w:document"}),  # bad XML
        zip_of({"word/document.xml": b"<?xml version='1.0'?><x/>"}),  # not WordprocessingML
        zip_of({"word/document.xml": b'<!DOCTYPE d [<!ENTITY a "aaaa">]><w:document xmlns:w="x">&a;</w:document>'}),
        build_form_docx(APPS[0])[:2000],  # truncated docx
    ],
)
def test_garbage_is_format_unreadable(data):
    app = read_form(data)
    assert [p.code for p in app.problems] == ["format_unreadable"]
    assert app.problems[0].severity == "error"


def test_random_bytes_never_raise():
    import random

    rnd = random.Random(7)
    good = build_form_docx(APPS[1])
    for _ in range(30):
        data = bytearray(good)
        for _ in range(20):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        assert isinstance(read_form(bytes(data)), Application)


# -- what python-docx's .text would miss ---------------------------------------------


def test_tracked_insertion_is_read_and_deletion_skipped():
    app = APPS[0]
    line = app.plan.text.split("\n")[-1]

    def edit(root):
        p = paragraph_containing(root, line)
        p.append(w('<w:ins w:id="901" w:author="王" w:date="2025-06-20T10:00:00Z"><w:r><w:t>新增志愿者50名</w:t></w:r></w:ins>'))
        p.append(w('<w:del w:id="902" w:author="王" w:date="2025-06-20T10:00:00Z"><w:r><w:delText>删除的话</w:delText></w:r></w:del>'))

    got = read_form(edit_document(build_form_docx(app), edit))
    want_text = app.plan.text + "新增志愿者50名"
    assert got.plan == Section(want_text, word_count(want_text))
    assert got.plan.chars == app.plan.chars + 7
    assert "删除的话" not in got.plan.text


def test_text_box_and_content_control_text_is_seen():
    app = APPS[2]

    def edit(root):
        p = paragraph_containing(root, app.indicators.text.split("\n")[0])
        p.append(w(
            '<w:sdt><w:sdtPr/><w:sdtContent><w:r><w:t>（控件内文字）</w:t></w:r></w:sdtContent></w:sdt>'
        ))
        box = w(
            '<w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml"><v:textbox><w:txbxContent>'
            '<w:p><w:r><w:t>文本框中的指标：培训100人次</w:t></w:r></w:p>'
            '</w:txbxContent></v:textbox></v:shape></w:pict></w:r>'
        )
        p.append(box)

    got = read_form(edit_document(build_form_docx(app), edit))
    assert "（控件内文字）" in got.indicators.text
    assert "文本框中的指标：培训100人次" in got.indicators.text


@pytest.mark.parametrize(
    "run_xml, checked",
    [
        ('<w:r><w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings"/></w:rPr><w:t>\uf0fe</w:t></w:r>', True),
        ('<w:r><w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings"/></w:rPr><w:t>\uf0a8</w:t></w:r>', False),
        ('<w:r><w:rPr><w:rFonts w:ascii="Wingdings" w:hAnsi="Wingdings"/></w:rPr><w:t>\u00fe</w:t></w:r>', True),
        ('<w:r><w:sym w:font="Wingdings 2" w:char="F052"/></w:r>', True),
        ('<w:r><w:sym w:font="Wingdings 2" w:char="F054"/></w:r>', True),
        ('<w:r><w:sym w:font="Wingdings 2" w:char="F0A3"/></w:r>', False),
        ('<w:r><w:sym w:font="Wingdings" w:char="F078"/></w:r>', True),
        ('<w:r><w:sym w:font="Wingdings" w:char="F06F"/></w:r>', False),
        ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:default w:val="1"/></w:checkBox></w:ffData></w:fldChar></w:r>', True),
        ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:default w:val="1"/><w:checked w:val="0"/></w:checkBox></w:ffData></w:fldChar></w:r>', False),
        ('<w:r><w:t>√</w:t></w:r>', True),
        ('<w:r><w:t>■</w:t></w:r>', True),
        ('<w:r><w:t>☐</w:t></w:r>', False),
    ],
)
def test_checkbox_variants(run_xml, checked):
    """Replace the first cover checkbox (县级科协试点, unchecked) with another kind."""
    app = dataclasses.replace(APPS[1])  # 高校科协试点 checked

    def edit(root):
        p = paragraph_containing(root, "县级科协试点")
        first_run = p.find(f"{{{W}}}r")
        p.replace(first_run, w(run_xml))

    got = read_form(edit_document(build_form_docx(app), edit))
    expected = ("县级科协试点", "高校科协试点") if checked else ("高校科协试点",)
    assert got.pilot_types == expected


def test_spaced_labels_and_colon_values_are_found():
    app = APPS[3]

    def edit(root):
        p = paragraph_containing(root, "单位名称")
        for t in p.iter(f"{{{W}}}t"):
            t.text = "单 位 名 称："

    got = read_form(edit_document(build_form_docx(app), edit))
    assert got.unit_name == app.unit_name


def test_values_written_after_the_label_in_the_same_cell():
    app = APPS[0]

    def edit(root):
        p = paragraph_containing(root, "单位地址")
        for t in p.iter(f"{{{W}}}t"):
            t.text = "单位地址：新乡市红旗区测试路1号"
        value = paragraph_containing(root, app.address)
        for t in value.iter(f"{{{W}}}t"):
            t.text = ""

    got = read_form(edit_document(build_form_docx(app), edit))
    assert got.address == "新乡市红旗区测试路1号"


def test_unfilled_opinion_is_reported_as_not_filled():
    app = dataclasses.replace(APPS[4], opinion_filled=False, opinion_date="")
    got = read_form(build_form_docx(app))
    assert got.opinion_filled is False and got.opinion_date == ""


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["试点类型：☑县级科协试点 □高校科协试点 □市级学会试点 □其它单位"], ("县级科协试点",)),
        (["试点类型：", "□县级科协试点", "□高校科协试点√", "□市级学会试点", "□其它单位"], ("高校科协试点",)),
        (["试点类型：", "县级科协试点 √", "高校科协试点", "市级学会试点", "其它单位"], ("县级科协试点",)),
        (["试点类型：", "■县级科协试点", "□高校科协试点", "□市级学会试点", "□其它单位"], ("县级科协试点",)),
        (["试点类型：", "□县级科协试点", "□高校科协试点", "□市级学会试点", "□其它单位"], ()),
    ],
)
def test_pilot_type_as_people_tick_it(lines, expected):
    import docx as python_docx

    doc = python_docx.Document()
    for line in lines + ["申报单位：____新乡市红旗区科协____"]:
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    app = read_form(buf.getvalue())
    assert app.pilot_types == expected
    assert app.cover_unit == "新乡市红旗区科协"
