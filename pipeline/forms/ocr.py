"""OCR of scanned pages with libtesseract, loaded once per process.

The `tesseract` command costs a process start, a model load and an image
re-encoding for every scan (~0.2 s of ~0.45 s). The PDF worker server loads
the library and the chi_sim model before it forks, so each per-PDF child
starts with a ready engine (copy-on-write). The recognition itself runs in
a forked grandchild with a deadline: an OCR that crashes or hangs on some
pixels costs the staff note it feeds, never the applicant's PDF.
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import functools
import os
from dataclasses import dataclass

LANG = b"chi_sim"
PSM_AUTO = 3  # page segmentation as the tesseract command's default (--psm 3)
SONAMES = ("libtesseract.so.5", "libtesseract.so.4")  # Debian 12/Ubuntu 22.04+, older systems


@dataclass(frozen=True)
class Page:
    """A greyscale page: one byte per pixel, rows without padding."""

    pixels: bytes
    width: int
    height: int
    dpi: int


def _candidates():
    yield from SONAMES
    found = ctypes.util.find_library("tesseract")  # slow (runs ldconfig): only for other sonames
    if found:
        yield found


def _load_library() -> ctypes.CDLL | None:
    for name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.TessBaseAPICreate.restype = vp
        lib.TessBaseAPIInit3.argtypes = [vp, cp, cp]
        lib.TessBaseAPIInit3.restype = i
        lib.TessBaseAPISetPageSegMode.argtypes = [vp, i]
        lib.TessBaseAPISetImage.argtypes = [vp, cp, i, i, i, i]
        lib.TessBaseAPISetSourceResolution.argtypes = [vp, i]
        lib.TessBaseAPIGetUTF8Text.argtypes = [vp]
        lib.TessBaseAPIGetUTF8Text.restype = vp  # a char* we must free with TessDeleteText
        lib.TessDeleteText.argtypes = [vp]
        for name_ in ("TessBaseAPIClear", "TessBaseAPIEnd", "TessBaseAPIDelete"):
            getattr(lib, name_).argtypes = [vp]
        return lib
    return None


class Engine:
    """One initialised TessBaseAPI (single-threaded use: one per process)."""

    def __init__(self, lib: ctypes.CDLL, api: int) -> None:
        self._lib, self._api, self._owner = lib, api, os.getpid()

    def read(self, page: Page) -> str:
        lib, api = self._lib, self._api
        if len(page.pixels) != page.width * page.height:
            raise ValueError("page pixels do not match its size")
        lib.TessBaseAPISetImage(api, page.pixels, page.width, page.height, 1, page.width)
        lib.TessBaseAPISetSourceResolution(api, page.dpi)
        text = lib.TessBaseAPIGetUTF8Text(api)
        try:
            return ctypes.string_at(text).decode("utf-8", "replace") if text else ""
        finally:
            if text:
                lib.TessDeleteText(text)
            lib.TessBaseAPIClear(api)

    def close(self) -> None:
        """Free the model (atexit; only in the process that loaded it, forks leave with os._exit)."""
        if os.getpid() == self._owner and self._api:
            self._lib.TessBaseAPIEnd(self._api)
            self._lib.TessBaseAPIDelete(self._api)
            self._api = None


@functools.lru_cache(maxsize=1)
def engine() -> Engine | None:
    """The process's engine with chi_sim loaded, or None (no libtesseract or no chi_sim data)."""
    # One OpenMP thread, read when libgomp loads with the library: its spinning
    # threads made OCR 2-4x slower on two busy cores (the workers' env sets it too).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    lib = _load_library()
    if lib is None:
        return None
    api = lib.TessBaseAPICreate()
    if not api:
        return None
    if lib.TessBaseAPIInit3(api, None, LANG) != 0:  # datapath None: TESSDATA_PREFIX or the packaged one
        lib.TessBaseAPIDelete(api)
        return None
    lib.TessBaseAPISetPageSegMode(api, PSM_AUTO)
    eng = Engine(lib, api)
    atexit.register(eng.close)
    return eng


def available() -> bool:
    """Tesseract with its simplified-Chinese data (Debian: tesseract-ocr, tesseract-ocr-chi-sim)."""
    return engine() is not None


def read_pages(pages: list[Page], *, timeout: float = 30) -> list[str] | None:
    """The text of each page, or None when OCR is unavailable, crashed or ran out of time."""
    from .sandbox import run_forked

    eng = engine()
    if eng is None or not pages:
        return None
    result = run_forked(lambda _: {"ok": True, "texts": [eng.read(p) for p in pages]}, _no_limits, b"", timeout)
    texts = result.get("texts") if result.get("ok") else None
    return texts if isinstance(texts, list) and len(texts) == len(pages) else None


def _no_limits() -> None:
    """The grandchild keeps the PDF child's limits (inherited); nothing to add."""
