"""parse_mail over the client corpus, file sniffing, and never-raise properties."""
from __future__ import annotations

import base64
import binascii
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
from pipeline.mime import decode_bytes, decode_filename, decode_header, find_cloud_links, parse_mail
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
        ('"C:\\Users\\张三\\Desktop\\申报书.docx"', "申报书.docx"),
        ('"D:/材料/申报书.docx"', "申报书.docx"),
        ('"\\\\server\\share\\申报书.docx"', "申报书.docx"),
        ('"/Users/zhangsan/Desktop/申报书.docx"', "申报书.docx"),
        ('"~/Desktop/申报书.docx"', "申报书.docx"),
        ('"红旗区盖章版6/20定稿.pdf"', "红旗区盖章版6／20定稿.pdf"),
        ('"2025/6/20 申报书.pdf"', "2025／6／20 申报书.pdf"),
        ('"say \\"hi\\".pdf"', 'say "hi".pdf'),
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


def chunked_b64(data: bytes, chunk: int) -> bytes:
    """base64 of each `chunk`-byte read on its own, then cut into 76-character lines
    (a PHP/Java OA's `base64_encode(fread(8191))` loop: padding inside the stream)."""
    text = b"".join(corpus.b64(data[i : i + chunk]).replace(b"\r", b"").replace(b"\n", b"") for i in range(0, len(data), chunk))
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + b"\r\n"


@pytest.mark.parametrize("footer", [b"", b"\r\n-- \r\nScanned by the gateway\r\n"], ids=["plain", "gateway_footer"])
def test_base64_padded_inside_the_stream_keeps_the_whole_file(footer):
    """Non-strict a2b_base64 stops at the first padded quantum: both files were cut after 8191 bytes
    and the applicant was told the PDF and the Word could not be opened."""
    import os

    pdf = corpus.PDF + os.urandom(30_001)
    headers = [("Content-Type", "application/pdf"), ("Content-Disposition", 'attachment; filename="盖章版.pdf"'),
               ("Content-Transfer-Encoding", "base64")]
    mail = parse(corpus.with_files([corpus.part(headers, chunked_b64(pdf, 8191) + footer, encode=False)]))
    (a,) = mail.attachments
    assert a.data == pdf


def test_base64_document_in_the_text_body_stays_text():
    """Only attachments are sniffed: a body that happens to be base64 is text."""
    body = corpus.part([("Content-Type", "text/plain; charset=utf-8")], corpus.b64(corpus.PDF), encode=False)
    mail = parse(corpus.with_files([body]))
    assert mail.attachments == ()


def test_inline_picture_is_not_an_attachment():
    mail = parse(corpus.inline_docx_cid())
    assert [a.kind for a in mail.attachments] == ["docx"]


def test_inline_photos_the_sender_attached_are_files():
    """iOS Mail writes attached photos as inline parts under multipart/mixed: photos, not text decoration."""
    mail = parse(corpus.iphone_inline_photos())
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("IMG_0001.JPG", "image"), ("IMG_0002.JPG", "image")]


def test_an_unnamed_inline_photo_outside_the_html_is_kept():
    picture = corpus.part([("Content-Type", "image/jpeg"), ("Content-Disposition", "inline")], corpus.picture(1224, 1632))
    assert [a.kind for a in parse(corpus.with_files([picture])).attachments] == ["image"]


@pytest.mark.parametrize("pairs, data", [
    # Foxmail: the signature logo as its own part with a Content-ID the HTML does not name.
    ([("Content-Type", 'image/jpeg; name="_Foxmail.1@qq.com.jpg"'), ("Content-ID", "<_Foxmail.1@qq.com>"),
      ("Content-Disposition", 'inline; filename="_Foxmail.1@qq.com.jpg"')], corpus.picture(300, 100)),
    # A plain-text mail with an inline logo.
    ([("Content-Type", 'image/png; name="logo.png"'), ("Content-Disposition", 'inline; filename="logo.png"')],
     corpus.picture(300, 100, "PNG")),
    ([("Content-Type", "image/png"), ("Content-Disposition", "inline")], corpus.PNG),
], ids=["foxmail_logo", "plain_mail_logo", "unnamed_png"])
def test_a_small_inline_picture_the_html_does_not_show_is_no_file(pairs, data):
    """A logo is text decoration wherever it sits: only a photo's size or a camera's name makes a file."""
    mail = parse(corpus.with_files([corpus.part(pairs, data)], text="老师您好，请问经费预算可以超过4000元吗？"))
    assert mail.attachments == ()


def test_pictures_that_belong_to_the_html_are_not_files():
    """Inside multipart/related (even without cid:), or shown by the HTML through cid: from anywhere."""
    html = corpus.text_part('<p>请查收</p><img src="image001.png">', subtype="html")
    located = corpus.part([("Content-Type", 'image/png; name="image001.png"'), ("Content-Location", "image001.png"),
                           ("Content-Disposition", "inline")], corpus.PNG)
    related = corpus.multipart([html, located], boundary="rel-2")
    body = corpus.multipart([corpus.headers([("Content-Type", 'multipart/related; boundary="rel-2"')]) + b"\r\n" + related,
                             corpus.att('attachment; filename="a.pdf"', corpus.PDF)], boundary="mix-2")
    mail = parse(corpus.mail([("Content-Type", 'multipart/mixed; boundary="mix-2"')], body))
    assert [a.kind for a in mail.attachments] == ["pdf"]
    assert [a.kind for a in parse(corpus.html_logo_beside_the_text()).attachments] == ["docx"]


def test_a_page_photographed_into_the_html_text_is_a_file():
    """Apple Mail / iOS put photos inserted in the text inside multipart/related, shown by cid:.
    The iPhone's photo of a page (IMG_0001.JPG, portrait JPEG) is a file sent to us; a logo beside it is not."""
    html = corpus.text_part('<p>盖章页见下</p><img src="cid:photo1"><img src="cid:logo1">', subtype="html")
    photo = corpus.part([("Content-Type", 'image/jpeg; name="IMG_0001.JPG"'), ("Content-ID", "<photo1>"),
                         ("Content-Disposition", 'inline; filename="IMG_0001.JPG"')], corpus.picture(1224, 1632, camera=True))
    logo = corpus.part([("Content-Type", "image/png"), ("Content-ID", "<logo1>"), ("Content-Disposition", "inline")], corpus.PNG)
    related = corpus.multipart([html, photo, logo], boundary="rel-9")
    mail = parse(corpus.mail([("Content-Type", 'multipart/related; boundary="rel-9"')], related))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("IMG_0001.JPG", "image")]


@pytest.mark.parametrize("name, data, ctype", [
    ("IMG_0001.JPG", corpus.picture(600, 800), "image/jpeg"),  # a camera's name, sent at "small" size
    ("IMG_0002.HEIC", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "image/heic"),
    ("微信图片_20250620100000.jpg", corpus.picture(1080, 1440), "image/jpeg"),
    ("image001.jpg", corpus.picture(1632, 1224, camera=True), "image/jpeg"),  # camera EXIF, turned sideways
    ("image001.jpg", corpus.picture(1240, 1754), "image/jpeg"),  # a page's proportions, a megapixel, JPEG
], ids=["iphone_small", "heic", "wechat", "camera_exif", "page_jpeg"])
def test_a_photo_shown_in_the_html_is_a_file(name, data, ctype):
    mail = parse(corpus.html_picture(name, data, ctype))
    assert [(a.filename, a.kind) for a in mail.attachments] == [(name, "image")]


@pytest.mark.parametrize("name, data, ctype", [
    ("image001.png", corpus.picture(1920, 1080, "PNG"), "image/png"),  # a pasted screenshot in a question
    ("image002.png", corpus.picture(1920, 540, "PNG"), "image/png"),  # a 2x signature banner
    ("image002.jpg", corpus.picture(2400, 600), "image/jpeg"),
    ("image003.png", corpus.picture(1000, 1000, "PNG"), "image/png"),
    ("image004.jpg", corpus.picture(1080, 1920), "image/jpeg"),  # a bulletin's poster
    ("image005.png", corpus.picture(1240, 1754, "PNG"), "image/png"),
    ("IMG_0005.PNG", corpus.picture(1170, 2532, "PNG"), "image/png"),  # an iPhone screenshot
], ids=["screenshot_1080p", "banner_png", "banner_jpeg", "square_png", "poster_jpeg", "page_png", "iphone_screenshot"])
def test_a_screenshot_or_banner_shown_in_the_html_is_no_file(name, data, ctype):
    """Pixels alone do not tell a page photo from a screenshot or a banner: a question stays a question."""
    mail = parse(corpus.html_picture(name, data, ctype, text="我们打开模板时提示错误，截图如下"))
    assert mail.attachments == ()
    assert "截图如下" in mail.body_text


def test_a_picture_attached_as_an_attachment_inside_related_is_a_file():
    picture = corpus.att('attachment; filename="盖章页.jpg"'.encode("utf-8"), corpus.photo(3), "image/jpeg")
    related = corpus.multipart([corpus.text_part("<p>见附件</p>", subtype="html"), picture], boundary="rel-3")
    mail = parse(corpus.mail([("Content-Type", 'multipart/related; boundary="rel-3"')], related))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("盖章页.jpg", "image")]


# -- Apple files -------------------------------------------------------------------


def test_apple_resource_forks_are_not_files():
    """The AppleDouble header part (application/applefile, or by its magic under any type) is Finder data."""
    mail = parse(corpus.apple_mail_appledouble())
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]
    fork = corpus.att('attachment; filename="._申报书.docx"'.encode("utf-8"), corpus.apple_file("申报书.docx"))
    assert parse(corpus.with_files([fork])).attachments == ()


def test_an_apple_single_file_is_its_data_fork():
    [a] = parse(corpus.apple_single_file()).attachments
    assert (a.filename, a.kind, a.data) == ("sb.docx", "docx", corpus.DOCX)


def test_a_damaged_apple_single_file_is_kept_for_staff():
    broken = corpus.apple_file("sb.docx", corpus.DOCX)[:40]  # the entry table ends early
    mail = parse(corpus.with_files([corpus.part([("Content-Type", 'application/applefile; name="sb.docx"')], broken)]))
    assert [(a.filename, a.kind, a.data) for a in mail.attachments] == [("sb.docx", "other", broken)]


# -- broken multipart structure ----------------------------------------------------


@pytest.mark.parametrize("ctype", ["multipart/mixed", "multipart/mixed; boundary='b-1'", 'multipart/mixed; boundary="other"',
                                   "multipart/mixed; boundary= ' b-1 ' "])
def test_parts_are_recovered_when_the_boundary_is_missing_or_wrong(ctype):
    body = corpus.multipart([corpus.text_part("请查收附件"), *FILES], boundary="b-1")
    mail = parse(corpus.mail([("Content-Type", ctype)], body))
    assert [a.kind for a in mail.attachments] == ["docx", "pdf"]
    assert "请查收附件" in mail.body_text and mail.problems == ()


def test_a_nested_multipart_without_boundary_is_recovered():
    alt = corpus.multipart([corpus.text_part("正文"), corpus.text_part("<p>正文</p>", subtype="html")], boundary="alt-9")
    body = corpus.multipart([corpus.headers([("Content-Type", "multipart/alternative")]) + b"\r\n" + alt, *FILES], boundary="mix-9")
    mail = parse(corpus.mail([("Content-Type", 'multipart/mixed; boundary="mix-9"')], body))
    assert [a.kind for a in mail.attachments] == ["docx", "pdf"]
    assert mail.body_text == "正文"


@pytest.mark.parametrize("body", [
    "这里本应有附件，但没有分段边界。\r\nUEsDBBQAAAAIAAAAIQ==\r\n",
    "--only-a-dash-line\r\n\r\nno headers follow it\r\n",
])
def test_a_multipart_that_cannot_be_recovered_is_a_finding(body):
    """Staff must open the raw mail: never "no attachment, probably a question" in silence."""
    mail = parse(corpus.mail([("Content-Type", "multipart/mixed")], body.encode("utf-8")))
    assert mail.attachments == ()
    assert [f.code for f in mail.problems] == ["mail_unparseable"]


def test_an_empty_multipart_is_no_problem():
    mail = parse(corpus.mail([("Content-Type", "multipart/mixed")], b"\r\n"))
    assert mail.problems == ()


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


@pytest.mark.parametrize("date", [None, "星期八, 32 十三月 2025 23:30:00 +0800", "garbage"])
def test_missing_or_unreadable_date_falls_back_to_top_received(date):
    mail = parse(corpus.plain(RECEIVED, date=date))
    assert mail.sent_at is None
    assert mail.received_at == datetime(2025, 6, 23, 23, 31, 5, tzinfo=BEIJING)


def test_received_header_overrides_date_but_not_server_time():
    """Our server's Received stamp, not the sender PC's Date, says when a saved mail came."""
    mail = parse(corpus.plain(RECEIVED, date="Mon, 23 Jun 2025 10:00:00 +0800"))
    assert mail.sent_at == datetime(2025, 6, 23, 10, 0, tzinfo=BEIJING)
    assert mail.received_at == datetime(2025, 6, 23, 23, 31, 5, tzinfo=BEIJING)
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


# -- who must not be answered, and who must -----------------------------------------

NOTICE = "【补正通知】新乡市科技志愿服务试点建设申报 - 卫辉市科学技术协会（2025-KJZY-004）"
FILES = [corpus.att('attachment; filename="申报书.docx"'.encode(), corpus.DOCX), corpus.att('attachment; filename="盖章版.pdf"'.encode(), corpus.PDF)]


def text_mail(body: str, **kw) -> bytes:
    return corpus.mail([("Content-Type", "text/plain; charset=utf-8")], body.encode("utf-8"), **kw)


@pytest.mark.parametrize(
    "address",
    ["noreply@cast.org.cn", "no-reply@mail.qq.com", "no_reply@x.cn", "donotreply@xxgov.cn", "do-not-reply@x.cn",
     "do_not_reply@x.cn", "noreply-abc@x.cn", "noreply123@x.cn", "NoReply@X.cn", "system.noreply@x.cn", "no.reply@x.cn"],
)
def test_no_reply_senders_are_not_answered(address):
    mail = parse(corpus.plain(sender=f"平台通知 <{address}>", subject="您的志愿服务试点申报信息已提交"))
    assert mail.no_reply_reason and "不接收回复" in mail.no_reply_reason


@pytest.mark.parametrize("address", ["noreen@x.cn", "norepeat@x.cn", "reply@x.cn", "casino-reply@x.cn", "donot@x.cn", "nuoreply@x.cn"])
def test_look_alike_senders_are_answered(address):
    assert parse(corpus.plain(sender=f"张三 <{address}>", subject="试点申报咨询")).no_reply_reason is None


def test_no_reply_sender_with_files_is_not_answered_but_flagged_for_staff():
    mail = parse(corpus.with_files(FILES, sender="申报平台 <noreply@platform.cn>"))
    assert len(mail.attachments) == 2
    assert mail.no_reply_reason and "请工作人员查看" in mail.no_reply_reason


@pytest.mark.parametrize(
    "subject",
    [
        "邮件投递失败通知：" + NOTICE, "投递失败：" + NOTICE, "无法投递: " + NOTICE, "未送达：" + NOTICE, "发送失败：" + NOTICE,
        "退信：" + NOTICE, "系统退信", "退信通知", "邮件退信 - " + NOTICE, "无法传递: " + NOTICE, "Undeliverable: " + NOTICE,
        "Delivery Status Notification (Failure)", "Mail delivery failed: returning message to sender", "Returned mail: see transcript",
        "已读回执：" + NOTICE, "回执：" + NOTICE, "已读: " + NOTICE, "已读 - " + NOTICE, "已读回执", "Read: " + NOTICE,
        "Not read: " + NOTICE, "阅读回执：" + NOTICE, "Re: 自动回复：" + NOTICE, "回复：自动答复: 申报", "答复: Automatic reply: x",
        "转发：Out of Office: x", "Fwd: 系统退信", "RE：【自动回复】" + NOTICE, "您好【自动回复】", "申报 [Auto-Reply]",
        corpus.enc_word("邮件投递失败通知：" + NOTICE, "gbk"),
    ],
)
def test_bounce_receipt_and_auto_reply_subjects_without_files(subject):
    assert parse(corpus.plain(subject=subject)).no_reply_reason


@pytest.mark.parametrize(
    "subject",
    [
        "卫辉市科协申报材料（联系人下周休假，请联系杨帆）", "（上次被系统退信，现重新发送）卫辉市科协申报材料", "退信重发：申报材料",
        "Re: " + NOTICE, "Re: 【受理回执】新乡市科技志愿服务试点建设申报", "关于申报回执的问题", "为什么没有收到自动回复", "Reading club 申报",
        "已读书目申报", "Readme",
    ],
)
def test_subject_words_inside_a_real_subject_do_not_silence_it(subject):
    assert parse(corpus.plain(subject=subject)).no_reply_reason is None


@pytest.mark.parametrize(
    "subject",
    ["（上次被系统退信，现重新发送）卫辉市科协申报材料", "卫辉市科协申报材料（联系人下周休假，请联系杨帆）", "自动回复：申报材料", "退信：申报材料", "已读回执：申报"],
)
def test_mail_with_application_files_is_never_silenced_by_its_subject(subject):
    mail = parse(corpus.with_files(FILES, subject=subject))
    assert [a.kind for a in mail.attachments] == ["docx", "pdf"]
    assert mail.no_reply_reason is None


@pytest.mark.parametrize("data", [corpus.PNG, b"PK\x05\x06" + b"\x00" * 18], ids=["image", "archive"])
def test_archive_or_image_counts_as_application_files(data):
    """Scans as pictures and zipped forms are applications too: the subject cannot silence them."""
    mail = parse(corpus.with_files([corpus.att('attachment; filename="材料"', data)], subject="自动回复：申报材料"))
    assert mail.no_reply_reason is None


def test_header_signals_still_win_over_files():
    mail = parse(corpus.with_files(FILES, subject="申报材料"))
    assert mail.no_reply_reason is None
    data = corpus.with_files(FILES).replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n", 1)
    got = parse(data).no_reply_reason
    # In words staff read (not the raw header), and asking them to look: the files are not dropped.
    assert got and "自动回复的邮件" in got and "Auto-Submitted" not in got and "请工作人员查看" in got


# -- a forged From is not answered (backscatter) ------------------------------------------
# Authentication-Results as receiving servers write them: 163's as the QA poll saw it, QQ's and
# Gmail's copied from delivered mail, a Postfix server's milters one header per method.

OUR_MX = "Received: from smtp.qq.com (unknown [203.205.221.190]) by mx1.163.com (Coremail) with SMTP id x; Mon, 02 Jun 2025 10:15:03 +0800 (CST)"
FORGED_163 = ("mx.163.com; spf=fail smtp.mailfrom=qq.com; dkim=fail header.d=qq.com;"
              " dmarc=fail (p=QUARANTINE) header.from=qq.com")
QQ_NO_POLICY = "mx.qq.com; spf=none smtp.mailfrom=;\r\n\t dkim=none; dmarc=none(permerror) header.from=solar.sec"
GMAIL_PASS = ("mx.google.com;\r\n       dkim=pass header.i=@gmail.com header.s=20161025 header.b=\"BE9/o/N5\";\r\n"
              "       spf=pass (google.com: domain of alexdeucher@gmail.com designates 209.85.220.65 as permitted sender)"
              " smtp.mailfrom=alexdeucher@gmail.com;\r\n       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com")
GMAIL_FAIL = ("mx.google.com;\r\n       spf=pass (google.com: best guess record for domain of bounces@lists.freedesktop.org"
              " designates 2610:10:20:722:a800:ff:fe36:1795 as permitted sender) smtp.mailfrom=bounces@lists.freedesktop.org;\r\n"
              "       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=intel.com")


def authed(top: list[str], *, below: list[str] = (), files: bool = False, sender: str = "王五 <victim0@qq.com>") -> bytes:
    """A mail as our server stores it: its Authentication-Results on top of what the sender wrote
    (`below`: headers the sender put in the mail, forged ones included)."""
    ours = "".join(f"Authentication-Results: {v}\r\n" for v in top) + OUR_MX + "\r\n"
    theirs = [("Authentication-Results", v) for v in below]
    data = corpus.with_files(FILES, sender=sender) if files else corpus.plain(theirs, sender=sender, subject="咨询试点申报")
    if files and below:
        data = corpus.headers(theirs) + data
    return ours.encode() + data


@pytest.mark.parametrize(
    "own, top, what",
    [
        (corpus.OWN, [FORGED_163], "DMARC"),
        (corpus.OWN, ["mx.163.com; spf=fail smtp.mailfrom=victim0@qq.com; dkim=none"], "SPF"),
        ("kpzx350@qq.com", ["mx.qq.com; spf=fail smtp.mailfrom=victim0@qq.com;\r\n\t dkim=none; dmarc=none(permerror) header.from=qq.com"], "SPF"),
        ("kpzx350@foxmail.com", ["mx.qq.com; spf=pass smtp.mailfrom=qq.com; dkim=fail; dmarc=fail(p=quarantine) header.from=qq.com"], "DMARC"),
        ("kpzx350@gmail.com", [GMAIL_FAIL], "DMARC"),
        # Postfix with opendkim, policyd-spf and opendmarc: one header per method, one above the other.
        ("kp@kx.xinxiang.gov.cn", ["mail.kx.xinxiang.gov.cn; dmarc=fail (p=reject dis=none) header.from=qq.com",
                                   "mail.kx.xinxiang.gov.cn; spf=fail smtp.mailfrom=qq.com"], "DMARC"),
    ],
    ids=["163-dmarc", "163-spf", "qq-spf", "foxmail-dmarc", "gmail-dmarc", "postfix-milters"],
)
def test_a_from_our_server_found_forged_is_not_answered(own, top, what):
    mail = parse_mail(raw(authed(top)), own_addresses=frozenset({own}))
    assert mail.no_reply_reason and "身份验证" in mail.no_reply_reason and f"{what} 未通过" in mail.no_reply_reason
    assert "请工作人员核实" in mail.no_reply_reason


@pytest.mark.parametrize(
    "top",
    [
        "mx.163.com; spf=softfail smtp.mailfrom=xxkx.org.cn; dkim=none; dmarc=none",
        "mx.163.com; spf=neutral smtp.mailfrom=xxkx.org.cn; dkim=none; dmarc=none",
        "mx.163.com; spf=none smtp.mailfrom=xxkx.org.cn; dkim=none; dmarc=none",
        "mx.163.com; spf=temperror smtp.mailfrom=xxkx.org.cn; dkim=temperror; dmarc=temperror",
        "mx.163.com; spf=permerror smtp.mailfrom=xxkx.org.cn; dmarc=permerror",
        "mx.163.com; none",
        # A forwarder or an OA gateway breaks SPF; the unit's own signature still proves the From.
        "mx.163.com; spf=fail smtp.mailfrom=oa.xxgov.cn; dkim=pass header.d=xxkx.org.cn",
        "mx.163.com; spf=fail smtp.mailfrom=oa.xxgov.cn; dmarc=pass header.from=xxkx.org.cn",
        # Words inside a comment or a quoted string are not results.
        'mx.163.com; spf=pass (not dmarc=fail; nor spf=fail) smtp.mailfrom="a;dmarc=fail"@xxkx.org.cn; dmarc=pass',
        # Another server's verdict on top (a copy saved from elsewhere and imported): not ours to trust.
        "mx.evil.cn; spf=fail; dmarc=fail",
        QQ_NO_POLICY,
        GMAIL_PASS,
    ],
)
def test_authentication_results_that_prove_no_forgery_do_not_stop_a_reply(top):
    assert parse(authed([top], sender="办公室 <office@xxkx.org.cn>")).no_reply_reason is None


@pytest.mark.parametrize("top, blocked", [
    # A signature of the forger's own domain proves nothing about the From (QA round 11).
    ("mx.163.com; spf=fail smtp.mailfrom=evil.example; dkim=pass header.d=evil.example", True),
    ("mx.163.com; spf=fail smtp.mailfrom=evil.example; dkim=pass header.i=@mail.xxkx.org.cn", False),
    # A forwarder or list vouching for what it relayed (ARC), and a filter's line between the results.
    ("mx.163.com; spf=fail smtp.mailfrom=lists.example; arc=pass (i=1 spf=pass)", False),
])
def test_only_a_signature_of_the_froms_own_domain_or_a_vouching_relay_outweighs_spf_fail(top, blocked):
    reason = parse(authed([top], sender="办公室 <office@xxkx.org.cn>")).no_reply_reason
    assert ("身份验证" in (reason or "")) is blocked


def test_results_split_by_a_filters_own_header_are_read_together():
    """OpenDKIM writes DKIM-Filter: between the SPF and the DKIM results of our server."""
    ours = ("Authentication-Results: mx.163.com; spf=fail smtp.mailfrom=oa.xxgov.cn\r\n"
            "DKIM-Filter: OpenDKIM Filter v2.11.0 mx.163.com 4bX\r\n"
            "Authentication-Results: mx.163.com; dkim=pass header.d=xxkx.org.cn\r\n" + OUR_MX + "\r\n")
    data = ours.encode() + corpus.plain([], sender="办公室 <office@xxkx.org.cn>", subject="咨询试点申报")
    assert parse(data).no_reply_reason is None


def test_only_the_receiving_servers_topmost_authentication_results_count():
    """A sender may write any Authentication-Results into the mail: below our server's they count for nothing."""
    passed = "mx.163.com; spf=pass smtp.mailfrom=xxkx.org.cn; dkim=pass header.d=xxkx.org.cn; dmarc=pass header.from=xxkx.org.cn"
    assert parse(authed([passed], below=[FORGED_163])).no_reply_reason is None
    forged_pass = "mx.163.com; spf=pass smtp.mailfrom=qq.com; dkim=pass header.d=qq.com; dmarc=pass header.from=qq.com"
    assert "身份验证" in (parse(authed([FORGED_163], below=[forged_pass])).no_reply_reason or "")
    # No own address to compare the authserv-id with: the topmost header alone.
    assert "身份验证" in (parse_mail(raw(authed([FORGED_163], below=[forged_pass]))).no_reply_reason or "")
    assert parse_mail(raw(authed([passed], below=[FORGED_163]))).no_reply_reason is None


def test_forged_from_with_forms_is_kept_for_staff_not_answered():
    mail = parse(authed([FORGED_163], files=True))
    assert [a.kind for a in mail.attachments] == ["docx", "pdf"]
    assert "身份验证" in mail.no_reply_reason and "请工作人员查看" in mail.no_reply_reason


@pytest.mark.parametrize(
    "body",
    [
        "【自动回复】您好！来信已收到，我们将尽快处理。此邮件为系统自动发送，请勿回复。",
        "您好，您的邮件我已收到，我会尽快处理！【这是一封QQ邮箱自动回复邮件】",
        "这是来自QQ邮箱的假期自动回复邮件。您好，我最近正在休假中，无法亲自回复您的邮件。",
        "此邮件为自动回复，您的来信已收到。",
        "这是一封自动回复邮件：本人出差中。",
        "自动回复：您的邮件已收到，我会尽快处理。",
        "您好：\n自动回复: 已收到。",
        "This is an automatic reply. I am out of the office until Monday.",
        "系统通知\n此邮件为系统自动发送，请勿直接回复。",
    ],
)
def test_auto_reply_marked_only_in_the_body(body):
    assert parse(text_mail(body, subject="Re: " + NOTICE)).no_reply_reason


@pytest.mark.parametrize(
    "body",
    [
        "您好，我们收到了贵中心的自动回复：说材料缺少 PDF，请问怎么办？",
        "这次我们没收到自动回复，请确认是否收到申报材料。",
        "您好，附件为申报材料，请查收。" + "正文" * 200 + "【自动回复】",  # far below the top: a quote, not the mail
        "请问申报书模板在哪里下载？",
    ],
)
def test_body_words_of_a_person_do_not_silence_the_mail(body):
    assert parse(text_mail(body, subject="试点申报咨询")).no_reply_reason is None


def test_body_marker_with_application_files_is_answered():
    mail = parse(corpus.with_files(FILES, text="【自动回复】附件为申报材料"))
    assert mail.no_reply_reason is None


def our_notice_with_blank_form(sender: str = "新乡市科协科普中心 <kpzx350@163.com>", extra: tuple = ()) -> bytes:
    """Our correction notice as a gateway returns it: our blank form template attached."""
    blank = corpus.tiny_docx("空白模板")
    return corpus.with_files(
        [corpus.att(f'attachment; filename="{corpus.enc_word("申报书（空白模板）.docx", "utf-8")}"', blank)],
        text="您好！贵单位报送的申报材料已收到……请修改后将 Word 版申报书和加盖单位公章的 PDF 版一并重新发送。",
        sender=sender, subject=corpus.enc_word(NOTICE, "utf-8"), msgid="<intake.1@163.com>",
    ).replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in extra), 1)


def carrying(inner: bytes, *, subject: str, sender: str = "系统管理员 <sysadmin@xxgov.cn>", files: list[bytes] = ()) -> bytes:
    """A multipart/mixed mail with `inner` attached as message/rfc822 (Coremail and government gateways)."""
    body = corpus.multipart(
        [corpus.text_part("您发送的邮件未能成功投递到以下收件人：zhangsan@xxgov.cn\n原因：收件人邮箱已满。\n原邮件见附件。", "gbk"),
         corpus.headers([("Content-Type", "message/rfc822")]) + b"\r\n" + inner, *files],
        boundary="outer-2",
    )
    return corpus.mail([("Content-Type", 'multipart/mixed; boundary="outer-2"')], body, sender=sender, subject=subject)


def test_bounce_carrying_our_reply_back_has_no_applicant_files():
    mail = parse(carrying(our_notice_with_blank_form(), subject=corpus.enc_word("邮件投递失败通知：" + NOTICE, "gbk")))
    assert mail.attachments == ()
    assert mail.no_reply_reason
    assert "贵单位报送的申报材料已收到" not in mail.body_text  # our own words are not the sender's


def test_mail_carrying_our_own_mail_back_without_files_is_not_answered():
    """Whatever the subject says: a gateway's bounce that returns our mail is no applicant."""
    mail = parse(carrying(our_notice_with_blank_form(), subject="Mail failure"))
    assert mail.attachments == ()
    assert mail.no_reply_reason and "本邮箱发出" in mail.no_reply_reason


def test_own_mail_inside_is_ours_only_when_the_address_is_configured():
    data = carrying(our_notice_with_blank_form(), subject="Mail failure")
    assert [a.kind for a in parse_mail(raw(data)).attachments] == ["docx"]


def test_applicant_files_next_to_our_quoted_mail_still_count():
    """An applicant who attaches our notice and their files: their files, not our template."""
    mail = parse(carrying(our_notice_with_blank_form(), subject="回复：" + NOTICE, sender="杨帆 <yf@163.com>", files=FILES))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]
    assert mail.no_reply_reason is None


def forward_of_our_reply(text: str, *, sender: str = "张三 <zhangsan@qq.com>", subject: str = "请问是否需要邮寄纸质版",
                         as_file: bool = False) -> bytes:
    """Our reply to `sender`, forwarded back to us as an attachment (QQ 作为附件转发, Outlook 以附件形式转发)."""
    ours = corpus.with_files([], text="贵单位报送的申报材料已受理。", sender="新乡市科协科普中心 <kpzx350@163.com>",
                             subject=corpus.enc_word("【受理回执】申报", "utf-8"), msgid="<intake.2@163.com>", to="zhangsan@qq.com")
    attached = (corpus.att('attachment; filename="受理回执.eml"'.encode("utf-8"), ours) if as_file
                else corpus.headers([("Content-Type", "message/rfc822"), ("Content-Disposition", 'attachment; filename="receipt.eml"')]) + b"\r\n" + ours)
    parts = ([corpus.text_part(text)] if text else []) + [attached]
    return corpus.mail([("Content-Type", 'multipart/mixed; boundary="fw-1"')], corpus.multipart(parts, boundary="fw-1"),
                       sender=sender, subject=corpus.enc_word(subject, "utf-8"))


@pytest.mark.parametrize("as_file", [False, True])
def test_a_person_forwarding_our_reply_with_a_question_is_no_bounce(as_file):
    mail = parse(forward_of_our_reply("您好，附件是贵中心发来的受理回执。请问是否还需要邮寄纸质盖章版？", as_file=as_file))
    assert mail.no_reply_reason is None
    assert mail.attachments == ()  # our mail is still not the sender's files
    assert "请问是否还需要邮寄纸质盖章版" in mail.body_text


@pytest.mark.parametrize("text, kw", [
    ("", {}),  # nothing of the sender's own
    ("您发送的邮件未能成功投递到以下收件人：zhangsan@qq.com", {}),  # a bounce's words
    ("请问是否还需要邮寄纸质盖章版？", {"sender": "系统管理员 <sysadmin@qq.com>"}),  # not whom we wrote to: a gateway
    ("请问是否还需要邮寄纸质盖章版？", {"subject": "退信：受理回执"}),
])
def test_our_reply_coming_back_with_a_bounce_sign_is_not_answered(text, kw):
    mail = parse(forward_of_our_reply(text, **kw))
    assert mail.no_reply_reason


def test_forwarded_bounce_of_an_applicants_own_mail_keeps_their_files():
    """An applicant forwards the bounce of their mail to a wrong address: their files are an application."""
    theirs = corpus.with_files(FILES, sender="杨帆 <yf@163.com>")
    mail = parse(carrying(theirs, subject="转发：系统退信", sender="杨帆 <yf@163.com>"))
    assert [a.kind for a in mail.attachments] == ["docx", "pdf"]
    assert mail.no_reply_reason is None


def test_large_attachment_phrase_of_any_provider():
    mail = parse(text_mail("从搜狐邮箱发来的超大附件\n盖章版.pdf (40M)\nhttps://mail.sohu.com/fa/xyz"))
    assert [f.code for f in mail.problems] == ["attachment_link_only"]


@pytest.mark.parametrize("body", [
    "张三\n新乡市红旗区科协\n个人云盘：https://caiyun.139.com/ 手机邮箱：http://mail.10086.cn/",
    "Sent from iCloud https://www.icloud.com/ · 阿里邮箱 https://qiye.aliyun.com/ · https://mail.sina.com.cn/",
    "您好！贵单位的邮件以“超大附件/云附件”链接形式发送了文件，链接会过期。",  # our own notice, quoted back
])
def test_ordinary_links_and_our_quoted_notice_are_no_cloud_attachment(body):
    mail = parse(text_mail(body))
    assert mail.problems == () and find_cloud_links(mail.body_text) == []


@pytest.mark.parametrize("text", [
    "老师好：上次从单位邮箱发来的超大附件已经过期，现将盖章PDF作为普通附件重新发送，请查收。",
    "从QQ邮箱发来的超大附件打不开的话请告诉我，盖章PDF这次直接附上。",
    "我先用 Mail Drop 试过，没有发出去，这次直接附上盖章PDF。",
    "Sent with Mail Drop\n张三 新乡市红旗区科协 https://www.hqq.gov.cn/kx/index.html",
], ids=["unit_mailbox_resend", "qq_phrase_without_link", "mail_drop_in_prose", "mail_drop_in_signature"])
def test_a_cloud_phrase_without_a_download_link_is_no_link_only_mail(text):
    """Only a download link means the file did not come: the phrase alone is an applicant's own sentence."""
    mail = parse(corpus.with_files([corpus.att('attachment; filename="盖章版.pdf"'.encode(), corpus.PDF)], text=text))
    assert [a.kind for a in mail.attachments] == ["pdf"]
    assert mail.problems == ()
    assert mail.problems == parse(text_mail(text)).problems


def test_a_cloud_link_only_in_the_html_is_found_once():
    """Webmail writes the phrase in both texts but the link only in the HTML."""
    far = "申报材料，请查收。" * 40  # the plain text's phrase is far from where the link is added
    plain = corpus.text_part("从搜狐邮箱发来的超大附件\r\n盖章版.pdf\r\n" + far)
    html = corpus.text_part('<div>从搜狐邮箱发来的超大附件</div><a href="https://mail.sohu.com/fa/xyz">盖章版.pdf</a>', subtype="html")
    mail = parse(corpus.mail([("Content-Type", 'multipart/alternative; boundary="alt-s"')], corpus.multipart([plain, html], boundary="alt-s")))
    assert [f.code for f in mail.problems] == ["attachment_link_only"]
    assert find_cloud_links(mail.body_text) == ["https://mail.sohu.com/fa/xyz"]
    exmail = parse(corpus.exmail_large_attachment()).body_text
    assert exmail.count("从腾讯企业邮箱发来的超大附件") == 1 and exmail.count("https://wx.mail.qq.com/") == 1


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


def test_a_persons_signature_saying_do_not_reply_is_not_an_auto_reply():
    """'请勿直接回复' in an office signature is no machine's mark; '此邮件为系统自动发送' is."""
    from pipeline.mime import AUTO_BODY

    assert not AUTO_BODY.search("盖章版能否下周一发送？\n--\n王明 新乡市某局（本邮箱请勿直接回复，请致电）")
    assert AUTO_BODY.search("系统通知\n此邮件为系统自动发送，请勿直接回复。")


def test_the_receiving_servers_stamp_decides_over_the_senders_clock():
    from datetime import datetime, timedelta, timezone

    from pipeline.mime import arrival_time, call_opened

    cst = timezone(timedelta(hours=8))
    stamp = datetime(2025, 6, 21, 9, tzinfo=cst)
    now = datetime(2025, 7, 1, tzinfo=cst)
    opened = call_opened("2025-06-18")
    assert opened == datetime(2025, 6, 18, tzinfo=cst)
    assert arrival_time(datetime(2030, 6, 21, 9, tzinfo=cst), stamp, now) == stamp  # a sender's clock in 2030
    assert arrival_time(datetime(2005, 6, 21, 9, tzinfo=cst), stamp, now) == stamp
    assert arrival_time(stamp - timedelta(minutes=3), stamp, now) == stamp  # even minutes apart: the stamp
    assert arrival_time(datetime(2030, 1, 1, tzinfo=cst), None, now) == now  # future, nothing better: import time
    assert arrival_time(None, stamp, now) == stamp and arrival_time(None, None, now) == now
    sent = stamp - timedelta(minutes=3)
    assert arrival_time(sent, None, now, opened) == sent  # no stamp: the Date
    # A stamp that cannot be (future, before the notice date) gives way to a Date that can.
    assert arrival_time(sent, datetime(2030, 1, 1, tzinfo=cst), now, opened) == sent
    assert arrival_time(sent, datetime(2025, 6, 1, tzinfo=cst), now, opened) == sent
    assert arrival_time(datetime(2025, 6, 1, tzinfo=cst), None, now, opened) == now
    assert call_opened("2025-13-01") is None and call_opened(None) is None


# -- QA round 3: other producers -----------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "星期一, 23 六月 2025 23:30:00 +0800",  # a Chinese-locale strftime('%a, %d %b %Y ...')
        "周一, 23 6月 2025 23:30:00 +0800",
        "週一, 23 六月 2025 23:30:00 +0800",
        "23 六月 2025 23:30:00 +0800",
        "2025年6月23日 星期一 下午11:30",
    ],
)
def test_chinese_month_and_weekday_names_in_date(date):
    assert parse(corpus.plain(date=date)).sent_at == datetime(2025, 6, 23, 23, 30, tzinfo=BEIJING)


def test_chinese_month_names_up_to_twelve():
    assert parse(corpus.plain(date="星期日, 1 十二月 2025 08:00:00 +0800")).sent_at == datetime(2025, 12, 1, 8, tzinfo=BEIJING)
    assert parse(corpus.plain(date="星期二, 11 十一月 2025 08:00:00 +0800")).sent_at == datetime(2025, 11, 11, 8, tzinfo=BEIJING)


def forwarded(inner_part: bytes) -> bytes:
    body = corpus.multipart([corpus.text_part("转发申报材料，请查收"), inner_part], boundary="outer-3")
    return corpus.mail([("Content-Type", 'multipart/mixed; boundary="outer-3"')], body, sender="转发人 <fwd@example.cn>")


def test_forwarded_mail_in_base64_keeps_its_files():
    """Exchange and some webmails base64-encode a message/rfc822 part (RFC 2046 forbids it, they do it)."""
    inner = corpus.with_files(FILES, sender="原发件人 <orig@example.cn>")
    mail = parse(forwarded(corpus.part([("Content-Type", "message/rfc822"), ("Content-Disposition", 'attachment; filename="fw.eml"')], inner)))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]
    assert "RnJvbT" not in mail.body_text  # the encoded mail is not text of the sender's


def test_saved_mail_attached_as_a_file_keeps_its_files():
    """QQ Mail's 作为附件转发 and Outlook's saved .eml arrive as application/octet-stream."""
    inner = corpus.with_files(FILES, sender="原发件人 <orig@example.cn>")
    name = corpus.enc_word("红旗区科协申报材料.eml", "gb18030")
    mail = parse(forwarded(corpus.att(f'attachment; filename="{name}"', inner)))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


@pytest.mark.parametrize("disposition", ['attachment; filename="ATT00001.bin"', "attachment", 'attachment; filename="申报材料"'])
def test_a_saved_mail_attached_without_the_eml_name_keeps_its_files(disposition):
    """Some gateways and phone clients attach a forwarded mail as application/octet-stream named
    ATT00001.bin, with no name at all or a name without .eml: its Word and PDF were lost."""
    inner = corpus.with_files(FILES, sender="原发件人 <orig@example.cn>")
    mail = parse(forwarded(corpus.att(disposition, inner)))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


def test_a_text_file_with_header_like_lines_is_no_mail():
    """Only a header block a mail has (From/Date/Subject or MIME-Version with a Content-Type)
    opens a nameless file as a mail; notes with a "Subject:" line stay a file."""
    notes = "Subject: 会议纪要\n今天讨论了试点申报。\n".encode("utf-8")
    mail = parse(forwarded(corpus.att('attachment; filename="纪要"', notes)))
    assert [a.kind for a in mail.attachments] == ["text"]


def test_a_text_file_named_eml_that_is_no_mail_stays_a_file():
    mail = parse(forwarded(corpus.att('attachment; filename="notes.eml"', "只是一些文字，没有邮件头。".encode("utf-8"))))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("notes.eml", "text")]


def test_a_bounce_returning_our_reply_as_an_eml_file_is_not_answered():
    """Gateways and 作为附件转发 send our mail back as application/octet-stream .eml: our
    blank form inside is no applicant's Word, and the bounce gets no reply."""
    mail = parse(forwarded(corpus.att('attachment; filename="原邮件.eml"', our_notice_with_blank_form())))
    assert mail.attachments == ()
    assert mail.no_reply_reason and "本邮箱发出" in mail.no_reply_reason


def test_applicant_files_next_to_our_reply_as_an_eml_file_still_count():
    files = [*FILES, corpus.att('attachment; filename="补正通知.eml"', our_notice_with_blank_form())]
    body = corpus.multipart([corpus.text_part("补正材料见附件"), *files], boundary="outer-4")
    mail = parse(corpus.mail([("Content-Type", 'multipart/mixed; boundary="outer-4"')], body, sender="杨帆 <yf@163.com>"))
    assert [(a.filename, a.kind) for a in mail.attachments] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]
    assert mail.no_reply_reason is None


@pytest.mark.parametrize(
    "sender, reply_to, expect_sender, expect_reply_to",
    [
        # An OA gateway writing for a person: the person wrote, and is answered.
        ("区政务OA <noreply@oa.hqq.gov.cn>", "王五 <wangwu@163.com>", "wangwu@163.com", ""),
        # A shared office mailbox: the office wrote, answers go where asked.
        ("区科协办公室 <office@hqq.gov.cn>", "wangwu@163.com", "office@hqq.gov.cn", "wangwu@163.com"),
        # Reply-To of no use: the sender itself, our own mailbox, a machine, no address at all.
        ("office@hqq.gov.cn", "Office <OFFICE@hqq.gov.cn>", "office@hqq.gov.cn", ""),
        ("office@hqq.gov.cn", corpus.OWN, "office@hqq.gov.cn", ""),
        ("office@hqq.gov.cn", "no-reply@hqq.gov.cn", "office@hqq.gov.cn", ""),
        ("office@hqq.gov.cn", "王五", "office@hqq.gov.cn", ""),
        # Role, list and bounce mailboxes a client or a list puts there: nobody reads our answer there.
        ("李晓燕 <hqqkx2025@163.com>", "kpzx-list@googlegroups.com", "hqqkx2025@163.com", ""),
        ("李晓燕 <hqqkx2025@163.com>", "bounce-12345@mail.hqq.gov.cn", "hqqkx2025@163.com", ""),
        ("李晓燕 <hqqkx2025@163.com>", "admin@hqq.gov.cn", "hqqkx2025@163.com", ""),
        # A person's own plus tag is still the person.
        ("office@hqq.gov.cn", "wangwu+kpzx@163.com", "office@hqq.gov.cn", "wangwu+kpzx@163.com"),
    ],
)
def test_reply_to_names_who_is_answered(sender, reply_to, expect_sender, expect_reply_to):
    m = parse(corpus.plain([("Reply-To", reply_to)], sender=sender, subject="试点申报材料"))
    assert (m.sender, m.reply_to) == (expect_sender, expect_reply_to)
    assert m.no_reply_reason is None
    if expect_sender == "wangwu@163.com":
        assert m.sender_name == "王五"


def test_a_no_reply_sender_without_a_person_to_answer_stays_unanswered():
    assert parse(corpus.plain([("Reply-To", "noreply@oa.hqq.gov.cn")], sender="noreply@oa.hqq.gov.cn")).no_reply_reason


@pytest.mark.parametrize("reply_to", [
    "admin@oa.hqq.gov.cn", "Administrator@hqq.gov.cn", "京东客服 <service@jd.com>", "support@x.cn", "system@oa.x.cn",
    "info@x.cn", "webmaster@x.cn", "notice@x.cn", "notify@x.cn", "bounces@x.cn", "bounce-12345@x.cn",
    "bounce+7a3f9c=hqq.gov.cn@x.cn", "return-8891@x.cn", "listserv@x.cn", "owner-kpzx@x.cn", "kpzx-request@x.cn",
    "kpzx-list@googlegroups.com", "kpzx@lists.x.cn", "msg+a1b2c3d4e5f6a7b8@x.cn", "SRS0=ab12=cd=hqq.gov.cn=li@x.cn",
])
def test_a_no_reply_sender_with_a_role_or_machine_reply_to_stays_unanswered(reply_to):
    """An OA 待办提醒 or a shop notice is a machine's mail: only a person's Reply-To makes it a person's."""
    m = parse(corpus.plain([("Reply-To", reply_to)], sender="OA系统 <noreply@oa.hqq.gov.cn>", subject="待办提醒：科技志愿服务试点申报通知"))
    assert (m.sender, m.reply_to) == ("noreply@oa.hqq.gov.cn", "")
    assert m.no_reply_reason and "不接收回复" in m.no_reply_reason


@pytest.mark.parametrize("value, expected", [
    ('"li xiaoyan"@example.com', '"li xiaoyan"@example.com'),
    ('李晓燕 <"Li Xiaoyan"@Example.com>', '"li xiaoyan"@example.com'),
    ("li xiao yan@example.com", "lixiaoyan@example.com"),  # no quotes: spaces are no part of it
])
def test_spaces_inside_a_quoted_local_part_are_kept(value, expected):
    """RFC 5322 allows "li xiaoyan"@example.com: without the space it is another mailbox."""
    assert mime.parse_address(value)[1] == expected


@pytest.mark.parametrize("junk", ["\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\t", "\u200b", "\u202e"])
def test_an_address_never_breaks_a_to_header(junk):
    """Control, format and line-breaking characters go, inside quotes too: the address becomes a To: header."""
    assert mime._address(f'"li{junk}xiaoyan"@example.com') == '"lixiaoyan"@example.com'
    assert mime._address(f"li{junk}xiaoyan@example.com") == "lixiaoyan@example.com"


def test_a_quoted_local_part_with_spaces_reaches_the_sender():
    data = corpus.plain(sender='"li xiaoyan"@example.com', subject="申报材料")
    assert parse(data).sender == '"li xiaoyan"@example.com'


def uuencode(name: bytes, data: bytes, backtick: bool) -> bytes:
    lines = [binascii.b2a_uu(data[i : i + 45], backtick=backtick).rstrip(b"\n") for i in range(0, len(data), 45)]
    return b"begin 644 " + name + b"\r\n" + b"\r\n".join(lines) + b"\r\n" + (b"`" if backtick else b" ") + b"\r\nend\r\n"


@pytest.mark.parametrize("backtick", [False, True])
def test_uuencoded_files_in_a_text_body_are_files(backtick):
    """Outlook Express / old Foxmail put files as begin…end blocks in the text: they were lost,
    the sender got 来信收到 ('邮件中没有附件') and staff read the encoded noise as the question."""
    body = ("您好，附件为申报材料，请查收。\r\n\r\n".encode("gb2312")
            + uuencode("红旗区科协申报书.docx".encode("gbk"), corpus.DOCX, backtick)
            + uuencode(b"gz.pdf", corpus.PDF, backtick) + "李晓燕\r\n".encode("gb2312"))
    data = (b"From: a@hqq.gov.cn\r\nTo: kpzx350@163.com\r\nSubject: =?gb2312?B?" + base64.b64encode("申报材料".encode("gb2312"))
            + b"?=\r\nDate: Fri, 20 Jun 2025 10:00:00 +0800\r\nMessage-ID: <uu-1@hqq.gov.cn>\r\nX-Mailer: Microsoft Outlook Express 6.00.2900.5512\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n\tcharset=\"gb2312\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)
    mail = parse(data)
    assert [(a.filename, a.kind, a.data) for a in mail.attachments] == [
        ("红旗区科协申报书.docx", "docx", corpus.DOCX), ("gz.pdf", "pdf", corpus.PDF)]
    assert "begin 644" not in mail.body_text and "请查收" in mail.body_text and "李晓燕" in mail.body_text


def test_text_that_only_looks_like_uuencode_stays_text():
    body = "会议安排：\r\nbegin 644 是权限\r\n这不是编码\r\nend\r\n".encode("utf-8")
    data = (b"From: a@hqq.gov.cn\r\nTo: kpzx350@163.com\r\nSubject: q\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body)
    mail = parse(data)
    assert mail.attachments == () and "这不是编码" in mail.body_text


def test_an_rfc2231_name_cut_inside_a_percent_triple_is_read_whole():
    """Some mailers split filename*0*/filename*1* inside a %XX triple: the name came out as mojibake
    with a stray '%E6' (and, for a .docx, a name staff could not read)."""
    name = "申报书（盖章版）.pdf"
    enc = "".join("%%%02X" % b for b in name.encode("utf-8"))
    disposition = f"attachment;\r\n filename*0*=utf-8''{enc[:10]};\r\n filename*1*={enc[10:]}"
    mail = parse(forwarded(corpus.att(disposition, b"%PDF-1.4\n%%EOF\n", ctype="application/pdf")))
    assert [a.filename for a in mail.attachments] == [name]


def test_a_name_of_question_marks_yields_to_the_real_one_on_content_type():
    """Java/PHP OA mailers that lose the charset write filename="????.docx" while Content-Type
    still carries name="=?GBK?B?…?=": receipts and staff showed "????????.docx"."""
    real = "红旗区科协申报书.docx"
    encoded = "=?GBK?B?" + base64.b64encode(real.encode("gbk")).decode() + "?="
    part = corpus.part([("Content-Type", f'application/octet-stream; name="{encoded}"'),
                        ("Content-Disposition", 'attachment; filename="????????.docx"')], corpus.DOCX)
    mail = parse(forwarded(part))
    assert [a.filename for a in mail.attachments] == [real]


def test_utf8_bytes_under_a_gb2312_label_are_read_as_utf8():
    """PHP's "=?GB2312?B?".base64_encode($utf8): the names decoded as GB18030 into 绾㈡棗鍖虹…"""
    real = "红旗区科协申报书.docx"
    encoded = "=?GB2312?B?" + base64.b64encode(real.encode("utf-8")).decode() + "?="
    mail = parse(forwarded(corpus.att(f'attachment; filename="{encoded}"', corpus.DOCX)))
    assert [a.filename for a in mail.attachments] == [real]
    # GBK text stays GBK, the famous short cases included.
    for text in ("联通", "新乡市红旗区科学技术协会申报书"):
        assert decode_bytes(text.encode("gbk"), "gb2312") == text


def test_a_server_time_well_after_the_delivery_stamp_is_noted_for_staff_only():
    """A mail a client dragged out and put back gets INTERNALDATE = now: it could be judged late
    though 163 stamped it on time. The server's time still decides; staff get a note."""
    server = datetime(2025, 6, 25, 9, 0, tzinfo=BEIJING)  # the stamp in RECEIVED is 6-23 23:31
    mail = parse(corpus.plain(RECEIVED, date="Mon, 23 Jun 2025 23:30:00 +0800"), received_at=server)
    assert mail.received_at == server
    (note,) = [f for f in mail.problems if f.code == "arrival_doubt"]
    assert note.staff_only and "2025-06-23 23:31" in note.message and "2025-06-25 09:00" in note.message
    close = parse(corpus.plain(RECEIVED, date=None), received_at=datetime(2025, 6, 23, 23, 35, tzinfo=BEIJING))
    assert not [f for f in close.problems if f.code == "arrival_doubt"]


@pytest.mark.parametrize("label", ["base64 (encoded by OA)", '"base64"', "(gateway) BASE64", "base64 ;"])
def test_a_transfer_encoding_with_a_comment_or_quotes_is_base64(label):
    """RFC 2045 allows comments in the header; an OA system writes `base64 (encoded by OA)`."""
    headers = [("Content-Type", "application/pdf"), ("Content-Disposition", 'attachment; filename="申报书.pdf"'),
               ("Content-Transfer-Encoding", label)]
    mail = parse(corpus.with_files([corpus.part(headers, corpus.b64(corpus.PDF), encode=False)]))
    (a,) = mail.attachments
    assert (a.filename, a.kind, a.data) == ("申报书.pdf", "pdf", corpus.PDF)


def test_a_mail_with_cr_cr_lf_line_ends_keeps_its_files():
    """A text-mode transfer writes CR CR LF: the parser took every header line for a header
    block of its own and the mail for one body (no attachment, and no problem recorded)."""
    data = corpus.with_files([corpus.att('attachment; filename="申报书.pdf"', corpus.PDF, "application/pdf"),
                              corpus.att('attachment; filename="申报书.docx"', corpus.DOCX)])
    plain = parse(data)
    doubled = parse(data.replace(b"\r\n", b"\r\r\n"))
    assert [(a.filename, a.data) for a in doubled.attachments] == [(a.filename, a.data) for a in plain.attachments]
    assert len(plain.attachments) == 2 and doubled.subject == plain.subject and doubled.sender == plain.sender
