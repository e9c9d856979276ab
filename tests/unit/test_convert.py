"""Legacy Word formats go through LibreOffice; without it they are a clear problem."""
from __future__ import annotations

import io
import subprocess

import pytest

from pipeline import convert

needs_soffice = pytest.mark.skipif(convert.soffice() is None, reason="LibreOffice not installed")

RTF = rb"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fnil\fcharset134 SimSun;}}\f0\fs24 \'c9\'ea\'b1\'a8\'b5\'a5\'ce\'bb\'a3\'ba\'d0\'c2\'cf\'e7\'ca\'d0\'bf\'c6\'d0\'ad\par}"


def paragraphs(docx: bytes) -> str:
    import docx as python_docx

    return "\n".join(p.text for p in python_docx.Document(io.BytesIO(docx)).paragraphs)


@needs_soffice
def test_rtf_to_docx():
    out = convert.to_docx(RTF, "rtf")
    assert out is not None and out[:4] == b"PK\x03\x04"
    assert "申报单位：新乡市科协" in paragraphs(out)


@needs_soffice
def test_html_saved_as_doc():
    html = "<html><head><meta charset='utf-8'></head><body><p>试点类型：高校科协试点</p></body></html>".encode()
    out = convert.to_docx(html, "html_doc")
    assert out is not None and "高校科协试点" in paragraphs(out)


@needs_soffice
def test_garbage_gives_none_not_an_exception():
    assert convert.to_docx(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "doc", timeout=60) is None


def test_without_libreoffice_is_none(monkeypatch):
    monkeypatch.setattr(convert, "soffice", lambda: None)
    assert convert.to_docx(RTF, "rtf") is None


def test_unknown_kind_is_none():
    assert convert.to_docx(b"x", "pdf") is None


@needs_soffice
def test_blank_form_we_send_prints_on_a4(tmp_path):
    """Applicants fill in the blank form we attach; its PDF export must not earn them pdf_not_a4."""
    import subprocess

    from pipeline.forms.pdf import is_a4, read_pdf
    from pipeline.resources import shipped

    src = tmp_path / "form.docx"
    src.write_bytes((shipped("templates") / "forms" / "申报书.docx").read_bytes())
    subprocess.run([convert.soffice(), "--headless", "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
                   env={**convert.os.environ, "HOME": str(tmp_path)}, capture_output=True, timeout=180, check=True)
    facts = read_pdf((tmp_path / "form.pdf").read_bytes())
    assert facts.pages >= 3 and all(is_a4(size) for size in facts.page_sizes)
    assert "pdf_not_a4" not in [p.code for p in facts.problems]


def _odt(tmp_path, text: str) -> bytes:
    src = tmp_path / "form.txt"
    src.write_text(text, encoding="utf-8")
    subprocess.run([convert.soffice(), f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless",
                    "--convert-to", "odt", "--outdir", str(tmp_path), str(src)], capture_output=True, timeout=120)
    return (tmp_path / "form.odt").read_bytes()


@needs_soffice
def test_opendocument_text_is_a_word_form_and_converts(tmp_path):
    """LibreOffice's own format (.odt) is recognised by content and read like .doc, not unpacked as a zip."""
    from pipeline.filetypes import sniff
    from pipeline.pairing import role_of

    data = _odt(tmp_path, "申报单位：新乡市科协\n")
    assert sniff(data) == "odt" and role_of("odt") == "word"
    out = convert.to_docx(data, "odt")
    assert out is not None and "申报单位：新乡市科协" in paragraphs(out)


def test_other_opendocument_files_stay_zips():
    import zipfile

    from pipeline.filetypes import sniff

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<x/>")
    assert sniff(buf.getvalue()) == "zip"
