"""Convert legacy and other Word files (.doc, .wps, RTF, HTML-as-.doc, Word 2003 XML, OpenDocument .odt) to .docx.

LibreOffice (optional system package `libreoffice-writer-nogui`) runs headless,
each conversion with its own profile directory (concurrent runs sharing one
fail silently), in its own process group killed on timeout, without network
(`offline_prefix`) and with an address-space limit; the output is checked even
when soffice exits 0. The original file is kept by the caller.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .forms.sandbox import untrusted_env

log = logging.getLogger(__name__)

CONVERTIBLE = frozenset({"doc", "wps", "rtf", "html_doc", "word2003xml", "odt"})
SUFFIX = {"doc": ".doc", "wps": ".wps", "rtf": ".rtf", "html_doc": ".html", "word2003xml": ".xml", "odt": ".odt"}
# Address space for soffice and its children (a conversion takes ~250 MB): a file that makes
# LibreOffice allocate without end fails alone instead of taking the machine's memory.
MEMORY_LIMIT = 2 << 30


def soffice() -> str | None:
    """The LibreOffice binary, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@functools.lru_cache(maxsize=1)
def offline_prefix() -> tuple[str, ...]:
    """The command prefix that runs LibreOffice without network, probed once: a page saved as
    .doc links images and style sheets by URL, and fetching them tells a stranger we opened
    the file (or reaches services on our own network). `unshare --net` works as root,
    `unshare -rn` (a user namespace) for other users where the kernel allows it."""
    unshare = shutil.which("unshare")
    for prefix in ((unshare, "--net"), (unshare, "--map-root-user", "--net")) if unshare else ():
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.SubprocessError):
            continue
    log.warning("LibreOffice runs with network access: neither 'unshare --net' nor 'unshare -rn' works here")
    return ()


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


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
            *offline_prefix(),
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
                preexec_fn=_limit_memory,
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
