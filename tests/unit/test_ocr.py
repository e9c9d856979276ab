"""OCR through libtesseract: text of rendered pages; a failing OCR costs only its text."""
from __future__ import annotations

import os
import time

import pypdfium2 as pdfium
import pytest

from pipeline.forms import ocr
from pipeline.forms import pdf as pdfmod
from pipeline.models import Application
from pipeline.samples.pdfs import build_form_pdf

UNIT = "新乡市红旗区科学技术协会"
needs_ocr = pytest.mark.skipif(not ocr.available(), reason="libtesseract with chi_sim not installed")


@pytest.fixture(scope="module")
def scan_doc():
    app = Application(unit_name=UNIT, cover_unit=UNIT, pilot_types=("县级科协试点",))
    doc = pdfium.PdfDocument(build_form_pdf(app, scan=True, seed=11))
    yield doc
    doc.close()


@needs_ocr
def test_cover_and_last_page_are_read(scan_doc):
    pages = pdfmod._ocr(scan_doc)
    assert sorted(pages) == [1, len(scan_doc)]
    assert UNIT in pages[1].replace(" ", "")
    assert "申报单位意见" in pages[len(scan_doc)].replace(" ", "")


@needs_ocr
def test_a_crashing_ocr_leaves_no_text_and_the_caller_alive(scan_doc, monkeypatch):
    monkeypatch.setattr(ocr.Engine, "read", lambda self, page: os.abort())
    assert pdfmod._ocr(scan_doc) == {}


@needs_ocr
def test_a_hanging_ocr_is_stopped_at_its_deadline(scan_doc, monkeypatch):
    monkeypatch.setattr(ocr.Engine, "read", lambda self, page: time.sleep(60))
    started = time.monotonic()
    assert pdfmod._ocr(scan_doc, timeout=1) == {}
    assert time.monotonic() - started < 10


@needs_ocr
def test_pixels_that_do_not_match_the_size_are_refused():
    page = ocr.Page(b"\xff" * 99, 10, 10, 150)
    assert ocr.read_pages([page]) is None
    assert ocr.read_pages([ocr.Page(b"\xff" * 100, 10, 10, 150)]) == [""]  # a blank page reads as nothing


def test_without_the_library_there_is_no_ocr(monkeypatch, scan_doc):
    monkeypatch.setattr(ocr, "SONAMES", ("libtesseract-missing.so.0",))
    monkeypatch.setattr(ocr.ctypes.util, "find_library", lambda name: None)
    ocr.engine.cache_clear()
    try:
        assert not ocr.available()
        assert pdfmod._ocr(scan_doc) == {}
    finally:
        ocr.engine.cache_clear()


def test_without_chi_sim_data_there_is_no_ocr(monkeypatch, tmp_path):
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # an empty tessdata folder
    ocr.engine.cache_clear()
    try:
        assert ocr.engine() is None
    finally:
        ocr.engine.cache_clear()
