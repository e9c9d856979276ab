"""Decide what a file is from its first bytes, never from its name.

Applicants rename files freely (a .wps saved as .doc, a PDF called .docx, an
HTML page saved by Word as .doc), so the name only serves for display. Every
check here is cheap and tolerant: any bytes give one of the kinds below.
"""
from __future__ import annotations

import io
import zipfile

KINDS = (
    "docx", "xlsx", "pptx", "odt", "zip", "pdf", "doc", "wps", "xls", "ppt", "rtf",
    "html_doc", "word2003xml", "rar", "7z", "tnef", "msg", "office_encrypted", "image", "ofd", "text", "other",
)

TNEF_MAGIC = b"\x78\x9f\x3e\x22"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# The main part of each OOXML package, checked in this order.
OOXML_PARTS = (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"), ("ppt/presentation.xml", "pptx"))
# OpenDocument packages carry a "mimetype" member naming the type (LibreOffice's
# default format; WPS and Word can write it too). Only text documents are forms; a
# spreadsheet or presentation stays a plain zip.
ODF_TEXT = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template")
HEAD = 64 * 1024  # how much of a file the text-based checks look at


def sniff(data: bytes) -> str:
    """The kind of `data` (one of KINDS), judged by content only."""
    try:
        return _sniff(bytes(data))
    except Exception:  # a malformed file is "other", never a crash
        return "other"


def _sniff(data: bytes) -> str:
    if not data:
        return "other"
    if data.startswith(TNEF_MAGIC):
        return "tnef"  # Outlook's winmail.dat (may carry a PDF inside)
    if data.startswith(ZIP_MAGICS):
        return _zip_kind(data)
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(OLE2_MAGIC):
        return _ole2_kind(data)
    if data.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if data.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if _is_image(data):
        return "image"
    text = _head_text(data)
    if text is not None:
        return _text_kind(text)
    return "other"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except Exception:
        # A truncated package has no central directory; its local headers
        # still name the parts, so look for the main part's name at the start.
        head = data[:HEAD]
        for part, kind in OOXML_PARTS:
            if b"PK\x03\x04" in head and part.encode() in head:
                return kind
        return "zip"
    for part, kind in OOXML_PARTS:
        if part in names:
            return kind
    if "[Content_Types].xml" in names:
        # The main part under another name (Word Online and SharePoint write word/document2.xml):
        # the package's content types say what it is. An OOXML package is never an archive to open.
        return _ooxml_by_content_type(data)
    if "mimetype" in names and "content.xml" in names and _odf_type(data) in ODF_TEXT:
        return "odt"
    if any(n.lower() == "ofd.xml" for n in names):
        return "ofd"  # China's fixed-layout format (GB/T 33190): e-sealed documents are often OFD, not PDF
    return "zip"


# Main-part content types (transitional and strict share these names) and the kind each makes.
OOXML_MAIN_TYPES = (
    ("wordprocessingml.document.main", "docx"), ("wordprocessingml.template.main", "docx"),
    ("ms-word.document.macroenabled.main", "docx"), ("ms-word.template.macroenabledtemplate.main", "docx"),
    ("spreadsheetml.sheet.main", "xlsx"), ("presentationml.presentation.main", "pptx"),
)


def _ooxml_by_content_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("[Content_Types].xml") as fh:
            types = fh.read(256 * 1024).decode("utf-8", "replace").lower()
    except Exception:
        return "other"
    for marker, kind in OOXML_MAIN_TYPES:
        if marker in types:
            return kind
    return "other"  # an XPS document, a Visio drawing: a package, not an archive of files


def _odf_type(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open("mimetype") as fh:
        return fh.read(100).decode("ascii", "replace").strip()


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def _ole2_top_names(data: bytes) -> set[str] | None:
    """Names of the root storage's entries, or None when olefile cannot read the directory."""
    try:
        import olefile

        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return {entry[0] for entry in ole.listdir(streams=True, storages=True) if entry}
    except Exception:
        return None


def _ole2_kind(data: bytes) -> str:
    """Refine OLE2 by the stream names in its directory (UTF-16LE)."""
    top = _ole2_top_names(data)
    if top is not None:
        # The root's own entries: a file attached inside an Outlook mail holds
        # another file's stream names in its bytes, so the root decides.
        if "__properties_version1.0" in top and any(n.startswith("__substg1.0_") for n in top):
            return "msg"  # an Outlook mail saved or dragged into the mail (.msg)
        if "EncryptedPackage" in top:
            return "office_encrypted"  # a .docx/.xlsx with an open password (its package is encrypted)
    # A substring search is cheap and good enough: directory entries hold
    # the stream names verbatim, and the names below are distinctive.
    if _utf16("WordDocument") in data:
        return "doc"
    if _utf16("Workbook") in data or _utf16("Book\x00") in data:
        return "xls"
    if _utf16("PowerPoint Document") in data:
        return "ppt"
    if _utf16("MatOST") in data or _utf16("CONTENTS") in data:
        return "wps"  # Microsoft Works word processor
    return "doc"


def _is_image(data: bytes) -> bool:
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")):
        return True
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return True
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"heif"):
        return True  # phone photos (HEIC)
    if data.startswith(b"BM") and len(data) >= 26:
        # "BM" alone is too weak (text can start so): require a DIB header size.
        return int.from_bytes(data[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)
    return False


def _head_text(data: bytes) -> str | None:
    """The start of `data` as text, or None when it is binary."""
    head = data[:HEAD]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head[: len(head) // 2 * 2].decode("utf-16", "replace")
        except Exception:
            return None
    if b"\x00" in head:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = None
    for codec in ("utf-8", "gb18030"):
        try:
            text = head.decode(codec)
            break
        except UnicodeDecodeError as exc:
            # The cut at HEAD may split one character: accept that.
            if len(data) > HEAD and exc.start >= len(head) - 4:
                text = head[: exc.start].decode(codec, "replace")
                break
    if text is None:
        return None
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f\x0b\x1a")
    if controls > max(2, len(text) // 100):
        return None
    return text


def _text_kind(text: str) -> str:
    stripped = text.lstrip(" \t\r\n\ufeff")
    if stripped.startswith("{\\rtf"):
        return "rtf"
    lower = stripped[:HEAD].lower()
    if "<w:worddocument" in lower or ('progid="word.document"' in lower and "<?xml" in lower[:200]):
        return "word2003xml"
    if lower.startswith("mime-version:") or ("mime-version:" in lower[:2000] and "multipart/related" in lower[:4000]):
        return "html_doc"  # MHT (single-file web page), as Word saves it
    if lower.startswith(("<!doctype html", "<html", "<?xml")) and "<html" in lower[:4000]:
        return "html_doc"
    if "urn:schemas-microsoft-com:office:word" in lower or ("<html" in lower[:4000] and "<body" in lower):
        return "html_doc"
    return "text"
