"""Per-page PDF micro-benchmark.

    python bench/pdf_pages.py [--pages 30] [--json OUT]

Builds a 30-page vector PDF by concatenating the sample forms with pikepdf (the last
form keeps its red seal on the last page; the others are unstamped) and a scanned copy
of it (pipeline.samples.pdfs.scan_pdf), then measures:
  seal_ms_page      pipeline.forms.seal.find_seal at 100 dpi on the scanned 30-page PDF
                    with NO seal anywhere (worst case: every page rendered, red and grey
                    tests run), total / pages
  seal_found_ms     find_seal on the scanned PDF whose seal is on the last page (common case)
  text_ms_page      pypdfium2 text extraction (get_textpage + get_text_range), vector PDF
  ocr_ms_page       what intake does for a scan without text layer: render at 150 dpi +
                    libtesseract chi_sim in a forked child, per page (intake OCRs the first and last page)
  child_*           `python -m pipeline.forms.pdf` (the sandboxed child intake runs per PDF)
                    on the scanned 30-page PDF, via bench/measure.py: wall s, peak RSS MB
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def build(pages: int) -> tuple[bytes, bytes, bytes]:
    """(vector_with_seal_last, scanned_with_seal_last, scanned_no_seal)."""
    import pikepdf

    from pipeline.samples.apps import sample_applications
    from pipeline.samples.pdfs import build_form_pdf, scan_pdf

    apps = sample_applications()

    def concat(seal_last: str) -> bytes:
        out = pikepdf.new()
        i = 0
        parts = []
        while len(out.pages) < pages:
            parts.append(pikepdf.open(io.BytesIO(build_form_pdf(apps[i % len(apps)], seal="none", seed=i))))
            out.pages.extend(parts[-1].pages)
            i += 1
        del out.pages[pages - 5 :]  # room for the last form (5 pages)
        while len(out.pages) < pages - 5:
            out.pages.append(parts[0].pages[0])
        last = pikepdf.open(io.BytesIO(build_form_pdf(apps[0], seal=seal_last, seed=99)))
        out.pages.extend(last.pages)
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()

    vec = concat("red")
    vec_none = concat("none")
    return vec, scan_pdf(vec, seed=7), scan_pdf(vec_none, seed=7)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--json")
    a = ap.parse_args()

    import pypdfium2 as pdfium

    from pipeline.forms.pdf import _ocr, ocr_available
    from pipeline.forms.seal import find_seal

    t = time.perf_counter()
    vec, scan, scan_none = build(a.pages)
    build_s = time.perf_counter() - t
    r: dict = {"pages": a.pages, "build_s": build_s, "scan_mb": len(scan) / 1e6}

    doc = pdfium.PdfDocument(scan_none)
    n = len(doc)
    assert n == a.pages, n
    find_seal(pdfium.PdfDocument(vec))  # warm imports / FFT plans
    t = time.perf_counter()
    ev = find_seal(doc)
    r["seal_ms_page"] = (time.perf_counter() - t) * 1000 / n
    r["seal_none_kind"] = ev.kind
    doc.close()

    t = time.perf_counter()
    ev = find_seal(pdfium.PdfDocument(scan))
    r["seal_found_ms"] = (time.perf_counter() - t) * 1000
    r["seal_found"] = f"{ev.kind} p{ev.page}"

    doc = pdfium.PdfDocument(vec)
    t = time.perf_counter()
    chars = 0
    for i in range(len(doc)):
        page = doc[i]
        tp = page.get_textpage()
        chars += len(tp.get_text_range())
        tp.close()
        page.close()
    r["text_ms_page"] = (time.perf_counter() - t) * 1000 / len(doc)
    r["text_chars"] = chars
    doc.close()

    if ocr_available():
        doc = pdfium.PdfDocument(scan)
        t = time.perf_counter()
        _ocr(doc)  # first + last page
        r["ocr_ms_page"] = (time.perf_counter() - t) * 1000 / 2
        doc.close()
    else:
        r["ocr_ms_page"] = None

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "scan30.pdf"
        src.write_bytes(scan)
        out = Path(tmp) / "m.json"
        env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_QUIET="1")
        with open(src, "rb") as fh:
            subprocess.run(
                [sys.executable, str(HERE / "measure.py"), str(out), "--", sys.executable, "-m", "pipeline.forms.pdf"],
                stdin=fh, cwd=ROOT, env=env, check=True,
            )
        m = json.loads(out.read_text())
        r["child_s"] = m["wall"]
        r["child_maxrss_mb"] = m["maxrss_mb"]
        r["child_tree_mb"] = m["tree_mb"]
        r["child_rc"] = m["rc"]

    print(f"PDF micro-benchmark ({a.pages}-page PDF; scan {r['scan_mb']:.1f} MB, built in {build_s:.1f} s)")
    rows = [
        ("seal detection, 100 dpi, ms/page (no seal: all pages)", f"{r['seal_ms_page']:.1f}", "<= 100", r["seal_ms_page"] <= 100),
        ("seal detection, seal on last page, ms total", f"{r['seal_found_ms']:.1f} ({r['seal_found']})", "", None),
        ("text extraction (pypdfium2), ms/page", f"{r['text_ms_page']:.2f}", "", None),
        ("OCR of a scanned page (150 dpi, libtesseract), ms/page", "n/a" if r["ocr_ms_page"] is None else f"{r['ocr_ms_page']:.0f}", "", None),
        ("PDF child on the 30-page scan, wall s", f"{r['child_s']:.2f}", "", None),
        ("PDF child peak RSS, MB (largest process / tree)", f"{r['child_maxrss_mb']:.0f} / {r['child_tree_mb']:.0f}", "<= 300",
         max(r["child_maxrss_mb"], r["child_tree_mb"]) <= 300),
    ]
    for name, val, target, ok in rows:
        mark = "" if ok is None else ("OK" if ok else "MISS")
        print(f"  {name:<52} {val:>18}  {target:>7} {mark}")
    if a.json:
        Path(a.json).write_text(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
