"""Convert legacy and other Word files (.doc, .wps, RTF, HTML-as-.doc, Word 2003 XML, OpenDocument .odt) to .docx.

LibreOffice (optional system package `libreoffice-writer-nogui`) runs headless,
each conversion with its own profile directory (concurrent runs sharing one
fail silently), in its own process group killed on timeout; the output is
checked even when soffice exits 0. The original file is kept by the caller.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .forms.sandbox import untrusted_env

CONVERTIBLE = frozenset({"doc", "wps", "rtf", "html_doc", "word2003xml", "odt"})
SUFFIX = {"doc": ".doc", "wps": ".wps", "rtf": ".rtf", "html_doc": ".html", "word2003xml": ".xml", "odt": ".odt"}


def soffice() -> str | None:
    """The LibreOffice binary, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_docx(data: bytes, kind: str, *, timeout: float = 90.0) -> bytes | None:
    """The .docx bytes, or None when LibreOffice is missing or failed."""
    binary = soffice()
    if binary is None or kind not in CONVERTIBLE:
        return None
    with tempfile.TemporaryDirectory(prefix="intake-lo-") as tmp:
        work = Path(tmp)
        src = work / f"input{SUFFIX[kind]}"
        src.write_bytes(data)
        profile = (work / "profile").as_uri()
        target = "docx:MS Word 2007 XML" if kind == "html_doc" else "docx"
        cmd = [
            binary,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            target,
            "--outdir",
            str(work / "out"),
            str(src),
        ]
        if kind == "html_doc":
            cmd[-1:-1] = ["--infilter=HTML (StarWriter)"]
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=untrusted_env(HOME=str(work)),  # no authorization codes for a converter of strangers' files
            )
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return None
        except OSError:
            return None
        out = work / "out" / "input.docx"
        if not out.exists() or out.stat().st_size == 0:
            return None
        return out.read_bytes()
