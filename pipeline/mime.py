"""Turn the bytes of one mail into a `Mail`: sender, dates, text, attachments.

mail-parser serves only as a last opinion on odd Date headers; names, subject,
addresses and text are decoded here from the raw headers of the stdlib
`email` parser (compat32 keeps 8-bit bytes recoverable as surrogates),
because mail-parser decodes gb2312-labelled text with the gb2312 codec and
silently drops the GBK-only characters that Chinese personal names use.
`parse_mail` never raises: whatever it cannot read becomes a finding.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import contextvars
import email
import email.parser
import email.policy
import email.utils
import hashlib
import io
import logging
import quopri
import re
import secrets
import unicodedata
import urllib.parse
from datetime import date, datetime, time, timedelta, timezone
from email.message import Message
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from .filetypes import sniff
from .models import ERROR, WARNING, Attachment, Finding, Mail, RawMail
from .pairing import APPLICATION_KINDS, WORD_KINDS

log = logging.getLogger(__name__)

TZ = ZoneInfo("Asia/Shanghai")
MAX_NAME = 200
MAX_DEPTH = 50  # MIME nesting we follow; deeper parts are left unread

LINK_ONLY_MESSAGE = (
    "贵单位的邮件以“超大附件/云附件”链接形式发送了文件，链接会过期，我们无法据此受理。"
    "请将{files}作为普通附件直接添加到邮件中重新发送。"
)
# A leading space keeps "请将 Word 版…" spaced as everywhere else.
LINK_ONLY_FILES = {(False, False): " Word 版申报书和盖章 PDF 版", (True, False): "盖章 PDF 版", (False, True): " Word 版申报书"}

# Every label that means "some GB encoding": GB18030 is a superset of all of
# them, and the narrower codecs fail on GBK-only characters (镕 喆 玥 珺 堃).
GB_LABELS = frozenset({
    "gb2312", "gbk", "cp936", "x-gbk", "gb18030", "gb_2312-80", "gb_2312", "euc-cn", "euccn",
    "x-euc-cn", "csgb2312", "chinese", "iso-ir-58", "ms936", "windows-936", "hz-gb-2312",
})

# Every provider writes "从<name>邮箱发来的超大附件" (QQ, 腾讯企业, 网易163, 139, 新浪,
# 阿里 ...) above the link. The phrase only lets a link of a host we do not know
# count (see `find_cloud_links`): alone it is an applicant's own sentence
# ("上次从单位邮箱发来的超大附件已过期，现作为普通附件重发"). Apple's Mail Drop is
# known by its host, and "Mail Drop" in prose is no link.
CLOUD_PHRASE = re.compile(r"从\S{1,12}?邮箱发来的(?:超大|云)附件|邮箱发来的云附件")
# Download links by host and path; a link to a provider's home page (a signature) is none.
CLOUD_HOSTS = (
    "mail.qq.com/cgi-bin/ftnexs_download",
    "wx.mail.qq.com/ftn/download",
    "mail.163.com/large-attachment-download",
    "dashi.163.com/html/cloud-attachment-download",
    "exmail.qq.com/cgi-bin/ftnexs_download",
    "ftn.qq.com/",
    "mail.126.com/large-attachment-download",
    "caiyun.139.com/",  # 139邮箱 (China Mobile) keeps large files in 和彩云
    "mail.sina.com.cn/filecenter",
    "qiye.aliyun.com/alimail/",
    "share.qiye.aliyun.com/",
    "www.icloud.com/attachment",  # Apple Mail Drop
)
LINK_REACH = 300  # characters after a cloud phrase in which its (unknown-host) link stands
URL_RE = re.compile(r"""(?:https?://)?[A-Za-z0-9.-]+\.(?:com|cn|net)(?::\d+)?/[^\s<>"'()（）\[\]【】{}，。；、]*""", re.I)

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
FOLD = re.compile(r"\r?\n(?=[ \t])")
MSGID = re.compile(r"<[^<>\s]+>")

# Subjects of auto-replies, bounces and read receipts. Matched at the start of
# the subject (after Re:/回复:/Fwd:/转发: prefixes), never anywhere: applicants
# write "（上次被系统退信，现重新发送）申报材料" or "（联系人下周休假）" too.
SUBJECT_PREFIX = re.compile(r"^(?:\s*(?:re|fw|fwd|aw|sv|antw|回复|答复|回覆|转发|轉發)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.I)
WORD_END = r"(?=$|[\s:：\-–—_,，.。;；!！(（\[【<《|/])"  # a bounce word must end there: "退信重发" is a person
BOUNCE_WORDS = (
    r"(?:(?:邮件|系统)?(?:退信|投递失败|发送失败|递送失败|传递失败|无法投递|无法送达|无法传递|未送达|未能送达|未能投递)"
    r"(?:通知|报告|提醒)?|undeliver(?:able|ed)|delivery status notification|(?:mail )?delivery (?:has )?fail(?:ed|ure)"
    r"|returned mail|failure notice|non-?deliver(?:y|able)(?: report| notification)?)"
)
OOO_SUBJECT = re.compile(
    r"(?P<auto>自动(?:回复|答复|回覆)|休假|不在办公室|out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply"
    r"|auto[- ]?response)"
    r"|(?P<bounce>" + BOUNCE_WORDS + WORD_END + ")"
    r"|(?P<receipt>(?:已读|阅读)回执|return receipt|read receipt|(?:回执|未读|已阅读)\s*[:：]|已读\s*(?:[:：\-–—]|$)"
    r"|(?:not )?read\s*[:：])",
    re.I,
)
# The same words in brackets are a marker wherever they stand: "您好【自动回复】".
OOO_PHRASE = re.compile(
    r"[【\[［(（<《]\s*(?:(?P<auto>自动(?:回复|答复|回覆)|auto[- ]?reply|automatic reply|out of (?:the )?office)"
    r"|(?P<bounce>(?:系统)?退信)|(?P<receipt>已读回执))\s*[】\]］)）>》]",
    re.I,
)
# Auto-replies that say so only in the text (Coremail on government mailboxes
# answers with "Re: <subject>" and 【自动回复】 on top). Only the top of the body
# counts: further down is a quote. Never the bare words: applicants write
# "收到了贵中心的自动回复：…" when they ask about our notice.
AUTO_BODY = re.compile(
    r"[【\[［]\s*自动(?:回复|答复|回覆)\s*[】\]］]"
    r"|(?:此|本|这)封?(?:邮件|信件|来信|信)?(?:为|是)(?:一封)?[^，。！？!?,.\n]{0,10}自动(?:回复|答复|回覆|发送|生成)"
    r"|^\s*自动(?:回复|答复|回覆)\s*[:：]"
    r"|this is an? (?:automatic|automated|auto-generated) (?:reply|response|message|notification)",
    re.I | re.M,
)
AUTO_BODY_CHARS = 300
# A gateway's words on top of a mail it returns: "您发送的邮件未能成功投递到以下收件人".
BOUNCE_BODY = re.compile(BOUNCE_WORDS + r"|未能成功(?:投递|送达|发送)|(?:could not|cannot|can't) be delivered", re.I)
# From addresses nobody reads: noreply, no-reply, no_reply, donotreply, do-not-reply, noreply123, system.noreply ...
NO_REPLY_LOCAL = re.compile(r"(?:^|[^a-z])(?:no|do[-_.]?not)[-_.]?reply", re.I)
SUBJECT_KIND = {"auto": "自动回复", "bounce": "退信", "receipt": "已读回执"}
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})


# -- charsets and headers --------------------------------------------------------


def norm_charset(label: str | None) -> str:
    """A Python codec name for a MIME charset label (GB labels -> gb18030)."""
    label = (label or "").strip().strip('"').lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*zh
    if label in GB_LABELS or label.startswith("gb"):
        return "gb18030"
    if label in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "default"):
        return "utf-8"
    if label in ("big5", "big5-hkscs", "cn-big5", "x-x-big5"):
        return "big5hkscs"
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes to text: the declared charset, else UTF-8, else GB18030; never raises."""
    tried = []
    if charset:
        tried.append(norm_charset(charset))
        if tried[0] == "gb18030" and _plain_utf8(data):
            # PHP's "=?GB2312?B?".base64_encode($utf8): UTF-8 bytes under a GB label decode as GB18030
            # without error, into nonsense (红旗区 → 绾㈡棗鍖). Three or more multi-byte UTF-8
            # characters are never GBK text by chance.
            tried.insert(0, "utf-8")
    tried += ["utf-8", "gb18030"]
    for codec in tried:
        try:
            return _clean(data.decode(codec))
        except (UnicodeDecodeError, LookupError):
            continue
        except Exception:  # exotic codecs can fail in other ways
            continue
    return _clean(data.decode(tried[0] if tried[0] != "utf-8" else "gb18030", "replace"))


def _plain_utf8(data: bytes) -> bool:
    """Valid UTF-8 with at least three multi-byte characters."""
    if data.isascii():
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sum(1 for c in text if ord(c) > 0x7F) >= 3


def _clean(text: str) -> str:
    # Lone surrogates are not text and break SQLite/JSON sinks downstream.
    return text.encode("utf-8", "replace").decode("utf-8")


def raw_bytes(value: str | bytes) -> bytes:
    """The wire bytes of a header value the compat32 parser kept as surrogates."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape") if _encodable(value) else value.encode("utf-8", "replace")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def header_text(value: str | bytes | None) -> str:
    """Raw header value to text: 8-bit bytes decoded as UTF-8 or GB18030, unfolded."""
    if value is None:
        return ""
    data = raw_bytes(value)
    text = decode_bytes(data) if any(b > 0x7F for b in data) else data.decode("ascii")
    return FOLD.sub("", text)


def _decode_word_payload(enc: str, payload: str) -> bytes:
    if enc in "bB":
        return _b64(payload.encode("ascii", "replace"))
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words anywhere in `text`, tolerant of every client.

    Adjacent words of one charset are joined as bytes before decoding, since
    Outlook and Foxmail split a character across two words; whitespace between
    encoded-words is dropped as RFC 2047 says.
    """
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # (codec, bytes) of adjacent words
    pos = 0

    def flush() -> None:
        for codec, data in _merge(pending):
            out.append(decode_bytes(data, codec))
        pending.clear()

    for m in ENCODED_WORD.finditer(text):
        between = text[pos:m.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(between)
        try:
            data = _decode_word_payload(m.group(2), m.group(3))
        except Exception:
            flush()
            out.append(m.group(0))
            pos = m.end()
            continue
        pending.append((norm_charset(m.group(1)), data))
        pos = m.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def _merge(words: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    merged: list[tuple[str, bytes]] = []
    for codec, data in words:
        if merged and merged[-1][0] == codec:
            merged[-1] = (codec, merged[-1][1] + data)
        else:
            merged.append((codec, data))
    return merged


def decode_header(value: str | bytes | None) -> str:
    """A header value as display text (subject, display names)."""
    try:
        text = decode_words(header_text(value))
    except Exception:
        text = header_text(value) if value is not None else ""
    return _clean(" ".join(text.split()))


# -- parameters and file names ---------------------------------------------------


def split_params(text: str) -> tuple[str, list[tuple[str, str, bool]]]:
    """'value; a=b; c="d"' -> ('value', [(name, value, quoted), ...]), tolerant."""
    items: list[str] = []
    quoted_flags: list[bool] = []
    buf: list[str] = []
    quoted = in_quotes = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_quotes:
            # Only \" and \\ are escapes: a quoted Windows path (C:\Users\...)
            # keeps its separators for sanitize_filename to cut at.
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
                buf.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_quotes = False
            else:
                buf.append(c)
        elif c == '"':
            in_quotes = quoted = True
        elif c == ";":
            items.append("".join(buf))
            quoted_flags.append(quoted)
            buf, quoted = [], False
        else:
            buf.append(c)
        i += 1
    items.append("".join(buf))
    quoted_flags.append(quoted)
    main = items[0].strip()
    params = []
    for item, q in zip(items[1:], quoted_flags[1:]):
        name, eq, value = item.partition("=")
        if not eq:
            continue
        params.append((name.strip().lower(), value.strip(), q))
    return main, params


def _rfc2231(params: list[tuple[str, str, bool]], base: str) -> str | None:
    """The RFC 2231 value of `base` (name*, name*0*, name*1 ...) or None."""
    segments: dict[int, tuple[str, bool]] = {}
    for name, value, _ in params:
        if not name.startswith(base + "*"):
            continue
        rest = name[len(base) + 1:]
        encoded = rest.endswith("*") or rest == ""
        index_text = rest.rstrip("*")
        if index_text == "":
            index = 0
        elif index_text.isdigit():
            index = int(index_text)
        else:
            continue
        segments.setdefault(index, (value, encoded))
    if not segments:
        return None
    charset = None
    pieces: list[tuple[bool, str]] = []
    for n, index in enumerate(sorted(segments)):
        value, encoded = segments[index]
        if n == 0 and encoded and value.count("'") >= 2:
            charset, _lang, value = value.split("'", 2)
        pieces.append((encoded, value))
    out: list[str] = []
    # Encoded segments are joined before %XX decoding: some mailers cut a segment inside a
    # triple (…%E7%94%B3% | E6%8A%A5…), which decoded segment by segment left "%" and "E6" as text.
    buf = ""
    for encoded, value in pieces:
        if encoded:
            buf += value
        else:
            if buf:
                out.append(decode_bytes(_percent_bytes(buf), charset))
                buf = ""
            out.append(value)
    if buf:
        out.append(decode_bytes(_percent_bytes(buf), charset))
    return "".join(out)


def _percent_bytes(value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)


def _plain_param(params: list[tuple[str, str, bool]], base: str) -> str | None:
    for name, value, _ in params:
        if name == base:
            return decode_words(value)
    return None


def decode_filename(value: str | bytes) -> str:
    """Decode one raw `filename=`/`name=` value (quoted or not) to display text."""
    try:
        _, params = split_params("x; f=" + header_text(value))
        text = _plain_param(params, "f") or ""
    except Exception:
        text = ""
    return sanitize_filename(text)


def part_filename(part: Message) -> str:
    """The attachment name of `part` from its raw headers, decoded; '' if none."""
    cands: list[str] = []
    for header in ("content-disposition", "content-type"):
        base = "filename" if header == "content-disposition" else "name"
        raw = _raw_header(part, header)
        if raw is None:
            continue
        _, params = split_params(header_text(raw))
        for getter in (_rfc2231, _plain_param):
            try:
                got = getter(params, base)
            except Exception:
                got = None
            if got and got.strip():
                cands.append(got)
    if not cands:
        return ""
    # A candidate with replacement characters lost bytes, and one of question marks is what an
    # OA mailer left of a name it could not encode (????.docx beside name="=?GBK?B?…?="): prefer a clean one.
    best = next((c for c in cands if "\ufffd" not in c and not _LOST_NAME.fullmatch(c.strip())), cands[0])
    return sanitize_filename(best)


_LOST_NAME = re.compile(r"[?？_\s]+(\.\w{1,8})?")


def sanitize_filename(name: str) -> str:
    """Display-safe name: NFC, no path, no control/bidi characters, at most 200 chars.

    NFC because macOS Mail sends decomposed names (e + U+0301) that would not
    compare equal to what staff type or to the same name from Windows.
    """
    name = _base_name(unicodedata.normalize("NFC", _clean(str(name))))
    name = "".join(
        " " if c in "\t\r\n" else c
        for c in name
        if c in "\t\r\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME]
    return name


# How a client path starts: /, \, ~/, ./, ../, C:\ or C:/.
PATH_START = re.compile(r"^(?:[A-Za-z]:|~|\.{1,2})?[\\/]")


def _base_name(name: str) -> str:
    """The last component of a path; a name that is no path keeps its '/' as '／'.

    A backslash is always a separator (Windows names cannot hold one), but
    macOS and phones allow '/' in a name ("盖章版6/20定稿.pdf"), so only a
    name that starts like a path loses its directories.
    """
    if "\\" in name or PATH_START.match(name):
        parts = [p for p in re.split(r"[\\/]", name) if p.strip()]
        return parts[-1] if parts else ""
    return name.replace("/", "／")


def _raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return None


def _raw_headers(part: Message, name: str) -> list[str]:
    return [v if isinstance(v, str) else str(v) for k, v in part.raw_items() if k.lower() == name]


# -- payloads and text -------------------------------------------------------------


def part_bytes(part: Message) -> bytes:
    """The decoded payload of a leaf part, tolerant of sloppy encodings."""
    payload = part._payload  # compat32 keeps 8-bit bytes as surrogates here
    if payload is None:
        return b""
    if not isinstance(payload, str):
        return b""
    decoded = _payload_decoded(part, payload)
    if decoded is not None:
        return decoded
    payload = _unlift(payload)
    data = raw_bytes(payload)
    if _cte(part) in ("x-uuencode", "uuencode", "uue", "x-uue"):
        kept, part._payload = part._payload, payload  # the stdlib decodes what the part holds
        try:
            return part.get_payload(decode=True) or b""
        except Exception:
            return data
        finally:
            part._payload = kept
    return data


# A uuencoded file inside a text body (Outlook Express's and old Foxmail's "uuencode" option,
# old OA and Unix mailers): "begin 644 name" … "end".
UU_BLOCK = re.compile(rb"^begin [0-7]{3,4} ([^\r\n]+?)[ \t]*\r?\n(.*?)^end[ \t]*\r?$\n?", re.M | re.S)


def uu_blocks(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The text without its uuencoded blocks, and the (name, bytes) of each file in them."""
    files: list[tuple[str, bytes]] = []

    def take(m: re.Match) -> bytes:
        out = bytearray()
        for line in m.group(2).splitlines():
            if not line.strip():
                continue
            try:
                out += binascii.a2b_uu(line)
            except binascii.Error:
                # Encoders that strip trailing spaces: decode the length the count byte announces.
                count = ((line[0] - 32) & 63) if line else 0
                try:
                    out += binascii.a2b_uu(line[: (count * 4 + 5) // 3 + 1])
                except binascii.Error:
                    return m.group(0)  # not uuencode after all: leave the text as it is
        files.append((decode_bytes(m.group(1).strip()), bytes(out)))
        return b""

    return UU_BLOCK.sub(take, data), files


# Where a padded quantum ends and more base64 follows: encoders that base64 each read
# buffer on its own (a PHP or Java OA's `base64_encode(fread(8191))` loop) pad mid-stream.
_B64_PAD_INSIDE = re.compile(rb"(?<==)(?=\s*[A-Za-z0-9+/])")
_B64_PAD_FOLLOWED = re.compile(rb"=\s*[A-Za-z0-9+/]")  # finds the same places, 20x faster (a literal first)
_B64_CHUNK = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


def _b64(data: bytes | memoryview) -> bytes:
    """Decode a base64 body; padding inside it (chunked encoders) does not cut the file.

    A chunk after padding is decoded only while it is wholly base64 (a gateway's
    footer text after the last chunk is not file data)."""
    if not _B64_PAD_FOLLOWED.search(data):
        return _b64_one(data)  # `data` as it is: a lifted body is a view of the raw mail, not a copy
    parts = _B64_PAD_INSIDE.split(data)
    out = [_b64_one(parts[0])]
    for part in parts[1:]:
        lines = []
        for line in part.split(b"\n"):
            line = line.strip()
            if line and not _B64_CHUNK.fullmatch(line):
                break
            lines.append(line)
        clean = b"".join(lines)
        out.append(_b64_one(clean))
        if clean != re.sub(rb"\s+", b"", part):
            break
    return b"".join(out)


def _b64_one(data: bytes | memoryview) -> bytes:
    try:
        # Non-strict a2b_base64 already skips line breaks and stray characters.
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        data = bytes(data)
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data.split(b"=", 1)[0] if b"=" in data else data)
    if len(clean) % 4 == 1:
        clean = clean[:-1]  # a truncated quantum carries no whole byte
    try:
        return base64.b64decode(clean + b"=" * (-len(clean) % 4))
    except (binascii.Error, ValueError):
        return b""


# -- big base64 bodies, kept out of the stdlib parser --------------------------------

LIFT_MIN = 64 * 1024  # a base64 body this long is no header or text: it is decoded from the raw bytes
LIFT_MARK = "IntakeLiftedBody"  # placeholders start so; a mail that holds it anywhere is parsed plainly
HEAD_REACH = 64 * 1024  # how far back a body's header block is looked for
_BLANK_LINE = re.compile(rb"\n\r?\n")  # ends a header block
_B64_SPAN = re.compile(rb"[A-Za-z0-9+/=\r\n]*")
_CTE_LINE = re.compile(rb"(?im)^content-transfer-encoding[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)")


class _Lifted:
    """The long base64 bodies cut out of the mails of one `parse_mail`, by placeholder.

    The stdlib parser keeps a str per line of the whole mail and joins them again:
    a 60 MB mail with a scanned PDF cost ~480 MB in the poll process. Each run of
    base64 lines of at least `LIFT_MIN` after a header block that says base64 is
    replaced by one placeholder line, which parses to the same structure (it is
    no header, no boundary, no blank line). Whatever reads a payload puts the
    lines back (`_unlift`); a body that is one placeholder is decoded straight
    from the raw bytes (`_payload_decoded`). Nested mails are lifted the same way.
    """

    def __init__(self) -> None:
        self.key = f"{LIFT_MARK}{secrets.token_hex(8)}x"
        self.placeholder = re.compile(re.escape(self.key) + r"\d{8}")
        self.runs: dict[str, memoryview] = {}

    def lift(self, data: bytes) -> bytes:
        """`data` with its long base64 bodies replaced by placeholders (`data` itself if none)."""
        if len(data) < max(LIFT_MIN, 1) or LIFT_MARK.encode("ascii") in data:
            return data
        view = memoryview(data)
        pieces: list[bytes | memoryview] = []
        copied = pos = span_end = 0
        while blank := _BLANK_LINE.search(data, pos):
            start = blank.end()
            pos = start - 1  # that line break may open the next blank line
            if start >= len(data) or data[start] in b"\r\n":
                continue
            if start >= span_end:
                span_end = _B64_SPAN.match(data, start).end()
            end = _run_end(data, start, span_end)
            if end - start < LIFT_MIN or not _declares_base64(data, blank.start()):
                continue
            if data.count(b"\r", start, end) != data.count(b"\r\n", start, end):
                continue  # a lone CR, a line break to the parser, inside
            placeholder = f"{self.key}{len(self.runs):08d}"
            self.runs[placeholder] = view[start:end]
            pieces += (view[copied:start], placeholder.encode("ascii"))
            copied = pos = end
        if not pieces:
            return data
        pieces.append(view[copied:])
        return b"".join(pieces)

    def restore(self, payload: str) -> str:
        """`payload` with every placeholder replaced by the lines it stands for."""

        def lines(m: re.Match) -> str:
            run = self.runs.get(m.group(0))
            return m.group(0) if run is None else bytes(run).decode("ascii")

        return self.placeholder.sub(lines, payload)


_LIFTED: contextvars.ContextVar[_Lifted | None] = contextvars.ContextVar("intake_lifted", default=None)


def _run_end(data: bytes, start: int, stop: int) -> int:
    """Where the base64 lines from `start` end: after the last whole line's last character,
    before a blank line or a line that does not end as base64 (a boundary, a gateway's footer)."""
    blank = _BLANK_LINE.search(data, start, stop)
    if blank:
        stop = blank.start() + 1
    if stop == len(data) and data[stop - 1] not in b"\r\n":
        return stop  # the mail's last line, without a line break
    newline = data.rfind(b"\n", start, stop)
    if newline <= start:
        return start
    return newline - 1 if data[newline - 1] == 0x0D else newline


def _declares_base64(data: bytes, head_end: int) -> bool:
    """Whether the header block that ends at `head_end` (or before the blank lines there) labels its
    body base64, and nothing else."""
    head = data[max(0, head_end - HEAD_REACH):head_end + 1].rstrip(b"\r\n") + b"\n"
    cut = max(head.rfind(b"\n\n"), head.rfind(b"\n\r\n"), head.rfind(b"\n--"))
    labels = [_cte_label(v.decode("latin-1")) for v in _CTE_LINE.findall(head[cut + 1:])]
    return bool(labels) and all(label == "base64" for label in labels)


def _message_from_bytes(data: bytes) -> Message:
    """The stdlib parse of `data`, its long base64 bodies lifted out first while a `parse_mail` runs."""
    lifted = _LIFTED.get()
    return email.message_from_bytes(lifted.lift(data) if lifted else data, policy=email.policy.compat32)


def _lifted_body(payload: str) -> memoryview | None:
    """The raw base64 lines when `payload` is one placeholder between line breaks (most
    mailers end a body with one before the boundary): base64 decoding skips those."""
    lifted = _LIFTED.get()
    if lifted is None or len(payload) > 2 * len(lifted.key) or lifted.key not in payload:
        return None
    return lifted.runs.get(payload.strip(" \t\r\n"))


def _unlift(payload: str) -> str:
    """`payload` as the parser would have given it without lifting."""
    lifted = _LIFTED.get()
    if lifted is None or not lifted.runs or lifted.key not in payload:
        return payload
    return lifted.restore(payload)


# First bytes of the documents applicants send (PDF, ZIP/.docx, OLE/.doc/.wps, RTF).
DOCUMENT_SIGNATURES = (b"%PDF-", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"{\\rtf")
BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


def unlabelled_base64(data: bytes) -> bytes | None:
    """The file inside an attachment that is base64 but has no Content-Transfer-Encoding.

    Some mailers leave the header out, and read literally the stamped PDF is
    text, i.e. "not received". Only a payload that is wholly base64 and decodes
    to a document signature qualifies, so real text attachments stay as sent.
    """
    compact = re.sub(rb"\s+", b"", data)
    if not compact or len(compact) % 4 or not BASE64_TEXT.fullmatch(compact):
        return None
    try:
        if not base64.b64decode(compact[:8]).startswith(DOCUMENT_SIGNATURES):
            return None  # cheap check on the first 6 bytes before decoding it all
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


class _TextOfHtml(HTMLParser):
    """HTML to plain text, keeping link targets (cloud-attachment links live there)."""

    BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.hrefs.append(href)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")
        if tag == "a" and self.hrefs:
            href = self.hrefs.pop()
            if href.startswith(("http://", "https://")) and href not in "".join(self.out[-3:]):
                self.out.append(f" ({href}) ")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, with link targets in parentheses."""
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def find_cloud_links(body_text: str) -> list[str]:
    """Links to 超大附件/云附件 downloads in a body text, in order, deduplicated.

    A known download host, or any link just after a provider's cloud phrase
    (so staff see the link of a provider we have no host for).
    """
    text = body_text or ""
    phrase_ends = [m.end() for m in CLOUD_PHRASE.finditer(text)]
    links: list[str] = []
    for m in URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        low = url.lower()
        if not _has_path(low) or url in links:
            continue
        if any(host in low for host in CLOUD_HOSTS) or any(0 <= m.start() - end <= LINK_REACH for end in phrase_ends):
            links.append(url)
    return links


def _has_path(url: str) -> bool:
    """Does the link point below a site's home page?"""
    return bool(url.split("://", 1)[-1].partition("/")[2].strip("/"))


def has_cloud_marker(body_text: str) -> bool:
    """Does the text carry a large/cloud attachment download link? The phrase alone is no file sent."""
    return bool(find_cloud_links(body_text))


# -- addresses, ids and dates ------------------------------------------------------


def parse_address(value: str | None) -> tuple[str, str]:
    """(display name, lower-cased address) of the first mailbox in a header.

    The raw text is parsed first, so a decoded name with commas or brackets
    cannot split the mailbox; if that finds no address, the text is parsed
    again with its encoded-words decoded, because office systems and Python's
    compat32 encode the whole 'name <addr>' as one word. With no address at
    all the decoded text comes back as the name, so staff still see who wrote.
    """
    if not value:
        return "", ""
    text = header_text(value)
    try:
        decoded = decode_words(text)
    except Exception:
        decoded = text
    for candidate in dict.fromkeys((text, decoded)):
        try:
            pairs = email.utils.getaddresses([candidate])
        except Exception:
            pairs = []
        for name, addr in pairs:
            if ENCODED_WORD.search(addr):
                continue  # '=?utf-8?Q?..=3Ca@b=3E?=' holds an '@' but is no address
            if "@" in addr or addr.strip("<> ").upper() in ("MAILER-DAEMON", "POSTMASTER"):
                return decode_header(name), _address(addr.strip().strip("<>"))
    m = re.search(r"[\w.+-]+@[\w.-]+", decoded)
    if m:
        return "", _address(m.group(0))
    return _clean(" ".join(decoded.split()).strip('<>"\' '))[:MAX_NAME], ""


def _address(addr: str) -> str:
    """An address as a key and a To: header: lower-cased, without control, format,
    line-breaking or space characters (a header must not break), except the plain
    spaces of a quoted local part, which RFC 5322 allows ("li xiaoyan"@example.com)."""
    out: list[str] = []
    quoted = False
    for c in _clean(addr.lower()):
        category = unicodedata.category(c)
        if category[0] == "C" or category in ("Zl", "Zp") or (category == "Zs" and not (quoted and c == " ")):
            continue
        if c == '"':
            quoted = not quoted
        out.append(c)
    return "".join(out)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=TZ) if dt.tzinfo is None else dt


# RFC 822 reads "CST" as US Central (-0600), but the Chinese mailers that write
# it (Java and PHP servers, Coremail, OA systems) mean China Standard Time. A
# numeric offset before it still wins: parsedate takes the first zone token.
CST_ZONE = re.compile(r"(?<![\w(])CST(?![\w)])", re.I)
TWELVE_HOUR = re.compile(r"(?<!\d)(\d{1,2})([:：]\d{2}(?:[:：]\d{2})?)\s*([AaPp])\.?[Mm]\.?(?![A-Za-z])")
CHINESE_HALF_DAY = re.compile(r"(上午|下午)\s*(\d{1,2})([:：]\d{2})")
# A Chinese-locale strftime writes `星期一, 23 六月 2025 ...`: the weekday says
# nothing the date does not, and the month is spelled in numerals or as `6月`.
CHINESE_WEEKDAY = re.compile(r"(?:星期|礼拜|禮拜|周|週)[一二三四五六日天]\s*,?\s*")
CHINESE_MONTH = re.compile(r"(?<=\d)(\s+)(十[一二]?|[一二三四五六七八九]|1[0-2]|0?[1-9])\s*月(?=\s+\d{2,4}\b)")
MONTH_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _month_name(m: re.Match) -> str:
    """`六月` or `6月` after the day of the month as the RFC 5322 name (Jun)."""
    month = m.group(2)
    index = int(month) - 1 if month.isdigit() else MONTH_NUMERALS.index(month)
    return m.group(1) + MONTH_NAMES[index]


def _date_text(value: str) -> str:
    """A Date value with CST as +0800, 12-hour times ('11:30 PM', '下午11:30') as 24-hour,
    and Chinese weekday and month names dropped or put in English."""

    def hour(h: str, pm: bool) -> str:
        n = int(h)
        return h if not 1 <= n <= 12 else f"{n % 12 + (12 if pm else 0):02d}"

    text = header_text(value).strip()
    text = CHINESE_MONTH.sub(_month_name, CHINESE_WEEKDAY.sub("", text))
    text = TWELVE_HOUR.sub(lambda m: hour(m.group(1), m.group(3) in "Pp") + m.group(2), text)
    text = CHINESE_HALF_DAY.sub(lambda m: hour(m.group(2), m.group(1) == "下午") + m.group(3), text)
    return CST_ZONE.sub("+0800", text)


# RFC 5322 3.3: "-0000" is UTC with the sender's local zone unknown (Python's formatdate()
# writes it); parsedate_to_datetime returns it naive, like a time with no zone at all.
ZONE_UNKNOWN_UTC = re.compile(r"(?:^|(?<=[\s\d]))-00:?00(?![\w:])")


def parse_date(value: str | None, fallback: datetime | None = None) -> datetime | None:
    """The Date header as an aware datetime; "-0000" is UTC, times without a zone are Beijing time."""
    if value:
        try:
            text = _date_text(value)
            dt = email.utils.parsedate_to_datetime(text)
            if dt is not None:
                if dt.tzinfo is None and ZONE_UNKNOWN_UTC.search(text):
                    return dt.replace(tzinfo=timezone.utc)
                return _aware(dt)
        except Exception:
            pass
    return _aware(fallback) if fallback else None


LOCAL_DATE = re.compile(
    r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*日?\s*(?:T|\s)?\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?"
    r"(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _local_date(value: str) -> datetime | None:
    """'2025-06-02 10:15' or '2025年6月2日 10:15' as some Chinese systems write Date."""
    m = LOCAL_DATE.search(_date_text(value))
    if not m:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g or 0) for g in m.groups()[:6])
        zone = m.group(7)  # ISO 8601 with an offset says where it was; without, Beijing time
        if zone:
            minutes = 0 if zone == "Z" else int(zone[0] + "1") * (int(zone[1:3]) * 60 + int(zone[-2:]))
            tz = timezone(timedelta(minutes=minutes))
        else:
            tz = TZ
        return datetime(y, mo, d, h, mi, sec, tzinfo=tz)
    except ValueError:
        return None


CLOCK_SLACK = timedelta(days=1)  # a time this far after the import's clock is a wrong clock


def call_opened(notice_date: object, zone: str = "Asia/Shanghai") -> datetime | None:
    """The first moment of the call's notice date (`[call] notice_date`): no mail for the
    call arrived before it, so an earlier time in a saved mail is a wrong clock."""
    try:
        return datetime.combine(date.fromisoformat(str(notice_date)), time(), ZoneInfo(zone))
    except (ValueError, KeyError, TypeError):
        return None


def _possible(t: datetime | None, now: datetime, not_before: datetime | None) -> bool:
    return t is not None and t <= now + CLOCK_SLACK and (not_before is None or t >= not_before)


def _arrival(sent_at: datetime | None, stamped: datetime | None, now: datetime,
             not_before: datetime | None) -> tuple[datetime, str]:
    """(arrival time, which one: "received", "date" or "now"); see `arrival_time`."""
    if _possible(stamped, now, not_before):
        return stamped, "received"
    if _possible(sent_at, now, not_before):
        return sent_at, "date"
    return now, "now"


def arrival_time(sent_at: datetime | None, stamped: datetime | None, now: datetime,
                 not_before: datetime | None = None) -> datetime:
    """When a saved mail (no server time) arrived: the topmost Received stamp, which our
    receiving server wrote, else its Date, which the sender's PC wrote (a wrong zone, or a
    mail Outlook queued overnight, would move it by hours), else the import's time `now`.
    A time in the future or before `not_before` (the call's notice date) is a wrong clock."""
    return _arrival(sent_at, stamped, now, not_before)[0]


def _shown(t: datetime) -> str:
    return f"{t.astimezone(timezone(timedelta(hours=8))):%Y-%m-%d %H:%M}"


def _apart(delta: timedelta) -> str:
    hours = abs(delta).total_seconds() / 3600
    return f"约 {hours:.0f} 小时" if hours < 48 else f"约 {hours / 24:.0f} 天"


def _import_doubt(sent_at: datetime | None, stamped: datetime | None, now: datetime,
                  not_before: datetime | None) -> Finding | None:
    """A staff note on a saved mail whose times disagree: its Date hours away from the
    Received stamp that decided, or a time that cannot be (a wrong clock) passed over.
    What `arrival_time` chose still decides; staff can check and `decide`."""
    arrived, basis = _arrival(sent_at, stamped, now, not_before)
    if basis == "received":
        if sent_at is None or abs(sent_at - stamped) <= ARRIVAL_SLACK:
            return None
        why = ("多为发件电脑的时区设置有误，或邮件在发件箱中滞留后才发出" if _possible(sent_at, now, not_before)
               else "发件电脑的时钟有误")
        text = (
            f"邮件的发送时间（Date，发件人电脑的时钟：{_shown(sent_at)}）与最上面的投递记录（Received，收信服务器的时间："
            f"{_shown(stamped)}）相差{_apart(sent_at - stamped)}（{why}）；"
            "是否逾期已按投递记录判断。如有疑问请工作人员核对（可用 intake decide 改判）。"
        )
    else:
        wrong = [
            f"{label}{_shown(t)}（{'晚于导入时间' if t > now else '早于本次征集的通知日期'}）"
            for label, t in (("最上面的投递记录（Received）", stamped), ("邮件的发送时间（Date）", sent_at))
            if t is not None and not _possible(t, now, not_before)
        ]
        if not wrong:
            return None
        used = "邮件的发送时间（Date，" if basis == "date" else "导入时间（"
        text = (
            f"{'、'.join(wrong)}不可能是收到时间（多为电脑时钟有误），是否逾期已按{used}{_shown(arrived)}）判断。"
            "请工作人员核对实际收到时间（可用 intake decide 改判）。"
        )
        if basis == "now":
            # No time of the mail's own is left: the import's time is a guess (`GUESSED_ARRIVAL`).
            return Finding("arrival_doubt", WARNING, text + "据此判为逾期时不自动发送逾期通知。", GUESSED_ARRIVAL, staff_only=True)
    return Finding("arrival_doubt", WARNING, text, "申报时间", staff_only=True)


# Where the note on a saved mail with no possible time of its own is filed: its arrival is the
# import's time, a guess, and no 逾期通知 goes out on a guess (`run.Runner.judge_one`).
GUESSED_ARRIVAL = "申报时间（无法确定）"


ARRIVAL_SLACK = timedelta(hours=1)


def _arrival_doubt(server: datetime, stamped: datetime | None) -> Finding | None:
    """A staff note when the server's arrival time (INTERNALDATE) is well after the topmost
    Received stamp: a mail dragged out of the mailbox by a client and put back (re-uploaded)
    gets a new INTERNALDATE, and may be judged late though it came on time. The server's
    time still decides; staff can check and `decide`."""
    if stamped is None or server - stamped <= ARRIVAL_SLACK:
        return None
    beijing = timezone(timedelta(hours=8))
    return Finding(
        "arrival_doubt", WARNING,
        f"邮箱服务器记录的收到时间（{server.astimezone(beijing):%Y-%m-%d %H:%M}）比邮件中最上面的投递记录"
        f"（Received，{stamped.astimezone(beijing):%Y-%m-%d %H:%M}）晚；如果这封邮件曾被移出后又放回收件箱，实际收到时间"
        "可能更早。如因此判为逾期，请工作人员核对（可用 intake decide 改判）。",
        "申报时间", staff_only=True,
    )


def received_date(msg: Message) -> datetime | None:
    """The time in the topmost Received: header (added by the last server, ours).

    When a mail arrived if there is no server time (a saved .eml given to `intake import`
    without --received); see `arrival_time`.
    """
    raw = _raw_header(msg, "received")
    text = header_text(raw) if raw is not None else ""
    if ";" not in text:
        return None
    return parse_date(text.rpartition(";")[2])


def _mailparser_date(data: bytes) -> datetime | None:
    """Last opinion on an odd Date header from mail-parser, given the header block only."""
    try:
        import mailparser

        end = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=len(data))
        parsed = mailparser.parse_from_bytes(data[:end] + b"\r\n\r\n")
        dt = parsed.date
        if isinstance(dt, datetime):
            # mail-parser gives UTC, naive in some versions: make it aware.
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    except Exception:
        return None
    return None


def message_ids(values: list[str]) -> tuple[str, ...]:
    """Every <id> in the given header values, in order, once (threading keys)."""
    out: list[str] = []
    for value in values:
        for mid in MSGID.findall(header_text(value)):
            mid = _clean(mid)
            if mid not in out:
                out.append(mid)
    return tuple(out)


# -- the mail ----------------------------------------------------------------------


def _walk(msg: Message, prune=None):
    """Leaf parts, iteratively (deep nesting must not recurse); `prune(part)` drops a subtree.

    A mail carried in a form the parser left closed is opened on the way
    (see `_embedded_mail`), and so is a multipart whose boundary the parser
    could not find (see `_reopen_multipart`), so their files are found too.
    Yields (part, forwarded, related): forwarded when the part is inside an
    attached mail, related when it belongs to an HTML text (multipart/related).
    """
    stack = [(msg, 0, False, False)]
    reopened = 0
    while stack:
        part, depth, forwarded, related = stack.pop()
        embedded = _embedded_mail(part) if depth < MAX_DEPTH else None
        if embedded is not None:
            part._payload = [embedded]
        if prune is not None and depth and prune(part):
            continue
        ctype = _content_type(part)
        if depth < MAX_DEPTH and reopened < MAX_REOPENED and ctype.startswith("multipart/") and _reopen_multipart(part):
            reopened += 1
        payload = part._payload
        if isinstance(payload, list):
            if depth >= MAX_DEPTH or ctype in REPORT_TYPES:
                continue
            children = [p for p in payload if isinstance(p, Message)]
            carries = depth > 0 and _carries_mail(part)
            inside = forwarded or carries
            in_html = ctype == "multipart/related" or (related and not carries)
            stack.extend((c, depth + 1, inside, in_html) for c in reversed(children))
        else:
            yield part, forwarded, related


MAX_REOPENED = 20  # multiparts re-split per mail: each re-parse reads the bytes again
# A delimiter line ("--" + boundary) followed by a part's first header line.
DELIMITER = re.compile(rb"^--([0-9A-Za-z'()+_,./:=? -]{0,199}[0-9A-Za-z'()+_,./:=?-])[ \t]*\r?\n[!-9;-~]+[ \t]*:", re.M)


def _reopen_multipart(part: Message) -> bool:
    """Split a multipart the parser left whole; True when it now has parts.

    OA and PHP mailers leave out the boundary parameter, quote it with single
    quotes, or declare one the body does not use; the parser then keeps the
    whole body as one text and every attachment in it is lost. The boundary
    is taken from the declaration without its quotes if the body uses it,
    else from the first delimiter line that a part's headers follow.
    """
    payload = part._payload
    if not isinstance(payload, str) or not payload.strip():
        return False
    data = raw_bytes(payload)
    _, params = split_params(header_text(_raw_header(part, "content-type") or ""))
    declared = next((v for n, v, _ in params if n == "boundary"), "").strip().strip("'\"").strip()
    boundary = None
    if declared and declared.isascii():
        used = re.compile(rb"^--" + re.escape(declared.encode("ascii")) + rb"(?:--)?[ \t]*\r?$", re.M)
        boundary = declared.encode("ascii") if used.search(data) else None
    if boundary is None:
        m = DELIMITER.search(data)
        boundary = m.group(1) if m else None
    if boundary is None or b'"' in boundary:
        return False
    head = b"Content-Type: " + _content_type(part).encode("ascii", "replace") + b'; boundary="' + boundary + b'"\r\n\r\n'
    parts = email.message_from_bytes(head + data, policy=email.policy.compat32)._payload
    if not isinstance(parts, list) or not parts:
        return False
    part._payload = parts
    return True


MESSAGE_TYPES = ("message/rfc822", "message/global")
MAIL_HEADERS = frozenset({"from", "subject", "date", "message-id", "mime-version"})


def _embedded_mail(part: Message) -> Message | None:
    """The mail inside `part` when the parser could not open it, else None.

    Exchange and some webmails send a forwarded mail (message/rfc822) in base64,
    which RFC 2046 forbids, so the parser sees one headerless text; QQ Mail's
    作为附件转发 and saved .eml files come as application/octet-stream. Either
    way the applicant's Word and PDF are inside.
    """
    payload = part._payload
    if _content_type(part) in MESSAGE_TYPES and isinstance(payload, list):
        inner = payload[0] if len(payload) == 1 and isinstance(payload[0], Message) else None
        if inner is None or inner.keys() or not isinstance(inner._payload, str):
            return None
        data = _payload_decoded(part, inner._payload)
        if data is None:
            return None
    elif isinstance(payload, str) and part_filename(part).lower().endswith(".eml"):
        data = part_bytes(part)
    elif isinstance(payload, str) and _nameless_file(part) and _mail_head(data := part_bytes(part)):
        pass  # a forwarded mail attached as ATT00001.bin, or with no name at all
    elif isinstance(payload, str) and _is_pkcs7(part):
        # Opaque-signed S/MIME: the signed MIME entity (the sender's text and files) is inside.
        from .smime import signed_content

        content = signed_content(part_bytes(part))
        if content is None:
            return None
        entity = _message_from_bytes(content)
        return entity if "content-type" in {k.lower() for k in entity.keys()} else None
    else:
        return None
    mail = _message_from_bytes(data)
    return mail if MAIL_HEADERS & {k.lower() for k in mail.keys()} else None


# Names a gateway or client gives a file it has no name for; the real type is inside.
_NO_NAME_EXTENSIONS = ("", ".bin", ".dat", ".tmp", ".att")


def _nameless_file(part: Message) -> bool:
    """An octet-stream part whose name says nothing of what it is (ATT00001.bin, none, 申报材料)."""
    name = part_filename(part).lower()
    ext = "." + name.rsplit(".", 1)[1] if "." in name.strip(".") else ""
    return _content_type(part) == "application/octet-stream" and (ext in _NO_NAME_EXTENSIONS or len(ext) > 6)


def _mail_head(data: bytes) -> bool:
    """Whether `data` opens with a mail's header block: header lines only up to the first blank
    line, with From and Date/Subject/Message-ID, or MIME-Version and Content-Type."""
    head = data[:16384].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    names = set()
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        name, colon, _ = line.partition(b":")
        if not colon or not re.fullmatch(rb"[A-Za-z][A-Za-z0-9-]{0,60}", name):
            return False
        names.add(name.decode("ascii").lower())
    return bool(names & {"from"} and names & {"date", "subject", "message-id"}) or {"mime-version", "content-type"} <= names


PKCS7_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")


def _is_pkcs7(part: Message) -> bool:
    return _content_type(part) in PKCS7_TYPES or part_filename(part).lower().endswith(".p7m")


def _cte(part: Message) -> str:
    """The part's Content-Transfer-Encoding, lower-cased ('' when none)."""
    return _cte_label(header_text(_raw_header(part, "content-transfer-encoding") or ""))


def _cte_label(value: str) -> str:
    """A Content-Transfer-Encoding header's value as one lower-case word: an RFC 822 comment
    after it (`base64 (encoded by OA)`), quotes, parameters and folding are no part of it."""
    value = re.sub(r"\([^()]*\)", " ", " ".join(value.split()))
    words = split_params(value)[0].replace('"', " ").lower().split()
    return words[0] if words else ""


def _payload_decoded(part: Message, payload: str) -> bytes | None:
    """`_transfer_decoded` of a payload that may hold lifted bodies (see `_Lifted`): a body
    lifted whole is decoded from the raw mail's bytes, anything else as the parser would have had it."""
    whole = _lifted_body(payload)
    if whole is not None and _cte(part) == "base64":
        return _b64(whole)
    return _transfer_decoded(part, raw_bytes(_unlift(payload)))


def _transfer_decoded(part: Message, data: bytes) -> bytes | None:
    """`data` decoded by the part's base64 or quoted-printable label; None for any other."""
    cte = _cte(part)
    if cte == "base64":
        return _b64(data)
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    return None


def _disposition(part: Message) -> str:
    raw = _raw_header(part, "content-disposition")
    return split_params(header_text(raw))[0].lower() if raw else ""


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


KIND_EXT = {"docx": "docx", "pdf": "pdf", "doc": "doc", "wps": "wps", "xls": "xls", "xlsx": "xlsx", "pptx": "pptx",
            "ppt": "ppt", "rtf": "rtf", "html_doc": "doc", "word2003xml": "xml", "odt": "odt", "zip": "zip", "rar": "rar", "7z": "7z",
            "msg": "msg", "office_encrypted": "docx", "image": "jpg", "ofd": "ofd", "text": "txt", "other": "bin"}
REPORT_TYPES = frozenset({"text/rfc822-headers", "message/delivery-status", "message/disposition-notification",
                          "message/feedback-report", "message/global-delivery-status", "message/global-headers"})
INLINE_DOCUMENTS = frozenset(KIND_EXT) - {"image", "text", "other"}


def returns_own_mail(part: Message, own_addresses: frozenset[str]) -> bool:
    """Is `part` an attached message we sent? Gateways bounce our reply back whole,
    and its files (our blank form) are not the sender's."""
    try:
        if not own_addresses or not _carries_mail(part):
            return False
        inner = part._payload
        if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
            return False
        _, addr = parse_address(_raw_header(inner[0], "from"))
        return bool(addr) and addr in own_addresses
    except Exception:
        return False


def _carries_mail(part: Message) -> bool:
    """A message part, or a saved .eml file that `_walk` opened (a gateway or 作为附件转发
    returns our reply that way too)."""
    return (
        _content_type(part) in MESSAGE_TYPES
        or part_filename(part).lower().endswith(".eml")
        or (_nameless_file(part) and isinstance(part._payload, list))
    )


def _collect(
    msg: Message, own_addresses: frozenset[str] = frozenset()
) -> tuple[list[Attachment], list[str], list[str], list[Finding], list[Message]]:
    """Files, plain and HTML texts, problems, and the mails of ours that came back inside.

    Files inside an attached mail come first: on a tie the file recorded last counts,
    and what the sender attached beside a forwarded earlier mail is the newer version.
    """
    # (forwarded, name, kind, data, type, (in multipart/related, cid) of a part shown inline or None)
    found: list[tuple[bool, str, str, bytes, str, tuple[bool, str] | None]] = []
    plains: list[str] = []
    htmls: list[str] = []
    problems: list[Finding] = []
    returned: list[Message] = []

    def prune(part: Message) -> bool:
        if returns_own_mail(part, own_addresses):
            returned.append(part)
            return True
        return False

    for part, forwarded, related in _walk(msg, prune):
        try:
            ctype = _content_type(part)
            disp = _disposition(part)
            name = part_filename(part)
            cid = _raw_header(part, "content-id")
            if ctype in ("text/plain", "text/html") and not name and disp != "attachment":
                data = part_bytes(part)
                if ctype == "text/plain" and b"begin " in data:
                    data, files = uu_blocks(data)
                    found.extend((forwarded, uu_name, sniff(uu_data), uu_data, "application/octet-stream", None) for uu_name, uu_data in files)
                text = decode_bytes(data, _charset(part)).replace("\r\n", "\n").replace("\r", "\n")
                (htmls if ctype == "text/html" else plains).append(text)
                continue
            if ctype in REPORT_TYPES and not name and disp != "attachment":
                continue  # the machine-readable half of a DSN or read receipt
            if ctype.startswith("multipart/"):
                if part_bytes(part).strip():  # not even _reopen_multipart could split it
                    problems.append(BROKEN_STRUCTURE)
                continue
            data = part_bytes(part)
            if _is_pkcs7(part) and _smime_kind(data) == "encrypted":
                problems.append(ENCRYPTED_MAIL)
                continue
            if (name or disp == "attachment") and _raw_header(part, "content-transfer-encoding") is None:
                data = unlabelled_base64(data) or data
            if data.startswith(APPLE_MAGIC) or ctype == "application/applefile":
                data = apple_data_fork(data)
                if data is None:
                    continue  # Finder data and the resource fork of a Mac file, not a file
            if not data and not name:
                continue
            kind = sniff(data)
            pictured = disp != "attachment" and (disp == "inline" or cid is not None) and kind not in INLINE_DOCUMENTS
            if disp == "" and not name and ctype.startswith("message/"):
                continue
            found.append((forwarded, name, kind, data, ctype, (related, _cid(cid) if cid else "") if pictured else None))
        except Exception as exc:  # one bad part must not lose the others
            log.warning("unreadable MIME part: %r", exc)
            problems.append(Finding("mail_unparseable", WARNING, f"邮件中有一部分内容无法解析（{type(exc).__name__}）", "邮件附件"))
    shown = _cids_shown(htmls)
    attachments: list[Attachment] = []
    forwarded_files: list[Attachment] = []
    for forwarded, name, kind, data, ctype, inline in found:
        if inline is not None:
            related, cid = inline
            in_text = related or bool(cid and cid in shown)  # a logo beside the text may sit outside multipart/related
            if not (_picture_is_a_file(name, data, in_text) if kind == "image" else not in_text):
                continue  # logos, banners, pasted screenshots: part of the text, not files sent to us
        filename = name or f"未命名附件{len(attachments) + len(forwarded_files) + 1}.{KIND_EXT.get(kind, 'bin')}"
        (forwarded_files if forwarded else attachments).append(
            Attachment(filename=filename, kind=kind, data=data, sha256=hashlib.sha256(data).hexdigest(), content_type=_clean(ctype))
        )
    return forwarded_files + attachments, plains, htmls, problems, returned


def _smime_kind(data: bytes) -> str | None:
    from .smime import kind

    return kind(data)


# An S/MIME-encrypted mail: only the recipient's private key opens it, and we have none.
ENCRYPTED_MAIL = Finding(
    "format_unreadable",
    ERROR,
    "邮件经过加密（S/MIME 加密），系统无法读取其中的附件。请在邮件客户端中取消“加密邮件”后重新发送 Word 版和盖章 PDF 版申报书。",
    "邮件附件",
)


BROKEN_STRUCTURE = Finding(
    "mail_unparseable", WARNING, "邮件结构损坏（找不到多部分邮件的分隔边界），附件和正文无法读取，请工作人员查看原邮件", "邮件",
    staff_only=True,
)
CID_REF = re.compile(r"""cid:([^\s"'<>()]+)""", re.I)


PHOTO_PIXELS = 1_000_000  # a phone's photo of a page, even sent at "medium" size; logos are far smaller
PHOTO_BYTES = 300_000  # the same for a picture Pillow cannot read (HEIC)
PAGE_RATIO = (1.25, 1.55)  # height / width of a portrait page photo: phones 4:3 (1.33), A4 (1.41), cameras 3:2
# Names phones and cameras give photos: IMG_0001.JPG / .HEIC (iPhone), DSC_0001.JPG, PXL_… (Pixel),
# IMG-2025…-WA0001.jpg, 微信图片_… and mmexport… (WeChat). Screenshots are PNG, so JPEG and HEIC only.
CAMERA_NAME = re.compile(r"^(?:IMG|DSC[FN]?|PXL|MVIMG|微信图片|mmexport)[-_\d].*\.(?:jpe?g|heic|heif)$|\.(?:heic|heif)$", re.I)
EXIF_MAKE, EXIF_MODEL, EXIF_ORIENTATION = 0x010F, 0x0110, 0x0112
EXIF_FORMATS = frozenset({"JPEG", "MPO", "TIFF", "WEBP"})  # their EXIF is read with the header, no pixels decoded


def _picture_is_a_file(name: str, data: bytes, in_text: bool) -> bool:
    """Whether an inline picture is a photo sent to us rather than part of the text.

    A camera's name or EXIF makes a photo wherever it sits. Pixels alone do not tell a
    photo of a page from a pasted screenshot, a 2x signature banner or a poster, so a
    picture the HTML shows needs a page's shape too (a portrait JPEG of a megapixel);
    one it does not show (iOS sends attached photos inline) only a photo's size.
    """
    if CAMERA_NAME.search(name or ""):
        return True
    fmt, width, height, camera = _picture_facts(data)
    if camera:
        return True
    if in_text:
        return (fmt == "JPEG" and width * height >= PHOTO_PIXELS
                and PAGE_RATIO[0] <= height / width <= PAGE_RATIO[1])
    return width * height >= PHOTO_PIXELS if width else len(data) >= PHOTO_BYTES


def not_a_page(data: bytes) -> bool:
    """Whether a picture plainly is no photo or scan of a paper page: a phone or PC screenshot
    (19.5:9, 16:9, 16:10), a banner. Unreadable pictures (HEIC) count as pages."""
    fmt, width, height, camera = _picture_facts(data)
    if not width or not height or camera:
        return False
    ratio = max(width, height) / min(width, height)
    return not PAGE_RATIO[0] <= ratio <= PAGE_RATIO[1]


def _picture_facts(data: bytes) -> tuple[str, int, int, bool]:
    """(format, width, height as shown, has camera EXIF) of a picture; ("", 0, 0, False) if unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
            exif = image.getexif() if image.format in EXIF_FORMATS else {}
            if exif.get(EXIF_ORIENTATION) in (5, 6, 7, 8):  # stored sideways, shown turned
                width, height = height, width
            return image.format or "", width, height, bool(exif.get(EXIF_MAKE) or exif.get(EXIF_MODEL))
    except Exception:  # noqa: BLE001 - not a picture Pillow knows
        return "", 0, 0, False


def _cid(value: str) -> str:
    """A Content-ID or a cid: URL as one comparable key."""
    return urllib.parse.unquote(header_text(value)).strip().strip("<>").strip().lower()


def _cids_shown(htmls: list[str]) -> set[str]:
    """The Content-IDs that the HTML texts show as pictures (cid: URLs)."""
    return {_cid(m.group(1)) for html in htmls for m in CID_REF.finditer(html)}


# AppleSingle (the whole Mac file) and AppleDouble (its Finder data and resource fork only).
APPLE_SINGLE, APPLE_DOUBLE = b"\x00\x05\x16\x00", b"\x00\x05\x16\x07"
APPLE_MAGIC = (APPLE_SINGLE, APPLE_DOUBLE)
APPLE_DATA_FORK = 1


def apple_data_fork(data: bytes) -> bytes | None:
    """The file inside an Apple Mail `application/applefile` part, or None if it holds none.

    Apple Mail sends a Mac file as AppleDouble (multipart/appledouble: this
    header part, then the file as its own part) or whole as AppleSingle. An
    AppleSingle whose entry table is damaged is kept as it is, for staff.
    """
    if not data.startswith(APPLE_SINGLE):
        return None
    count = int.from_bytes(data[24:26], "big")
    for i in range(min(count, 64)):
        entry = data[26 + 12 * i:38 + 12 * i]
        if len(entry) < 12:
            return data
        entry_id, offset, length = (int.from_bytes(entry[k:k + 4], "big") for k in (0, 4, 8))
        if entry_id == APPLE_DATA_FORK:
            return data[offset:offset + length] if offset + length <= len(data) else data
    return None


def _charset(part: Message) -> str | None:
    raw = _raw_header(part, "content-type")
    if not raw:
        return None
    _, params = split_params(header_text(raw))
    for name, value, _ in params:
        if name == "charset":
            return value
    return None


def no_reply_reason(
    msg: Message,
    sender: str,
    subject: str,
    own_addresses: frozenset[str],
    *,
    body: str = "",
    has_files: bool = False,
    returns_own: bool = False,
) -> str | None:
    """Why this mail must not get an automatic answer (RFC 3834 and common sense).

    Headers and senders decide alone. Subject, text and a returned mail of ours
    only count when the mail brings no application files of its own: a person
    may write anything in a subject, and their files must reach an applicant.
    A From our receiving server found forged is never answered: the answer
    would go to whoever's address was forged (backscatter).
    """
    reason = _header_reason(msg, sender) or auth_failure_reason(msg, own_addresses, sender)
    if reason is None and not has_files:
        reason = _content_reason(subject, body, returns_own)
    own = {a.strip().lower() for a in own_addresses}
    if reason is None and sender and sender in own:
        reason = "本邮箱自己发出的邮件"
    if reason and has_files:
        reason += "；邮件带有申报附件，未自动登记和回复，请工作人员查看"
    return reason


AUTH_FAILED = (
    "发件地址未通过收信服务器的身份验证（{what} 未通过），可能是伪造的发件人，未自动回复；"
    "如确为申报单位来信，请工作人员核实后用 intake admit 发件地址 按申报处理"
)


def auth_failed(reason: str | None) -> bool:
    """Whether a no-reply reason is `auth_failure_reason`'s (staff may `admit` such mail)."""
    return bool(reason) and reason.startswith(AUTH_FAILED.split("（", 1)[0])
# Mailbox domains whose receiving server names itself by another domain in Authentication-Results.
AUTHSERV_DOMAINS = {"foxmail.com": "qq.com", "gmail.com": "google.com"}
AUTH_METHOD = re.compile(r"\s*([a-z0-9][a-z0-9_.-]*)\s*(?:/\s*\d+\s*)?=\s*([a-z]+)", re.I)


def auth_failure_reason(msg: Message, own_addresses: frozenset[str], sender: str = "") -> str | None:
    """The staff reason when our receiving server found the From forged, else None.

    `dmarc=fail`, or `spf=fail` with no `dkim=pass` for the From's own domain (a signature
    of any domain the forger owns proves nothing: QA round 11) and no `arc=pass` (a
    forwarder, a list, vouching for what it relayed), in the results our server wrote
    (see `_receiving_auth_results`). softfail, neutral, none, temperror and permerror
    block nothing: too many real senders publish no SPF or DMARC record.
    """
    results = _receiving_auth_results(msg, own_addresses)
    found = {method: {r for m, r, _ in results if m == method} for method in ("dmarc", "spf", "arc")}
    domain = sender.strip().lower().rpartition("@")[2]
    dkim_own = any(m == "dkim" and r == "pass" and _aligned(props, domain) for m, r, props in results)
    if "fail" in found["dmarc"]:
        return AUTH_FAILED.format(what="DMARC")
    if found["spf"] & {"fail", "hardfail"} and not dkim_own and not found["dmarc"] & {"pass"} and "pass" not in found["arc"]:
        return AUTH_FAILED.format(what="SPF")
    return None


def _aligned(props: str, domain: str) -> bool:
    """Whether a DKIM result's signing domain (header.d=, or header.i=…@d) is the From's
    domain or a parent or child of it; a result naming none is taken as the From's."""
    m = re.search(r"header\.(?:d\s*=\s*|i\s*=\s*[^@\s;]*@)([a-z0-9.-]+)", props, re.I)
    if not m or not domain:
        return True
    signer = m.group(1).lower().strip(".")
    return signer == domain or domain.endswith("." + signer) or signer.endswith("." + domain)


def _receiving_auth_results(msg: Message, own_addresses: frozenset[str]) -> list[tuple[str, str, str]]:
    """(method, result, properties) triples from the Authentication-Results our receiving server wrote.

    A server adds its headers above those the sender wrote, and a sender may write any
    Authentication-Results lower down: only the topmost one counts, with the ones
    under it, up to the next Received line, that carry the same authserv-id (Postfix
    milters write one each for SPF, DKIM and DMARC, OpenDKIM a DKIM-Filter line between). Its authserv-id must be the
    receiving mailbox's domain or a host in it (mx.163.com for kpzx350@163.com); with
    no own address to compare, the topmost header alone counts.
    """
    domains = {d for a in own_addresses if (d := a.strip().lower().rpartition("@")[2])}
    domains |= {AUTHSERV_DOMAINS[d] for d in domains if d in AUTHSERV_DOMAINS}
    out: list[tuple[str, str, str]] = []
    top = None
    for key, value in msg.raw_items():
        is_ar = key.lower() == "authentication-results"
        if top is None and not is_ar:
            continue
        if top is not None and not is_ar:
            if key.lower() == "received":
                break  # the hop before ours: what lies below is not our server's
            continue  # a filter's own header between its results (OpenDKIM's DKIM-Filter:)
        authserv_id, results = _auth_results(header_text(value if isinstance(value, str) else str(value)))
        if top is None:
            if domains and not any(authserv_id == d or authserv_id.endswith("." + d) for d in domains):
                return []
            top = authserv_id
        elif authserv_id != top or not domains:
            break
        out.extend(results)
    return out


def _auth_results(value: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(authserv-id, [(method, result, properties)]) of one Authentication-Results value (RFC 8601)."""
    head, *parts = _without_comments(value).split(";")
    authserv_id = (head.split() or [""])[0].lower()
    return authserv_id, [(m.group(1).lower(), m.group(2).lower(), p[m.end():]) for p in parts if (m := AUTH_METHOD.match(p))]


def _without_comments(text: str) -> str:
    """`text` without (comments), nested ones too, and with quoted strings emptied: either may hold ';' or '='."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
                out.append(ch)
        elif depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        elif ch == "(":
            depth = 1
            out.append(" ")
        else:
            quoted = ch == '"'
            out.append(ch)
    return "".join(out)


def _header_reason(msg: Message, sender: str) -> str | None:
    """Headers and sender addresses that mark machines, lists and bounces."""

    def first(name: str) -> str:
        raw = _raw_header(msg, name)
        return header_text(raw).strip() if raw is not None else ""

    auto = first("auto-submitted").split(";")[0].strip().lower()
    if auto and auto != "no":
        # Staff read what the header says, not the header (RFC 3834 values).
        return {"auto-replied": "自动回复的邮件", "auto-notified": "系统自动通知的邮件"}.get(auto, "系统自动发送的邮件") + "（邮件头标明为自动发送）"
    precedence = first("precedence").lower()
    if precedence in BULK_PRECEDENCE:
        return "群发或自动发送的邮件（邮件头标明为群发）"
    if _raw_header(msg, "list-id") is not None or _raw_header(msg, "list-unsubscribe") is not None:
        return "邮件列表或群发邮件"
    if _raw_header(msg, "x-autoreply") is not None or _raw_header(msg, "x-autorespond") is not None:
        return "自动回复邮件"
    suppress = {t.strip().lower() for t in first("x-auto-response-suppress").split(",")}
    if suppress & {"all", "oof"}:
        return "自动回复邮件（X-Auto-Response-Suppress）"
    for header in ("return-path", "sender", "from"):
        raw = _raw_header(msg, header)
        if raw is None:
            continue
        value = header_text(raw).strip()
        if header == "return-path" and value.strip("<> ") == "":
            return "退信或系统通知（空的 Return-Path）"
        _, addr = parse_address(value)
        local = (addr or value).strip("<> ").split("@")[0].lower()
        if local in ("mailer-daemon", "postmaster"):
            return "退信或系统通知（发件人为 MAILER-DAEMON/postmaster）"
    local = (sender or "").split("@")[0]
    if sender and NO_REPLY_LOCAL.search(local):
        return f"发件人为不接收回复的地址（{local[:64]}）"
    if _content_type(msg) == "multipart/report":
        return "投递状态通知（退信）"
    return None


def subject_kind(subject: str) -> str | None:
    """'自动回复', '退信' or '已读回执' when the subject says it is one, else None."""
    text = SUBJECT_PREFIX.sub("", subject or "").strip()
    m = OOO_SUBJECT.match(text) or OOO_PHRASE.search(text)
    if not m:
        return None
    return next(SUBJECT_KIND[k] for k, v in m.groupdict().items() if v)


def bounces_own_mail(returned: list[Message], sender: str, body: str) -> bool:
    """Did a mail of ours come back as a bounce, rather than forwarded by a person?

    Gateways return our reply whole; a person we wrote to also forwards it to
    us as an attachment (QQ 作为附件转发, Outlook 以附件形式转发) to ask about
    it. That person is among our mail's recipients and writes text of their
    own without a bounce's words; subjects, senders and report parts that
    mark a bounce are judged before (see `_header_reason`, `subject_kind`).
    """
    if not returned:
        return False
    top = (body or "").strip()[:AUTO_BODY_CHARS]
    if not top or BOUNCE_BODY.search(top):
        return True
    return not sender or not any(sender in _recipients(part) for part in returned)


def _recipients(part: Message) -> set[str]:
    """The lower-cased To and Cc addresses of the mail carried in `part`."""
    inner = part._payload[0] if isinstance(part._payload, list) and part._payload else None
    if not isinstance(inner, Message):
        return set()
    values = [header_text(v) for v in _raw_headers(inner, "to") + _raw_headers(inner, "cc")]
    try:
        return {addr.strip().lower() for _, addr in email.utils.getaddresses(values) if addr}
    except Exception:
        return set()


def _content_reason(subject: str, body: str, returns_own: bool) -> str | None:
    """Subject, top of the text and a returned mail of ours: signs of a machine."""
    kind = subject_kind(subject)
    if kind:
        return f"{kind}（见邮件主题）"
    if AUTO_BODY.search((body or "").lstrip()[:AUTO_BODY_CHARS]):
        return "自动回复（见邮件正文开头）"
    if returns_own:
        return "邮件中附有本邮箱发出的原邮件（多为退信）"
    return None


def parse_mail(raw: RawMail, *, own_addresses: frozenset[str] = frozenset(), seconds: float = 0,
               now: datetime | None = None, not_before: datetime | None = None) -> Mail:
    """Parse one mail; never raises (an unreadable mail becomes a finding). `seconds`:
    a time limit (`deadline`) for a mail whose structure would keep the parser busy.
    `now` (the run's clock) and `not_before` (the call's notice date) bound the times
    a saved mail without server time may have arrived at (`arrival_time`)."""
    from .deadline import call

    clock = (now or datetime.now(timezone.utc), not_before)
    try:
        mail, timed_out = call(seconds, _parse, raw, own_addresses, clock)
        if timed_out:
            log.warning("mail %s: parsing took over %s s", getattr(raw, "sha256", "?"), seconds)
            return _unparseable(raw, TimeoutError(seconds), clock)
        return mail
    except Exception as exc:  # RecursionError, MemoryError from hostile input too
        log.warning("mail %s unparseable: %r", getattr(raw, "sha256", "?"), exc)
        return _unparseable(raw, exc, clock)


def _unparseable_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "邮件结构过于复杂，解析超时（原始邮件已保存，请工作人员查看）"
    return f"邮件无法解析：{type(exc).__name__}"


def _sha(raw: RawMail) -> str:
    try:
        return raw.sha256 or hashlib.sha256(raw.data or b"").hexdigest()
    except Exception:
        return hashlib.sha256(b"").hexdigest()


def _unparseable(raw: RawMail, exc: BaseException, clock: tuple[datetime, datetime | None] | None = None) -> Mail:
    """What the headers alone still tell (staff see who sent it), plus the finding."""
    sha = _sha(raw)
    received = getattr(raw, "received_at", None)
    name = sender = subject = ""
    sent_at = stamped = None
    message_id = f"<{sha}@intake.invalid>"
    try:
        # The header parser does not descend into MIME parts, so it cannot
        # hit the nesting that usually causes the failure.
        head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(bytes(raw.data))
        name, sender = parse_address(_raw_header(head, "from"))
        subject = decode_header(_raw_header(head, "subject"))
        sent_at = parse_date(_raw_header(head, "date"))
        stamped = received_date(head)
        message_id = (message_ids(_raw_headers(head, "message-id")) or (message_id,))[0]
    except Exception:
        pass
    problems = [Finding("mail_unparseable", WARNING, _unparseable_reason(exc), "邮件")]
    if isinstance(received, datetime):
        received_at = _aware(received)
    else:
        now, not_before = clock or (datetime.now(timezone.utc), None)
        received_at = arrival_time(sent_at, stamped, now, not_before)
        problems += [note] if (note := _import_doubt(sent_at, stamped, now, not_before)) else []
    return Mail(
        sha256=sha,
        message_id=message_id,
        sender=sender,
        sender_name=name,
        subject=subject,
        sent_at=sent_at,
        received_at=received_at,
        body_text="",
        no_reply_reason="邮件无法解析",
        problems=tuple(problems),
    )


# Mailboxes that a Reply-To names but no person reads: help desks and system
# accounts, list and bounce handlers (owner-x, x-request, bounce-123), SRS.
ROLE_LOCAL = re.compile(
    r"admin|administrator|service|support|system|info|webmaster|notice|notify|mailer-daemon|postmaster"
    r"|(?:bounce|return|list)[\w.=-]*|owner-[\w.=-]*|[\w.=-]*-(?:request|list|owner|bounces?)|srs[01]=[\w.=+-]*"
)
LIST_HOST = re.compile(r"(?:^|\.)(?:googlegroups\.com|groups\.io|freelists\.org)$|^(?:lists?|maillist|mailman)\.")
# A '+' tag that carries a recipient (VERP: bounce+user=host) or a message key; "wangwu+kpzx" is a person's own.
VERP_TAG = re.compile(r"=|[0-9a-f]{10,}")


def _machine_address(addr: str) -> bool:
    """Whether a (lower-cased) address is a role, list, bounce or no-reply mailbox rather than a person."""
    local, _, host = addr.rpartition("@")
    base, plus, tag = local.partition("+")
    return bool(NO_REPLY_LOCAL.search(local) or ROLE_LOCAL.fullmatch(base) or (plus and VERP_TAG.search(tag))
                or LIST_HOST.search(host))


def _reply_to(msg: Message, sender: str, own: frozenset[str]) -> tuple[str, str]:
    """(name, address) of a Reply-To naming a person other than the sender, else ("", "").

    A shared office mailbox or an OA gateway asks answers to go to the person who wrote;
    our own address and machine mailboxes there (admin@, a list, a VERP bounce address,
    which clients and lists also put in Reply-To) are ignored: nobody would read our answer.
    """
    name, addr = parse_address(_raw_header(msg, "reply-to"))
    if "@" not in addr or addr == sender or addr in own or _machine_address(addr):
        return "", ""
    return name, addr


def _parse(raw: RawMail, own_addresses: frozenset[str], clock: tuple[datetime, datetime | None]) -> Mail:
    lifted = _LIFTED.set(_Lifted())  # big base64 bodies skip the stdlib parser (see `_Lifted`)
    try:
        return _parse_lifted(raw, own_addresses, clock)
    finally:
        _LIFTED.reset(lifted)


# A mail moved through a text-mode transfer (FTP ASCII, a Windows tool writing CRLF over CRLF)
# ends its lines in CR CR LF: the parser sees a blank line after every header line, so the
# whole mail became one body, no attachment and no problem.
_DOUBLE_CR = b"\r\r\n"


def _line_ends_mended(data: bytes) -> bytes:
    """`data` with CR CR LF line ends made CR LF, when most of its lines end so."""
    doubled = data.count(_DOUBLE_CR)
    return data.replace(_DOUBLE_CR, b"\r\n") if doubled and doubled * 2 > data.count(b"\n") else data


def _parse_lifted(raw: RawMail, own_addresses: frozenset[str], clock: tuple[datetime, datetime | None]) -> Mail:
    data = _line_ends_mended(bytes(raw.data))
    msg = _message_from_bytes(data)
    sha = _sha(raw)

    name, sender = parse_address(_raw_header(msg, "from"))
    if not sender:
        for header in ("sender", "return-path"):
            name2, sender = parse_address(_raw_header(msg, header))
            if sender:
                name = name or name2
                break
    subject = decode_header(_raw_header(msg, "subject"))
    own = frozenset(a.strip().lower() for a in own_addresses)
    reply_name, reply_to = _reply_to(msg, sender, own)
    if reply_to and NO_REPLY_LOCAL.search(sender.split("@")[0]):
        # An OA system or gateway sending for a person (From noreply@, Reply-To the person, never
        # a role mailbox: see `_reply_to`): the person is who wrote, files and answers are theirs.
        name, sender, reply_to = reply_name or name, reply_to, ""

    date_raw = _raw_header(msg, "date")
    sent_at = parse_date(date_raw)
    if sent_at is None and date_raw:
        sent_at = _local_date(date_raw) or _mailparser_date(data)
    stamped = received_date(msg)
    now, not_before = clock
    if isinstance(raw.received_at, datetime):
        received_at = _aware(raw.received_at)
        time_note = _arrival_doubt(received_at, stamped)
    else:
        received_at = arrival_time(sent_at, stamped, now, not_before)
        time_note = _import_doubt(sent_at, stamped, now, not_before)

    mids = message_ids(_raw_headers(msg, "message-id"))
    message_id = mids[0] if mids else f"<{sha}@intake.invalid>"
    references = message_ids(_raw_headers(msg, "references") + _raw_headers(msg, "in-reply-to"))

    attachments, plains, htmls, problems, returned = _collect(msg, own)
    html_text = "\n\n".join(html_to_text(h) for h in htmls)
    plain_text = "\n\n".join(p.strip() for p in plains if p.strip())
    body = plain_text or html_text
    if plain_text and html_text:
        # Webmail puts the cloud link only in the HTML at times: keep it findable.
        extra = [u for u in find_cloud_links(html_text) if u not in plain_text]
        if extra:
            body += "\n\n" + "\n".join(extra)
        if has_cloud_marker(html_text) and not has_cloud_marker(body):
            body += "\n\n" + html_text

    kinds = {a.kind for a in attachments}
    has_word = bool(kinds & WORD_KINDS)
    has_pdf = "pdf" in kinds
    # A reply that quotes an old link mail but attaches both files is fine.
    if has_cloud_marker(body) and not (has_word and has_pdf):
        files = LINK_ONLY_FILES[(has_word, has_pdf)]  # name only what did not come as an attachment
        problems.append(Finding("attachment_link_only", ERROR, LINK_ONLY_MESSAGE.format(files=files), "邮件附件"))
    if time_note:
        problems.append(time_note)

    return Mail(
        sha256=sha,
        message_id=message_id,
        sender=sender,
        sender_name=name,
        subject=subject,
        sent_at=sent_at,
        received_at=received_at,
        body_text=_clean(body),
        attachments=tuple(attachments),
        references=references,
        reply_to=reply_to,
        no_reply_reason=no_reply_reason(
            msg, sender, subject, own_addresses, body=body, has_files=bool(kinds & APPLICATION_KINDS),
            returns_own=bounces_own_mail(returned, sender, body),
        ),
        problems=tuple(_dedupe(problems)),
    )


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: list[Finding] = []
    for f in findings:
        if f not in seen:
            seen.append(f)
    return seen
