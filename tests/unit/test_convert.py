"""Legacy Word formats go through LibreOffice; without it they are a clear problem."""
from __future__ import annotations

import io
import os
import shutil
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


@needs_soffice
def test_a_page_saved_as_doc_fetches_nothing_while_converted():
    """<link href=http://…> and <img src=http://…> in a page saved as .doc made LibreOffice send
    GETs (a read beacon for the sender, requests into our own network): it runs without network."""
    import http.server
    import threading

    probes = (["unshare", "--net", "true"], ["unshare", "-rn", "true"])
    if not shutil.which("unshare") or not any(subprocess.run(p, capture_output=True).returncode == 0 for p in probes):
        pytest.skip("no network namespace on this machine (unshare --net / -rn)")
    fetched: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    page = (f"<html><head><meta charset='utf-8'><link rel='stylesheet' href='{url}/style.css'></head><body>"
            f"<p>申报单位：新乡市测试科协</p><img src='{url}/beacon.png'></body></html>").encode()
    try:
        out = convert.to_docx(page, "html_doc")
    finally:
        server.shutdown()
        server.server_close()
    assert fetched == []
    assert out is not None and "新乡市测试科协" in paragraphs(out)


def test_without_network_namespaces_conversion_goes_on_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(convert.shutil, "which", lambda name: None)
    convert.offline_prefix.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="pipeline.convert"):
            assert convert.offline_prefix() == ()
        assert "network access" in caplog.text
    finally:
        convert.offline_prefix.cache_clear()


def test_libreoffice_runs_under_an_address_space_limit(monkeypatch):
    """A file that makes LibreOffice allocate without end fails alone (the limit is set in the child)."""
    import resource

    seen = {}
    real_popen = subprocess.Popen

    def popen(cmd, **kwargs):
        seen["cmd"], seen["preexec"] = cmd, kwargs.get("preexec_fn")
        return real_popen(["true"], **{k: v for k, v in kwargs.items() if k != "preexec_fn"})

    monkeypatch.setattr(convert, "soffice", lambda: "/usr/bin/soffice")
    monkeypatch.setattr(convert.subprocess, "Popen", popen)
    assert convert.to_docx(RTF, "rtf") is None  # `true` writes no output
    assert seen["cmd"][: len(convert.offline_prefix()) + 1] == [*convert.offline_prefix(), "/usr/bin/soffice"]
    before = resource.getrlimit(resource.RLIMIT_AS)
    pid = os.fork()
    if pid == 0:  # the hook as the child runs it
        seen["preexec"]()
        os._exit(0 if resource.getrlimit(resource.RLIMIT_AS)[0] == 2 << 30 else 1)
    assert os.waitpid(pid, 0)[1] == 0 and resource.getrlimit(resource.RLIMIT_AS) == before


@needs_soffice
def test_a_whole_form_saved_as_doc_still_converts_under_the_limits(tmp_path):
    """The filled form as Word 97 (.doc) converts with no network and 2 GB of address space."""
    from pipeline.forms.docx import read_form
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx

    app = sample_applications()[0]
    src = tmp_path / "form.docx"
    src.write_bytes(build_form_docx(app))
    subprocess.run([convert.soffice(), f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(tmp_path), str(src)], capture_output=True, timeout=120)
    out = convert.to_docx((tmp_path / "form.doc").read_bytes(), "doc")
    assert out is not None and read_form(out).unit == app.unit
