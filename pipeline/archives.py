"""Unpack ZIP / 7z / RAR attachments into their member files, within limits.

Chinese Windows writes ZIP member names in GBK without the UTF-8 flag, so
names are decoded as GB18030. Limits (member count, compression ratio, nesting
depth, and one byte budget for the whole mail, checked on declared sizes before
reading) stop archive bombs; breaking one is a recorded problem, never an
exception. Members over the attachment limit are recorded, never unpacked.
Member names are display names only, never paths.
"""
from __future__ import annotations

import hashlib
import io
import logging
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field

from .filetypes import HEAD, sniff
from .models import WARNING, Attachment, Finding

log = logging.getLogger(__name__)

ARCHIVE_KINDS = frozenset({"zip", "7z", "rar", "tnef", "msg"})
LOCATION = "邮件附件（压缩包）"


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 200 * 1024 * 1024  # unpacked per mail, all archives and levels together
    max_members: int = 200
    max_ratio: float = 200.0
    max_depth: int = 2


@dataclass(frozen=True)
class Skipped:
    """A member over the attachment limit: recorded by name and declared size, never unpacked."""

    filename: str
    kind: str  # from its first 64 KB, or its name when an archive cannot give them cheaply
    size: int
    archive: str  # the mail's attachment it came in, as a reply names it: 压缩包“材料.zip”


@dataclass
class Budget:
    """Bytes one mail may still unpack, across all its archives and nesting levels.

    Limits checked per archive let 16 inner zips of one 199 MB member each hold 3 GB in
    memory; sizes are checked as declared, before anything is read.
    """

    left: int = Limits.max_total_bytes
    member_limit: int | None = None  # larger members are only recorded (`skipped`)
    skipped: list[Skipped] = field(default_factory=list)
    top: Attachment | None = None  # the mail's archive being unpacked
    spent: bool = False  # the problem saying so is on record

    def too_large(self, size: int) -> bool:
        return self.member_limit is not None and size > self.member_limit

    def take(self, size: int) -> bool:
        if size > self.left:
            return False
        self.left -= size
        return True

    def skip(self, name: str, head: bytes, size: int) -> None:
        name = display_name(name)
        self.skipped.append(Skipped(name, _guess_kind(name, head), size, _what(self.top) if self.top else "压缩包"))

    def over(self) -> list[Finding]:
        """The problem, once per mail: every later member would only repeat it."""
        if self.spent:
            return []
        self.spent = True
        what = _what(self.top) if self.top else "压缩包"
        return [_problem(f"{what}中的文件解压后合计过大，超出处理限制，未能全部取出。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩或打包）。")]


_KIND_BY_NAME = {".pdf": "pdf", ".docx": "docx", ".doc": "doc", ".wps": "wps"}


def _guess_kind(name: str, head: bytes) -> str:
    """A skipped member's kind for the advice it gets: its first bytes, else its name."""
    kind = sniff(head) if head else "other"
    if kind in ("other", "zip", "text"):
        dot = name.rfind(".")
        kind = _KIND_BY_NAME.get(name[dot:].lower(), kind) if dot >= 0 else kind
    return kind


def _problem(message: str) -> Finding:
    return Finding("archive_unreadable", WARNING, message, LOCATION)


def display_name(name: str) -> str:
    """The last path component, without control characters; never a path."""
    name = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in "\x00")
    return name[:200] or "未命名文件"


def expand(
    att: Attachment, limits: Limits = Limits(), depth: int = 1, budget: Budget | None = None
) -> tuple[list[Attachment], list[Finding]]:
    """Member files of an archive attachment (nested archives opened up to the depth limit).

    One `budget` serves all archives of a mail; members over its `member_limit` end in
    `budget.skipped` instead of the result."""
    if budget is None:
        budget = Budget(limits.max_total_bytes)
    if depth == 1:
        budget.top = att
    try:
        if att.kind == "zip":
            return _zip(att, limits, depth, budget)
        if att.kind == "7z":
            return _7z(att, limits, depth, budget)
        if att.kind == "rar":
            return _rar(att, limits, depth, budget)
        if att.kind == "tnef":
            return _tnef(att, limits, depth, budget)
        if att.kind == "msg":
            return _msg(att, limits, depth, budget)
    except Exception:  # a hostile archive must not stop the run; the applicant reads no exception names
        log.warning("unpacking %s (%s) failed", att.filename, att.kind, exc_info=True)
        return [], [_problem(f"{_what(att)}无法打开。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩或打包）。")]
    return [], []


def _what(att: Attachment) -> str:
    """How the applicant's container is named in a reply: a winmail.dat is no 压缩包 to them."""
    if att.kind == "tnef":
        return f"Outlook 生成的附件包“{att.filename}”"
    if att.kind == "msg":
        return f"附件中的 Outlook 邮件“{att.filename}”"
    return f"压缩包“{att.filename}”"


def _member(name: str, data: bytes, parent: Attachment) -> Attachment:
    return Attachment(
        filename=display_name(name),
        kind=sniff(data),
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/octet-stream",
    )


def _recurse(members: list[Attachment], limits: Limits, depth: int, problems: list[Finding], budget: Budget) -> list[Attachment]:
    out: list[Attachment] = []
    for m in members:
        if m.kind in ARCHIVE_KINDS:
            if depth >= limits.max_depth:
                problems.append(_problem(f"压缩包“{m.filename}”嵌套层数过多，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。"))
                continue
            inner, inner_problems = expand(m, limits, depth + 1, budget)
            out.extend(inner)
            problems.extend(inner_problems)
        else:
            out.append(m)
    return out


def _zip(att: Attachment, limits: Limits, depth: int, budget: Budget) -> tuple[list[Attachment], list[Finding]]:
    problems: list[Finding] = []
    members: list[Attachment] = []
    with zipfile.ZipFile(io.BytesIO(att.data)) as zf:  # cp437 for unflagged names: never fails; see _zip_name
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            return [], [_problem(f"压缩包“{att.filename}”内文件过多（{len(infos)} 个），未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")]
        for info in infos:
            if info.flag_bits & 0x1:
                problems.append(_problem(f"压缩包“{att.filename}”中的“{display_name(_zip_name(info))}”有密码，无法打开。请发送未加密的文件。"))
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                problems.append(_problem(f"压缩包“{att.filename}”解压后文件过大，超出处理限制，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。"))
                break
            if not _take(_zip_name(info), info.file_size, lambda info=info: zf.open(info), att, budget, problems, members):
                break
    return _recurse(members, limits, depth, problems, budget), problems


def _take(name: str, size: int, open_member, att: Attachment, budget: Budget, problems: list[Finding],
          members: list[Attachment], *, head: bool = True) -> bool:
    """One member of any archive kind, under the mail's budget: over the attachment limit it is
    skipped (its first bytes read, when `head`, to tell what it is), past the budget the archive
    stops, else it is read (a header lying about the size is damage). False: stop this archive."""
    if budget.too_large(size):
        if head:
            with open_member() as fh:
                budget.skip(name, fh.read(HEAD), size)
        else:
            budget.skip(name, b"", size)
        return True
    if not budget.take(size):
        problems.extend(budget.over())
        return False
    with open_member() as fh:
        data = fh.read(size + 1)  # the header may lie about the size
    if len(data) > size:
        problems.append(_problem(f"压缩包“{att.filename}”已损坏，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。"))
        return False
    members.append(_member(name, data, att))
    return True


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member's name. Without the UTF-8 flag the bytes are whatever the zipper used: GBK from
    Windows' built-in zipper and WinRAR, UTF-8 from macOS Finder and Info-ZIP (zipfile read them
    as cp437, which keeps every byte)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("gb18030", "replace")


def _7z(att: Attachment, limits: Limits, depth: int, budget: Budget) -> tuple[list[Attachment], list[Finding]]:
    try:
        import py7zr
    except ImportError:
        return [], [_problem(f"暂不能解压 7z 压缩包“{att.filename}”。请改用 ZIP 压缩，或直接将 Word 版申报书和盖章 PDF 版作为附件发送。")]
    problems: list[Finding] = []
    with py7zr.SevenZipFile(io.BytesIO(att.data), mode="r") as archive:
        if archive.needs_password():
            return [], [_problem(f"压缩包“{att.filename}”有密码，无法打开。请发送未加密的文件。")]
        infos = [i for i in archive.list() if not i.is_directory]
        if len(infos) > limits.max_members:
            return [], [_problem(f"压缩包“{att.filename}”内文件过多（{len(infos)} 个），未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")]
        total = sum(i.uncompressed for i in infos)
        if total / max(len(att.data), 1) > limits.max_ratio:
            return [], [_problem(f"压缩包“{att.filename}”解压后文件过大，超出处理限制，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")]
        wanted = []
        for info in infos:
            if budget.too_large(info.uncompressed):
                budget.skip(info.filename, b"", info.uncompressed)  # a solid block gives no head without the rest
            elif budget.take(info.uncompressed):
                wanted.append(info)
            else:
                problems.extend(budget.over())
                break
        if not wanted:
            return [], problems
        from py7zr.io import BytesIOFactory

        declared = {i.filename: i.uncompressed for i in wanted}
        factory = BytesIOFactory(max(declared.values()) + 1)  # writes stop past it: the header may lie
        with tempfile.TemporaryDirectory(prefix="intake-7z-") as tmp:  # folders only; files go to memory
            archive.extract(path=tmp, targets=list(declared), factory=factory)
        members = []
        for name, product in factory.products.items():
            product.seek(0)
            data = product.read()
            name = name[len(tmp) + 1 :] if name.startswith(tmp + "/") else name  # the factory gets paths under tmp
            if len(data) > declared.get(name, 0):
                problems.append(_problem(f"压缩包“{att.filename}”已损坏，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。"))
                break
            members.append(_member(name, data, att))
    return _recurse(members, limits, depth, problems, budget), problems


def _rar(att: Attachment, limits: Limits, depth: int, budget: Budget) -> tuple[list[Attachment], list[Finding]]:
    try:
        import rarfile
    except ImportError:
        rarfile = None
    if rarfile is None:
        return [], [_problem(f"暂不能解压 RAR 压缩包“{att.filename}”。请改用 ZIP 压缩，或直接将 Word 版申报书和盖章 PDF 版作为附件发送。")]
    problems: list[Finding] = []
    members: list[Attachment] = []
    try:
        with rarfile.RarFile(io.BytesIO(att.data)) as rf:
            infos = [i for i in rf.infolist() if not i.is_dir()]
            if len(infos) > limits.max_members:
                return [], [_problem(f"压缩包“{att.filename}”内文件过多（{len(infos)} 个），未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")]
            total = sum(i.file_size for i in infos)
            if total / max(len(att.data), 1) > limits.max_ratio:
                return [], [_problem(f"压缩包“{att.filename}”解压后文件过大，超出处理限制，未能解压。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩）。")]
            for info in infos:
                if not _take(info.filename, info.file_size, lambda info=info: rf.open(info), att, budget, problems, members, head=False):
                    break
    except rarfile.RarCannotExec:
        return [], [_problem(f"暂不能解压 RAR 压缩包“{att.filename}”。请改用 ZIP 压缩，或直接将 Word 版申报书和盖章 PDF 版作为附件发送。")]
    return _recurse(members, limits, depth, problems, budget), problems


def _tnef_object(level: int, name: int, type_: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, name, type_, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


# attOemCodepage = 936 (Chinese Windows), for streams that carry none.
_CODEPAGE_936 = _tnef_object(1, 0x9007, 0x0006, struct.pack("<II", 936, 0))


def _parse_tnef(tnef_class, data: bytes):
    """tnefparse decodes strings with the stream's codepage and fails (TypeError) when a
    gateway wrote none: such streams are read as Chinese Windows would have written them."""
    try:
        return tnef_class(data, do_checksum=False)
    except TypeError:
        return tnef_class(data[:6] + _CODEPAGE_936 + data[6:], do_checksum=False)


def _tnef(att: Attachment, limits: Limits, depth: int, budget: Budget) -> tuple[list[Attachment], list[Finding]]:
    """Outlook's winmail.dat. Names are decoded here: tnefparse reads the short
    name as UTF-8 and fails on GBK (codepage 936) names."""
    try:
        from tnefparse import properties as mapi_props
        from tnefparse.tnef import TNEF
    except ImportError:
        return [], [_problem(f"暂不能读取 Outlook 的 winmail.dat（“{att.filename}”）。请直接将 Word 版申报书和盖章 PDF 版作为普通附件重新发送。")]
    from .mime import decode_bytes, norm_charset

    tnef = _parse_tnef(TNEF, att.data)
    charset = norm_charset(tnef.codepage) if tnef.codepage else "gb18030"
    members = []
    problems: list[Finding] = []
    for item in tnef.attachments[: limits.max_members]:
        data = item.data or b""
        long_names = [a.data for a in item.mapi_attrs if a.name == mapi_props.MAPI_ATTACH_LONG_FILENAME]
        name = long_names[0] if long_names else item._name
        if isinstance(name, bytes):
            name = decode_bytes(name.rstrip(b"\x00"), charset)
        name = str(name).strip("\x00") or "未命名文件"
        if not _take(name, len(data), lambda data=data: io.BytesIO(bytes(data)), att, budget, problems, members):
            break
    return _recurse(members, limits, depth, problems, budget), problems


MSG_ATTACH = "__attach_version1.0_#"
MSG_EMBEDDED = "__substg1.0_3701000D"  # an attached mail: a whole message storage
MSG_DATA = "__substg1.0_37010102"
# Attachment name properties, best first: long name, short name, display name (Unicode, then 8-bit).
MSG_MAX_ENTRIES = 20_000  # a mail with 200 attachments has a few thousand; more is a bomb, not a mail
MSG_NAMES = ("3707001F", "3704001F", "3001001F", "3707001E", "3704001E", "3001001E")


def _msg(att: Attachment, limits: Limits, depth: int, budget: Budget) -> tuple[list[Attachment], list[Finding]]:
    """An Outlook mail (.msg) attached to the mail: Outlook users drag a sent mail from
    已发送邮件 into a new one. Its attachments are the applicant's files."""
    import olefile

    members: list[Attachment] = []
    problems: list[Finding] = []
    with olefile.OleFileIO(io.BytesIO(att.data)) as ole:
        entries = [tuple(e) for e in ole.listdir(streams=True, storages=True)]
        if len(entries) > MSG_MAX_ENTRIES:
            return [], [_problem(f"{_what(att)}结构异常（条目过多），未能打开。请直接将 Word 版申报书和盖章 PDF 版作为附件发送（不要压缩或打包）。")]
        if not _msg_members(ole, entries, (), att, members, limits, 0, budget):
            problems.extend(budget.over())
    return _recurse(members, limits, depth, problems, budget), problems


def _msg_members(ole, entries, prefix: tuple, parent: Attachment, out: list[Attachment], limits: Limits, level: int, budget: Budget) -> bool:
    """Add the attachments of the message storage at `prefix` (and of mails attached to it);
    False when the budget ran out."""
    n = len(prefix)
    storages = sorted({e[n] for e in entries if len(e) > n + 1 and e[:n] == prefix and e[n].startswith(MSG_ATTACH)})
    for storage in storages:
        if len(out) >= limits.max_members:
            break
        base = (*prefix, storage)
        embedded = (*base, MSG_EMBEDDED)
        if any(e[: len(embedded)] == embedded for e in entries):
            if level < limits.max_depth and not _msg_members(ole, entries, embedded, parent, out, limits, level + 1, budget):
                return False
            continue
        path = "/".join((*base, MSG_DATA))
        if not ole.exists(path):
            continue  # a link or an OLE object, no file bytes
        size = ole.get_size(path)
        if budget.too_large(size):
            budget.skip(_msg_name(ole, base) or "未命名文件", ole.openstream(path).read(HEAD), size)
            continue
        if not budget.take(size):
            return False
        data = ole.openstream(path).read()
        out.append(_member(_msg_name(ole, base) or "未命名文件", data, parent))
    return True


def _msg_name(ole, base: tuple) -> str:
    from .mime import decode_bytes

    for prop in MSG_NAMES:
        path = "/".join((*base, f"__substg1.0_{prop}"))
        if not ole.exists(path):
            continue
        raw = ole.openstream(path).read()
        name = raw.decode("utf-16-le", "replace") if prop.endswith("1F") else decode_bytes(raw, "gb18030")
        name = name.strip("\x00").strip()
        if name:
            return name
    return ""
