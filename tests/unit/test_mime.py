"""parse_mail over the client corpus, file sniffing, and never-raise properties."""
from __future__ import annotations

import hashlib
import io
import sysconfig
import unicodedata
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import mime
from pipeline.filetypes import KINDS, sniff
from pipeline.mime import decode_filename, decode_header, find_cloud_links, parse_mail
from pipeline.models import Mail, RawMail

import mail_corpus as corpus  # tests/unit is on sys.path (pytest rootdir-less import mode)

OWN = frozenset({corpus.OWN})


def raw(data: bytes, received_at: datetime | None = None) -> RawMail:
    return RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import", received_at=received_at)


def parse(data: bytes, **kw) -> Mail:
    return parse_mail(raw(data, **kw), own_addresses=OWN)


def no_surrogates(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# -- the corpus --------------------------------------------------------------------


@pytest.mark.parametrize("case", corpus.CASES, ids=lambda c: c.name)
def test_corpus(case):
    mail = parse(case.data())
    got = tuple((a.filename, a.kind, a.sha256) for a in mail.attachments)
    assert got == case.attachments
    for a in mail.attachments:
        assert a.sha256 == hashlib.sha256(a.data).hexdigest()
    assert bool(mail.no_reply_reason) is case.no_reply, mail.no_reply_reason
    assert tuple(f.code for f in mail.problems) == case.codes
    for key, want in case.expect.items():
        if key == "links":
            assert find_cloud_links(mail.body_text) == want
        elif key == "body_text":
            assert want in mail.body_text
        else:
            assert getattr(mail, key) == want, key
    assert mail.received_at.tzinfo is not None
    assert mail.message_id.startswith("<") and mail.message_id.endswith(">")


@pytest.mark.parametrize(
    "value, expected",
    [
        ('"=?gb2312?B?0MK9qCDOxLG+zsS1tS50eHQ=?="', "新建 文本文档.txt"),
        ('"=?gb2312?B?1uzpRrv5hrSraC5kb2N4?="', "朱镕基喆玥.docx"),
        ('"=?gbk?B?v8bG1c8=?=\r\n =?gbk?B?7sS/yerH67HtLmRvY3g=?="', "科普项目申请表.docx"),
        ('"=?gb18030?B?1tDOxLLiytQuZG9jeA==?="', "中文测试.docx"),
        ("=?cp936?B?1uzpRrv5hrSraC5kb2N4?=", "朱镕基喆玥.docx"),
        ("=?x-gbk?B?1uzpRrv5hrSraC5kb2N4?=", "朱镕基喆玥.docx"),
        ('"=?utf-8?B?55Sz5oql5Lmm?=.docx"', "申报书.docx"),
        ("plain.pdf", "plain.pdf"),
        ('"a\\\\b\\\\c.pdf"', "c.pdf"),
        ("申报书.docx".encode("gbk"), "申报书.docx"),
        ("申报书.docx".encode("utf-8"), "申报书.docx"),
        (unicodedata.normalize("NFD", '"Résumé 한글 申报书.pdf"'), "Résumé 한글 申报书.pdf"),
    ],
)
def test_decode_filename_vectors(value, expected):
    assert decode_filename(value) == expected


def test_rfc2231_vector_from_field_notes():
    mail = parse(corpus.rfc2231_gbk())
    assert mail.attachments[0].filename == "科普项目申请表.docx"


def test_mail_parser_loses_gbk_only_characters_we_do_not():
    """Documents why names are not taken from mail-parser (FIELD-NOTES, checked)."""
    import mailparser

    data = corpus.outlook_gb2312()
    theirs = mailparser.parse_from_bytes(data).attachments[0]["filename"]
    assert theirs != "朱镕基喆玥.docx"
    assert parse(data).attachments[0].filename == "朱镕基喆玥.docx"


def test_long_name_is_capped_keeping_extension():
    name = "长" * 300 + ".docx"
    mail = parse(corpus.with_files([corpus.att(f'attachment; filename="{name}"'.encode(), corpus.DOCX)]))
    got = mail.attachments[0].filename
    assert len(got) == 200 and got.endswith(".docx")


def test_unnamed_attachment_gets_a_display_name():
    mail = parse(corpus.with_files([corpus.att("attachment", corpus.PDF, "application/pdf")]))
    assert mail.attachments[0].kind == "pdf"
    assert mail.attachments[0].filename.endswith(".pdf")


def test_nfd_name_from_apple_mail_is_nfc():
    """macOS Mail sends decomposed names (e + U+0301): stored and shown as NFC."""
    nfd = unicodedata.normalize("NFD", "Résumé 한글 申报书.pdf")
    assert nfd != "Résumé 한글 申报书.pdf"
    ctype = f'application/pdf; x-unix-mode=0644; name="{corpus.enc_word(nfd, "utf-8")}"'
    mail = parse(corpus.with_files([corpus.part([("Content-Type", ctype), ("Content-Disposition", "inline")], corpus.PDF)]))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("Résumé 한글 申报书.pdf", "pdf")]


@pytest.mark.parametrize(
    "data, name, kind",
    [
        (corpus.PDF, "申报书盖章.pdf", "pdf"),
        (corpus.DOCX, "申报书.docx", "docx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "WordDocument".encode("utf-16-le"), "申报书.doc", "doc"),
        (b"{\\rtf1\\ansi \\f0 abc}", "申报书.rtf", "rtf"),
    ],
    ids=["pdf", "docx", "doc", "rtf"],
)
def test_base64_attachment_without_cte_is_decoded(data, name, kind):
    """Some mailers drop Content-Transfer-Encoding on base64 files: the PDF must still arrive."""
    headers = [("Content-Type", "application/octet-stream"), ("Content-Disposition", f'attachment; filename="{name}"')]
    mail = parse(corpus.with_files([corpus.part(headers, corpus.b64(data), encode=False)]))
    (a,) = mail.attachments
    assert (a.filename, a.kind, a.data) == (name, kind, data)


@pytest.mark.parametrize(
    "headers, payload",
    [
        # Base64 text that is not a document: an attachment stays as sent.
        ([("Content-Type", "text/plain"), ("Content-Disposition", 'attachment; filename="key.txt"')], b"SGVsbG8gd29ybGQh"),
        # Not pure base64 (a space inside a line is fine, a '*' is not).
        ([("Content-Type", "application/pdf"), ("Content-Disposition", 'attachment; filename="a.pdf"')], b"JVBERi0x*LjQK"),
        # An explicit 7bit label is believed.
        ([("Content-Type", "application/pdf"), ("Content-Disposition", 'attachment; filename="a.pdf"'),
          ("Content-Transfer-Encoding", "7bit")], corpus.b64(corpus.PDF)),
    ],
    ids=["not_a_document", "not_base64", "explicit_7bit"],
)
def test_base64_sniffing_without_cte_stays_narrow(headers, payload):
    mail = parse(corpus.with_files([corpus.part(headers, payload, encode=False)]))
    (a,) = mail.attachments
    assert a.data == payload


def test_base64_document_in_the_text_body_stays_text():
    """Only attachments are sniffed: a body that happens to be base64 is text."""
    body = corpus.part([("Content-Type", "text/plain; charset=utf-8")], corpus.b64(corpus.PDF), encode=False)
    mail = parse(corpus.with_files([body]))
    assert mail.attachments == ()


def test_inline_picture_is_not_an_attachment():
    mail = parse(corpus.inline_docx_cid())
    assert [a.kind for a in mail.attachments] == ["docx"]


# -- ids and dates -----------------------------------------------------------------


def test_message_id_synthesised_and_dates():
    data = corpus.no_id_no_date()
    before = datetime.now(timezone.utc)
    mail = parse(data)
    assert mail.message_id == f"<{hashlib.sha256(data).hexdigest()}@intake.invalid>"
    assert mail.sent_at is None
    assert mail.received_at >= before - timedelta(seconds=1)


def test_received_at_prefers_server_time():
    server = datetime(2025, 6, 30, 23, 59, tzinfo=timezone.utc)
    mail = parse(corpus.outlook_gb2312(), received_at=server)
    assert mail.received_at == server
    assert mail.sent_at == datetime(2025, 6, 2, 10, 15, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_naive_times_are_beijing_time():
    mail = parse(corpus.reply_with_refs(), received_at=datetime(2025, 6, 3, 9, 0))
    assert mail.received_at.utcoffset() == timedelta(hours=8)
    assert mail.sent_at == datetime(2025, 6, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert mail.message_id == "<20250602101500.1@example.cn>"


BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    "date_line",
    [
        "Date: Mon, 23 Jun 2025 23:30:00 CST",  # CST here is China Standard Time, not US Central
        "Date: Mon Jun 23 23:30:00 CST 2025",  # Java Date.toString()
        "Date: Mon, 23 Jun 2025 23:30:00 +0800 (CST)",
        "Date: Monday, June 23, 2025 11:30 PM",
        "Date: Mon, 23 Jun 2025 11:30:00 PM +0800",
        "Date: Mon, 23 Jun 2025 11:30 p.m. CST",
        "Date: 2025年6月23日 下午11:30",
    ],
)
def test_chinese_mailer_dates_are_beijing_time(date_line):
    mail = parse(corpus.plain(date=date_line.removeprefix("Date: ")))
    assert mail.sent_at == datetime(2025, 6, 23, 23, 30, tzinfo=BEIJING)
    assert mail.received_at == mail.sent_at


@pytest.mark.parametrize(
    "date, expected",
    [
        ("Mon, 23 Jun 2025 12:05 AM +0800", datetime(2025, 6, 23, 0, 5, tzinfo=BEIJING)),
        ("Mon, 23 Jun 2025 12:05 PM +0800", datetime(2025, 6, 23, 12, 5, tzinfo=BEIJING)),
        ("Mon, 23 Jun 2025 09:05:07 am +0800", datetime(2025, 6, 23, 9, 5, 7, tzinfo=BEIJING)),
        ("Mon, 23 Jun 2025 23:30:00 -0600 (CST)", datetime(2025, 6, 23, 23, 30, tzinfo=timezone(timedelta(hours=-6)))),
        ("Mon, 23 Jun 2025 23:30:00 CDT", datetime(2025, 6, 23, 23, 30, tzinfo=timezone(timedelta(hours=-5)))),
    ],
)
def test_twelve_hour_and_explicit_offsets(date, expected):
    assert parse(corpus.plain(date=date)).sent_at == expected


RECEIVED = [
    ("Received", "from mx.163.com (unknown [10.0.0.2]) by imap.163.com with LMTP;\r\n\tMon, 23 Jun 2025 23:31:05 +0800 (CST)"),
    ("Received", "from smtp.qq.com (unknown [1.2.3.4]) by mx.163.com (Coremail) with SMTP id abc;\r\n Mon, 23 Jun 2025 23:30:05 +0800"),
]


@pytest.mark.parametrize("date", [None, "星期一, 23 六月 2025 23:30:00 +0800", "garbage"])
def test_missing_or_unreadable_date_falls_back_to_top_received(date):
    mail = parse(corpus.plain(RECEIVED, date=date))
    assert mail.sent_at is None
    assert mail.received_at == datetime(2025, 6, 23, 23, 31, 5, tzinfo=BEIJING)


def test_received_header_does_not_override_date_or_server_time():
    mail = parse(corpus.plain(RECEIVED, date="Mon, 23 Jun 2025 10:00:00 +0800"))
    assert mail.received_at == mail.sent_at == datetime(2025, 6, 23, 10, 0, tzinfo=BEIJING)
    server = datetime(2025, 6, 24, 8, 0, tzinfo=timezone.utc)
    assert parse(corpus.plain(RECEIVED, date=None), received_at=server).received_at == server


def test_unreadable_received_date_falls_back_to_now():
    before = datetime.now(timezone.utc)
    mail = parse(corpus.plain([("Received", "from a by b; yesterday-ish")], date=None))
    assert mail.received_at >= before - timedelta(seconds=1)


def test_date_header_used_when_no_server_time():
    mail = parse(corpus.outlook_gb2312())
    assert mail.received_at == mail.sent_at


# -- senders -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [
        corpus.enc_word("李晓燕 <Li@Example.com>", "utf-8"),  # Python compat32 MIMEMultipart, office systems
        corpus.enc_word('"李晓燕" <Li@Example.com>', "gb2312"),
        "=?utf-8?Q?" + "".join(f"={b:02X}" for b in "李晓燕".encode()) + "_=3CLi@Example.com=3E?=",
        "=?utf-8?b?5p2O5pmT?=\r\n =?utf-8?b?54eVIDxMaUBFeGFtcGxlLmNvbT4=?=",  # folded, split in two words
    ],
)
def test_from_wholly_inside_one_encoded_word(sender):
    mail = parse(corpus.plain(sender=sender))
    assert (mail.sender_name, mail.sender) == ("李晓燕", "li@example.com")


@pytest.mark.parametrize("sender", [corpus.enc_word("李晓燕", "utf-8"), "李晓燕".encode("gbk"), "红旗区科协 <>"])
def test_from_without_address_stays_visible(sender):
    """No address to answer: the name is kept so staff can see who wrote (run.py routes it to them)."""
    mail = parse(corpus.plain(sender=sender))
    assert mail.sender == ""
    assert mail.sender_name.startswith(("李晓燕", "红旗区科协"))


def test_from_without_address_uses_return_path_for_the_address():
    mail = parse(corpus.plain([("Return-Path", "<li@example.com>")], sender=corpus.enc_word("李晓燕", "utf-8")))
    assert (mail.sender_name, mail.sender) == ("李晓燕", "li@example.com")


# -- findings ----------------------------------------------------------------------


def test_link_only_finding_is_the_chinese_text():
    (finding,) = parse(corpus.qq_large_attachment()).problems
    assert finding.severity == "error" and finding.location == "邮件附件"
    assert "超大附件/云附件" in finding.message and "http" not in finding.message


def test_unparseable_mail_becomes_a_finding(monkeypatch):
    def boom(*a, **k):
        raise RecursionError("deep")

    monkeypatch.setattr(mime.email, "message_from_bytes", boom)
    data = corpus.outlook_gb2312()
    mail = parse(data)
    assert [(f.code, f.severity) for f in mail.problems] == [("mail_unparseable", "warning")]
    assert mail.sha256 == hashlib.sha256(data).hexdigest()
    assert mail.received_at.tzinfo is not None


def test_deeply_nested_mail_does_not_raise():
    depth = 3000
    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    mail = parse(b"From: A <a@b.cn>\r\nSubject: " + corpus.enc_word("申请", "gbk").encode() + b"\r\n" + head + b"Content-Type: text/plain\r\n\r\nx\r\n")
    check_mail(mail)
    assert [f.code for f in mail.problems] == ["mail_unparseable"]
    # The headers still say who sent it.
    assert mail.sender == "a@b.cn" and mail.subject == "申请"


@pytest.mark.parametrize(
    "date, expected",
    [
        ("2025-06-02 10:15:00", datetime(2025, 6, 2, 10, 15, tzinfo=ZoneInfo("Asia/Shanghai"))),
        ("2025年6月2日 10:15", datetime(2025, 6, 2, 10, 15, tzinfo=ZoneInfo("Asia/Shanghai"))),
        ("Mon, 2 Jun 2025 10:15:00 +0000", datetime(2025, 6, 2, 10, 15, tzinfo=timezone.utc)),
        ("garbage", None),
    ],
)
def test_date_forms(date, expected):
    mail = parse(corpus.plain(date=date))
    assert mail.sent_at == expected


def test_own_address_only_when_configured():
    data = corpus.own_address()
    assert parse_mail(raw(data)).no_reply_reason is None
    assert parse(data).no_reply_reason


def test_cloud_links_in_free_text():
    text = "链接：mail.163.com/large-attachment-download/index.html?p=1，请下载。另见 https://example.cn/x"
    assert find_cloud_links(text) == ["mail.163.com/large-attachment-download/index.html?p=1"]
    assert find_cloud_links("") == []


# -- sniffing ----------------------------------------------------------------------


def zip_with(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in names:
            zf.writestr(n, b"<x/>")
    return buf.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(
    "data, kind",
    [
        (corpus.DOCX, "docx"),
        (corpus.DOCX[: len(corpus.DOCX) // 2 + 40], "docx"),  # truncated: no central directory
        (zip_with("xl/workbook.xml"), "xlsx"),
        (zip_with("ppt/presentation.xml"), "pptx"),
        (zip_with("申报书.docx", "盖章.pdf"), "zip"),
        (zip_with("a.docx", "word/x.txt"), "zip"),
        (corpus.PDF, "pdf"),
        (b"\r\n\x00junk" * 10 + b"%PDF-1.7\n", "pdf"),
        (OLE + "WordDocument".encode("utf-16-le"), "doc"),
        (OLE + "Workbook".encode("utf-16-le"), "xls"),
        (OLE + "PowerPoint Document".encode("utf-16-le"), "ppt"),
        (OLE + "MatOST".encode("utf-16-le"), "wps"),
        (OLE, "doc"),
        (b"{\\rtf1\\ansi\\ansicpg936 \\f0 abc}", "rtf"),
        ('<html xmlns:w="urn:schemas-microsoft-com:office:word"><body>申报书</body></html>'.encode("gbk"), "html_doc"),
        (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n", "html_doc"),
        (b'<?xml version="1.0"?><?mso-application progid="Word.Document"?><w:wordDocument xmlns:w="x"/>', "word2003xml"),
        (b"Rar!\x1a\x07\x01\x00rest", "rar"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (corpus.PNG, "image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image"),
        (b"GIF89a\x01\x00", "image"),
        (b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little") + b"\x00" * 20, "image"),
        (b"II*\x00\x08\x00", "image"),
        ("科普项目申报说明\r\n第一条".encode("gbk"), "text"),
        ("plain utf-8 文本".encode("utf-8"), "text"),
        (b"BMW is a car", "text"),
        (b"", "other"),
        (b"\x00\x01\x02\x03\xff\xfe\xfd" * 50, "other"),
    ],
)
def test_sniff(data, kind):
    assert sniff(data) == kind


@given(st.binary(max_size=4096))
def test_sniff_any_bytes(data):
    assert sniff(data) in KINDS


@given(st.sampled_from([b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF-", b"{\\rtf", b"<html", b"BM", b"RIFF"]), st.binary(max_size=2048))
def test_sniff_magic_prefixed_garbage(prefix, rest):
    assert sniff(prefix + rest) in KINDS


# -- never raises ------------------------------------------------------------------


def check_mail(mail: Mail) -> None:
    assert isinstance(mail, Mail)
    for text in (mail.subject, mail.sender, mail.sender_name, mail.body_text, mail.message_id):
        assert isinstance(text, str) and no_surrogates(text)
    for a in mail.attachments:
        assert no_surrogates(a.filename) and len(a.filename) <= 200
        assert "/" not in a.filename and "\\" not in a.filename and "\x00" not in a.filename
    assert mail.received_at.tzinfo is not None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_parse_mail_any_bytes(data):
    check_mail(parse(data))


HEADER_NAMES = ["From", "Subject", "Date", "Message-ID", "References", "Content-Type", "Content-Disposition",
                "Content-Transfer-Encoding", "Return-Path", "Sender", "Auto-Submitted", "Precedence", "List-Id",
                "X-Auto-Response-Suppress", "In-Reply-To", "MIME-Version"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(corpus.CASES),
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=120)), max_size=6),
    st.integers(min_value=0, max_value=100000),
    st.binary(max_size=40),
)
def test_parse_mail_mutated_headers(case, extra, cut, junk):
    data = case.data()
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for name, value in extra:
        lines.insert(cut % (len(lines) + 1), name.encode() + b": " + value.replace(b"\r\n", b"\r\n "))
    mutated = b"\r\n".join(lines) + sep + body
    # Also splice junk into the body (MIME part headers live there).
    pos = cut % (len(mutated) + 1)
    check_mail(parse(mutated))
    check_mail(parse(mutated[:pos] + junk + mutated[pos:]))


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_decoders_return_text(value):
    for fn in (decode_filename, decode_header):
        out = fn(value)
        assert isinstance(out, str) and no_surrogates(out)
    assert isinstance(find_cloud_links(value if isinstance(value, str) else ""), list)


@given(st.lists(st.sampled_from(["=?gb2312?B?", "=?utf-8?Q?", "?=", "=", "?", " ", "\r\n ", "1uzp", "Rrv5", "=E7", "%BF", "\"", ";", "\\"]), max_size=40))
def test_decoders_on_encoded_word_fragments(pieces):
    value = "".join(pieces)
    assert no_surrogates(decode_filename(value)) and no_surrogates(decode_header(value))


# -- CPython's own test mails ------------------------------------------------------

EMAIL_DATA = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"


@pytest.mark.skipif(not EMAIL_DATA.is_dir(), reason="CPython email test data not installed")
def test_cpython_email_test_data():
    files = sorted(EMAIL_DATA.glob("msg_*.txt"))
    assert files
    for path in files:
        check_mail(parse(path.read_bytes()))


def test_iso_dates_keep_their_offset_and_local_ones_are_beijing_time():
    from datetime import timedelta, timezone

    from pipeline.mime import _local_date

    assert _local_date("2025-06-23T23:30:00-05:00").utcoffset() == timedelta(hours=-5)
    assert _local_date("2025-06-23T15:30:00Z") == _local_date("2025-06-23 23:30")
    assert _local_date("2025-06-23T23:30:00.5+08:00").utcoffset() == timedelta(hours=8)
    assert _local_date("2025年6月23日 23:30").utcoffset() == timedelta(hours=8)
    assert _local_date("2025-06-23 23:30 +0800").astimezone(timezone.utc).hour == 15
