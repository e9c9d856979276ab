"""Committed generator of test mails, one per form Chinese clients really send.

Each builder returns raw RFC 5322 bytes written by hand (not by the email
package), so header forms that the stdlib would never produce (encoded-words
inside quotes, raw 8-bit GBK, characters split across words) are exact.
`CASES` pairs every mail with what `parse_mail` must make of it.
"""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass, field

OWN = "kpzx350@163.com"


def tiny_docx(text: str = "科普项目申请表") -> bytes:
    """A minimal valid .docx (a ZIP holding word/document.xml), deterministic."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in (
            ("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
            ("word/document.xml", f'<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'),
        ):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2025, 6, 1, 0, 0, 0)), body.encode("utf-8"))
    return buf.getvalue()


DOCX = tiny_docx()
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 16
DOCX_SHA = hashlib.sha256(DOCX).hexdigest()
PDF_SHA = hashlib.sha256(PDF).hexdigest()

B = "b0undary-0001"


def b64(data: bytes) -> bytes:
    raw = base64.b64encode(data)
    return b"\r\n".join(raw[i:i + 76] for i in range(0, len(raw), 76))


def enc_word(text: str, charset: str = "gb2312") -> str:
    """One RFC 2047 B encoded-word; GB labels are written with GBK bytes as clients do."""
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk", "gb18030", "cp936", "x-gbk") else charset
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def headers(pairs: list[tuple[str, str | bytes]]) -> bytes:
    out = b""
    for name, value in pairs:
        out += name.encode() + b": " + (value if isinstance(value, bytes) else value.encode("utf-8")) + b"\r\n"
    return out


def part(pairs: list[tuple[str, str | bytes]], payload: bytes, *, encode: bool = True) -> bytes:
    if encode:
        pairs = pairs + [("Content-Transfer-Encoding", "base64")]
        payload = b64(payload)
    return headers(pairs) + b"\r\n" + payload + b"\r\n"


def multipart(parts: list[bytes], boundary: str = B) -> bytes:
    body = b"This is a multi-part message in MIME format.\r\n\r\n"
    for p in parts:
        body += b"--" + boundary.encode() + b"\r\n" + p
    return body + b"--" + boundary.encode() + b"--\r\n"


def mail(
    top: list[tuple[str, str | bytes]],
    body: bytes,
    *,
    sender: str | bytes = "张三 <zhangsan@example.cn>",
    subject: str | bytes = "科普项目申报材料",
    date: str | None = "Mon, 02 Jun 2025 10:15:00 +0800",
    msgid: str | None = "<20250602101500.1@example.cn>",
    to: str = OWN,
) -> bytes:
    base: list[tuple[str, str | bytes]] = [("From", sender), ("To", to), ("Subject", subject)]
    if date:
        base.append(("Date", date))
    if msgid:
        base.append(("Message-ID", msgid))
    base.append(("MIME-Version", "1.0"))
    return headers(base + top) + b"\r\n" + body


def text_part(text: str, charset: str = "utf-8", subtype: str = "plain") -> bytes:
    codec = "gb18030" if charset in ("gb2312", "gbk", "gb18030") else charset
    return part([("Content-Type", f"text/{subtype}; charset={charset}")], text.encode(codec))


def with_files(files: list[bytes], text: str = "您好，附件为申报材料，请查收。", **kw) -> bytes:
    return mail([("Content-Type", f'multipart/mixed; boundary="{B}"')], multipart([text_part(text)] + files), **kw)


def att(disposition: str, data: bytes, ctype: str = "application/octet-stream") -> bytes:
    """An attachment part whose Content-Disposition value is given verbatim."""
    return part([("Content-Type", ctype), ("Content-Disposition", disposition)], data)


# -- client forms -------------------------------------------------------------------


def outlook_gb2312() -> bytes:
    """Outlook (Chinese Windows): gb2312 encoded-words inside quotes, GBK-only chars."""
    return with_files(
        [
            att('attachment;\r\n\tfilename="=?gb2312?B?1uzpRrv5hrSraC5kb2N4?="', DOCX),
            att(f'attachment; filename="{enc_word("科普中心申报书（盖章）.pdf")}"', PDF, "application/pdf"),
        ],
        sender=f'"{enc_word("朱镕基")}" <ZhuRJ@Example.CN>',
        subject=enc_word("朱镕基喆玥的申报材料"),
    )


def qq_gb18030_name() -> bytes:
    """QQ Mail: the name only on Content-Type, gb18030 label."""
    return with_files(
        [
            part([("Content-Type", 'application/octet-stream;\r\n\tcharset="gb18030";\r\n\tname="=?gb18030?B?1tDOxLLiytQuZG9jeA==?="'),
                  ("Content-Disposition", "attachment")], DOCX),
        ],
        sender="=?gb18030?B?1tDOxA==?= <12345@qq.com>",
    )


def foxmail_split_char() -> bytes:
    """Foxmail: a character split across two gbk encoded-words."""
    return with_files(
        [att('attachment;\r\n\tfilename="=?gbk?B?v8bG1c8=?=\r\n =?gbk?B?7sS/yerH67HtLmRvY3g=?="', DOCX)],
        subject="=?gbk?B?v8bG1c8=?= =?gbk?B?7sS/yerH67Ht?=",
    )


def notes_vector_txt() -> bytes:
    """The FIELD-NOTES vector with a space in the name (新建 文本文档.txt)."""
    return with_files([att('attachment; filename="=?gb2312?B?0MK9qCDOxLG+zsS1tS50eHQ=?="', b"hello\r\n", "text/plain")])


def rfc2231_gbk() -> bytes:
    """RFC 2231 with a gbk charset (FIELD-NOTES vector)."""
    return with_files([att("attachment; filename*=gbk''%BF%C6%C6%D5%CF%EE%C4%BF%C9%EA%C7%EB%B1%ED.docx", DOCX)])


def thunderbird_rfc2231_continuations() -> bytes:
    """Thunderbird: RFC 2231 continuations, one UTF-8 character split across segments."""
    encoded = "".join(f"%{b:02X}" for b in "科普项目申请表（盖章版）.pdf".encode("utf-8"))
    cut1, cut2 = 33, 48  # both cuts fall inside a character
    segs = [encoded[:cut1], encoded[cut1:cut2], encoded[cut2:]]
    disposition = "attachment;\r\n " + ";\r\n ".join(
        (f"filename*0*=UTF-8''{s}" if i == 0 else f"filename*{i}*={s}") for i, s in enumerate(segs)
    )
    return with_files([att(disposition, PDF, "application/pdf")], sender="Li Si <lisi@example.org>")


def raw_8bit_gbk() -> bytes:
    """Raw GBK bytes in the headers; 誠 has 0x5C (a backslash) as its second byte."""
    name = "誠信承诺书.docx".encode("gbk")
    return with_files(
        [part([("Content-Type", b'application/msword; name="' + name + b'"'),
               ("Content-Disposition", b'attachment; filename="' + name + b'"')], DOCX)],
        sender="王珺 <wangjun@example.cn>".encode("gbk"),
        subject="堃玥科普申报".encode("gbk"),
    )


def raw_8bit_utf8() -> bytes:
    """Raw UTF-8 bytes in the headers (RFC 6532 style)."""
    return with_files(
        [att('attachment; filename="科普项目申请表.docx"'.encode("utf-8"), DOCX)],
        sender="李堃 <likun@example.cn>".encode("utf-8"),
        subject="科普项目申报".encode("utf-8"),
    )


def unquoted_encoded_word() -> bytes:
    """Encoded-words without quotes (old Foxmail, some web forms)."""
    return with_files([att("attachment; filename==?gb2312?B?1uzpRrv5hrSraC5kb2N4?=", DOCX)])


def split_words_utf8_q() -> bytes:
    """Q-encoded UTF-8 name in two words, the split inside a character."""
    raw = "申报书.pdf".encode("utf-8")
    q = "".join(f"={b:02X}" if b > 127 else chr(b) for b in raw)
    return with_files([att(f'attachment; filename="=?utf-8?Q?{q[:12]}?= =?UTF-8?Q?{q[12:]}?="', PDF, "application/pdf")])


def inline_docx_cid() -> bytes:
    """A docx sent inline with a Content-ID, next to a logo that is only a picture."""
    related = multipart(
        [
            text_part('<p>请查收</p><img src="cid:logo@x">', subtype="html"),
            part([("Content-Type", 'image/png; name="logo.png"'), ("Content-ID", "<logo@x>"), ("Content-Disposition", "inline")], PNG),
            part([("Content-Type", 'application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="inline.docx"'),
                  ("Content-ID", "<doc@x>")], DOCX),
        ],
        boundary="rel-1",
    )
    return mail([("Content-Type", 'multipart/related; boundary="rel-1"')], related)


def photo(n: int) -> bytes:
    """A distinct small JPEG per photo (the pipeline keys files by content)."""
    return JPG + bytes([n])


def picture(width: int, height: int, fmt: str = "JPEG", *, camera: bool = False) -> bytes:
    """A real picture of that size; `camera` adds the EXIF Make/Model every phone and camera writes."""
    from PIL import Image

    buf = io.BytesIO()
    image = Image.new("RGB", (width, height), (250, 250, 245))
    if camera:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"  # Make, Model
        image.save(buf, fmt, exif=exif)
    else:
        image.save(buf, fmt)
    return buf.getvalue()


def html_picture(name: str, data: bytes, ctype: str, text: str = "盖章页见下") -> bytes:
    """An HTML text showing one picture by cid: inside multipart/related (Outlook, Foxmail, Apple Mail)."""
    html = text_part(f'<p>{text}</p><img src="cid:pic1">', subtype="html")
    pic = part([("Content-Type", f'{ctype}; name="{name}"'), ("Content-ID", "<pic1>"),
                ("Content-Disposition", f'inline; filename="{name}"')], data)
    related = multipart([html, pic], boundary="rel-p")
    alt = multipart([text_part(text), headers([("Content-Type", 'multipart/related; boundary="rel-p"')]) + b"\r\n" + related],
                    boundary="alt-p")
    return mail([("Content-Type", 'multipart/alternative; boundary="alt-p"')], alt, subject="咨询：科技志愿服务试点申报")


def iphone_inline_photos() -> bytes:
    """iOS Mail: photos are inline image parts with a name right under multipart/mixed, no Content-ID."""
    photos = [
        part([("Content-Type", f"image/jpeg;\r\n\tname=IMG_000{n}.JPG;\r\n\tx-apple-part-url=A1B2-{n}"),
              ("Content-Disposition", f"inline;\r\n\tfilename=IMG_000{n}.JPG")], photo(n))
        for n in (1, 2)
    ]
    docx = att('attachment;\r\n\tfilename="申报书.docx"'.encode("utf-8"), DOCX)
    return with_files([docx, *photos], text="申报书和盖章页照片见附件。", sender="张三 <zhangsan@icloud.com>")


def html_logo_beside_the_text() -> bytes:
    """A signature logo under multipart/mixed (not multipart/related), shown by the HTML through cid:."""
    alt = multipart([text_part("请查收"), text_part('<p>请查收</p><img src="cid:Sig-Logo@x">', subtype="html")], boundary="alt-2")
    logo = part([("Content-Type", 'image/png; name="logo.png"'), ("Content-ID", "<sig-logo@x>"),
                 ("Content-Disposition", 'inline; filename="logo.png"')], PNG)
    body = multipart([headers([("Content-Type", 'multipart/alternative; boundary="alt-2"')]) + b"\r\n" + alt, logo,
                      att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX)])
    return mail([("Content-Type", f'multipart/mixed; boundary="{B}"')], body)


def apple_file(real_name: str, fork: bytes | None = None) -> bytes:
    """AppleDouble (the resource fork and Finder info, no data) or, given the data fork, AppleSingle."""
    entries = [(3, real_name.encode("utf-8")), (9, b"\x00" * 32)] + ([(1, fork)] if fork is not None else [])
    magic = b"\x00\x05\x16\x00" if fork is not None else b"\x00\x05\x16\x07"
    head = magic + b"\x00\x02\x00\x00" + b"\x00" * 16 + len(entries).to_bytes(2, "big")
    offset, data = 26 + 12 * len(entries), b""
    for entry_id, value in entries:
        head += entry_id.to_bytes(4, "big") + (offset + len(data)).to_bytes(4, "big") + len(value).to_bytes(4, "big")
        data += value
    return head + data


def apple_mail_appledouble() -> bytes:
    """Apple Mail without "Windows-friendly attachments": multipart/appledouble, the fork header first."""
    name = enc_word("申报书.docx", "utf-8")
    pair = multipart(
        [part([("Content-Type", f'application/applefile; name="{name}"')], apple_file("申报书.docx")),
         part([("Content-Type", f'application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="{name}"'),
               ("Content-Disposition", f'attachment; filename="{name}"')], DOCX)],
        boundary="Apple-Mail=_2",
    )
    double = headers([("Content-Type", 'multipart/appledouble; boundary="Apple-Mail=_2"')]) + b"\r\n" + pair
    return with_files([double, att('attachment; filename="盖章版.pdf"'.encode("utf-8"), PDF)], sender="李四 <lisi@me.com>")


def apple_single_file() -> bytes:
    """A Mac file sent whole as AppleSingle (application/applefile): the data fork is the file."""
    return with_files([part([("Content-Type", 'application/applefile; name="sb.docx"'),
                             ("Content-Disposition", 'attachment; filename="sb.docx"')], apple_file("sb.docx", DOCX))])


def multipart_without_boundary() -> bytes:
    """An OA mailer writes 'multipart/mixed' and forgets the boundary parameter."""
    body = multipart([text_part("请查收"), att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX)], boundary="=_oa_7f3a")
    return mail([("Content-Type", "multipart/mixed")], body, sender="办公系统 <oa@xxgov.cn>")


def multipart_single_quoted_boundary() -> bytes:
    """PHP mailers quote the boundary with single quotes, which MIME does not know."""
    body = multipart([text_part("请查收"), att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX)], boundary="php-b1")
    return mail([("Content-Type", "multipart/mixed;\r\n boundary='php-b1'")], body, sender="办公系统 <oa@xxgov.cn>")


def windows_path_name() -> bytes:
    """IE-based webmail and OA uploads send the whole client path, backslashes unescaped."""
    return with_files([att('attachment; filename="C:\\Users\\张三\\Desktop\\申报书.docx"'.encode("utf-8"), DOCX)])


def slash_in_name() -> bytes:
    """macOS and phone apps allow '/' in a file name: it is part of the name, not a folder."""
    return with_files([att(f'attachment; filename="{enc_word("红旗区盖章版6/20定稿.pdf", "utf-8")}"', PDF)])


def forwarded_rfc822() -> bytes:
    """A forwarded mail (message/rfc822) carrying the Word form and the PDF."""
    inner = with_files(
        [att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX), att(f'attachment; filename="{enc_word("盖章版.pdf", "utf-8")}"', PDF)],
        sender="原发件人 <orig@example.cn>",
    )
    outer = multipart(
        [text_part("转发申报材料"), headers([("Content-Type", "message/rfc822"), ("Content-Disposition", 'attachment; filename="fw.eml"')]) + b"\r\n" + inner],
        boundary="outer-1",
    )
    return mail([("Content-Type", 'multipart/mixed; boundary="outer-1"')], outer, sender="转发人 <fwd@example.cn>")


def renamed_pdf_as_docx() -> bytes:
    """A PDF named .docx: the kind follows the bytes."""
    return with_files([att('attachment; filename="申报书.docx"'.encode("utf-8"), PDF)])


def hostile_name() -> bytes:
    """Path components, NUL and control characters in a name."""
    return with_files([att('attachment; filename="..\\\\..\\\\windows\\\\evil\x01\x7f.docx"', DOCX)])


def sloppy_cte_gbk_body() -> bytes:
    """'base64 ' with a trailing space, and a gb2312 body with GBK-only characters."""
    body = multipart(
        [
            part([("Content-Type", "text/plain; charset=gb2312"), ("Content-Transfer-Encoding", "base64 ")], b64("朱镕基喆玥申报。".encode("gb18030")), encode=False),
            part([("Content-Type", 'application/pdf; name="a.pdf"'), ("Content-Transfer-Encoding", "Base64 ")], b64(PDF), encode=False),
        ]
    )
    return mail([("Content-Type", f'multipart/mixed; boundary="{B}"')], body)


def no_id_no_date() -> bytes:
    """No Message-ID and no Date: both are synthesised."""
    return mail([("Content-Type", "text/plain; charset=utf-8")], "没有附件".encode("utf-8"), date=None, msgid=None)


def reply_with_refs() -> bytes:
    return mail(
        [("In-Reply-To", "<r2@163.com>"), ("References", "<r1@163.com>\r\n <r2@163.com>"), ("Content-Type", "text/plain; charset=utf-8")],
        "补正材料见附件".encode("utf-8"),
        subject="Re: 受理回执",
        date="Tue, 3 Jun 2025 09:00:00",  # no zone: Beijing time
    )


def html_only_body() -> bytes:
    return mail([("Content-Type", "text/html; charset=gbk")], "<html><body><p>您好&nbsp;申报</p><script>x()</script></body></html>".encode("gbk"))


# -- auto replies and machines ------------------------------------------------------


def plain(top: list[tuple[str, str | bytes]] = (), **kw) -> bytes:
    return mail(list(top) + [("Content-Type", "text/plain; charset=utf-8")], "自动消息".encode("utf-8"), **kw)


def auto_submitted() -> bytes:
    return plain([("Auto-Submitted", "auto-replied")])


def auto_submitted_no() -> bytes:
    return plain([("Auto-Submitted", "no")])


def precedence_bulk() -> bytes:
    return plain([("Precedence", "bulk")])


def precedence_auto_reply() -> bytes:
    return plain([("Precedence", "auto_reply")])


def list_mail() -> bytes:
    return plain([("List-Id", "<news.example.cn>"), ("List-Unsubscribe", "<mailto:unsub@example.cn>")])


def list_unsubscribe_only() -> bytes:
    return plain([("List-Unsubscribe", "<https://example.cn/unsub>")])


def x_autoreply() -> bytes:
    return plain([("X-Autoreply", "yes")])


def x_autorespond() -> bytes:
    return plain([("X-Autorespond", "1")])


def x_auto_response_suppress() -> bytes:
    return plain([("X-Auto-Response-Suppress", "All")])


def empty_return_path() -> bytes:
    return plain([("Return-Path", "<>")])


def mailer_daemon() -> bytes:
    return plain(sender="Mail Delivery Subsystem <MAILER-DAEMON@163.com>", subject="Undelivered Mail")


def postmaster_sender() -> bytes:
    return plain([("Sender", "postmaster@example.cn")], subject="通知")


def dsn_report() -> bytes:
    body = multipart(
        [
            text_part("Your message could not be delivered."),
            headers([("Content-Type", "message/delivery-status")]) + b"\r\nReporting-MTA: dns; mx.example.cn\r\n\r\nFinal-Recipient: rfc822; x@example.cn\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            headers([("Content-Type", "text/rfc822-headers")]) + b"\r\nFrom: kpzx350@163.com\r\nSubject: receipt\r\n",
        ],
        boundary="dsn-1",
    )
    return mail([("Content-Type", 'multipart/report; report-type=delivery-status; boundary="dsn-1"')], body,
                sender="mx.example.cn <bounce@mx.example.cn>", subject="失败通知")


def subject_ooo(subject: str):
    def build() -> bytes:
        return plain(subject=subject)

    build.__name__ = f"subject_{subject}"
    return build


def own_address() -> bytes:
    return plain(sender="科普中心 <KPZX350@163.com>", subject="受理回执")


OUR_NOTICE = "【补正通知】新乡市科技志愿服务试点建设申报 - 卫辉市科学技术协会（2025-KJZY-004）"


def noreply_sender() -> bytes:
    return plain(sender="大美志愿 <noreply@cast.org.cn>", subject="您的志愿服务试点申报信息已提交")


def plain_read_receipt() -> bytes:
    """Foxmail/163 webmail text receipt: no multipart/report, no header to tell."""
    return mail([("Content-Type", "text/plain; charset=utf-8")], f"您发送的邮件“{OUR_NOTICE}”已被阅读。".encode("utf-8"),
                sender="杨帆 <yf_personal@163.com>", subject="已读回执：" + OUR_NOTICE)


def coremail_body_auto_reply() -> bytes:
    """Government Coremail: 'Re: <our subject>', no header, 【自动回复】 on top of the text."""
    text = "【自动回复】您好！来信已收到，我们将尽快处理。此邮件为系统自动发送，请勿回复。"
    return mail([("Content-Type", "text/plain; charset=utf-8")], text.encode("utf-8"), sender="科技局办公室 <kjj@xinxiang.gov.cn>",
                subject="Re: " + OUR_NOTICE)


def gateway_bounce_with_our_reply() -> bytes:
    """A gateway bounce as multipart/mixed returning our notice (with our blank form) as message/rfc822."""
    ours = with_files([att(f'attachment; filename="{enc_word("申报书（空白模板）.docx", "utf-8")}"', tiny_docx("空白模板"))],
                      text="您好！贵单位报送的申报材料已收到……", sender=f"科普中心 <{OWN}>", subject=enc_word(OUR_NOTICE, "utf-8"))
    body = multipart([text_part("您发送的邮件未能成功投递到以下收件人：zhangsan@xxgov.cn\r\n原因：收件人邮箱已满。", "gbk"),
                      headers([("Content-Type", "message/rfc822")]) + b"\r\n" + ours], boundary="bounce-1")
    return mail([("Content-Type", 'multipart/mixed; boundary="bounce-1"')], body, sender="系统管理员 <sysadmin@xxgov.cn>",
                subject=enc_word("邮件投递失败通知：" + OUR_NOTICE, "gbk"))


def resent_after_bounce() -> bytes:
    """A real application whose subject mentions a bounce: it must be answered."""
    return with_files([att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX), att('attachment; filename="盖章版.pdf"'.encode("utf-8"), PDF)],
                      subject="（上次被系统退信，现重新发送）卫辉市科协申报材料（联系人下周休假）")


# -- large/cloud attachments --------------------------------------------------------


def qq_large_attachment() -> bytes:
    text = (
        "您好，申报材料请查收。\r\n\r\n从QQ邮箱发来的超大附件\r\n\r\n申报书.docx (32.5M, 2025年06月16日 10:00 到期)\r\n"
        "进入下载页面：https://mail.qq.com/cgi-bin/ftnExs_download?t=exs_ftn_download&k=abc123&code=0f1e\r\n"
    )
    return mail([("Content-Type", "text/plain; charset=utf-8")], text.encode("utf-8"))


def exmail_large_attachment() -> bytes:
    html = (
        '<div>申报材料</div><div>从腾讯企业邮箱发来的超大附件</div>'
        '<a href="https://wx.mail.qq.com/ftn/download?func=3&amp;k=xyz789">盖章版.pdf</a>'
    )
    body = multipart([text_part("申报材料\r\n从腾讯企业邮箱发来的超大附件\r\n盖章版.pdf"), text_part(html, subtype="html")], boundary="alt-1")
    return mail([("Content-Type", 'multipart/alternative; boundary="alt-1"')], body)


def netease_large_attachment() -> bytes:
    html = (
        "<p>从网易163邮箱发来的超大附件</p>"
        '<a href="https://mail.163.com/large-attachment-download/index.html?p=X66&amp;file=abc">申报书.docx</a>'
    ).encode("gbk")
    return mail([("Content-Type", "text/html; charset=gbk")], html, sender="王五 <wangwu@163.com>")


def netease_cloud_attachment() -> bytes:
    text = "邮箱发来的云附件\r\n盖章版.pdf\r\nhttps://dashi.163.com/html/cloud-attachment-download/index.html?key=k1 下载\r\n"
    return with_files([att('attachment; filename="申报书.docx"'.encode("utf-8"), DOCX)], text=text)


def link_mail(text: str, sender: str) -> bytes:
    return mail([("Content-Type", "text/plain; charset=utf-8")], text.encode("utf-8"), sender=sender)


def mail139_large_attachment() -> bytes:
    return link_mail("从139邮箱发来的超大附件\r\n\r\n盖章版.pdf (58.2M, 2025年7月5日 10:00 到期)\r\n"
                     "进入下载页面：https://caiyun.139.com/w/i/2qxAbCdEf\r\n", "王五 <13800000000@139.com>")


def sina_large_attachment() -> bytes:
    return link_mail("从新浪邮箱发来的超大附件\r\n盖章版.pdf  58.2M\r\n下载地址：http://mail.sina.com.cn/filecenter/download.php?id=abc\r\n",
                     "赵六 <zhaoliu@sina.com>")


def aliyun_large_attachment() -> bytes:
    html = ('<div>从阿里邮箱发来的超大附件</div><a href="https://qiye.aliyun.com/alimail/bigattach/download?id=abc">盖章版.pdf</a>'
            '<div>--<br>阿里邮箱 <a href="https://qiye.aliyun.com/">qiye.aliyun.com</a></div>')
    return mail([("Content-Type", "text/html; charset=utf-8")], html.encode("utf-8"), sender="钱七 <qianqi@xxgov.cn>")


def apple_mail_drop() -> bytes:
    return link_mail("盖章版.pdf\r\n通过 Mail Drop 发送，附件将于 2025年7月20日 过期。\r\n"
                     "https://www.icloud.com/attachment/?u=https%3A%2F%2Fcvws.icloud-content.com%2Fabc\r\n", "孙八 <sunba@icloud.com>")


def quoted_link_but_attached() -> bytes:
    """A reply quoting an old link mail, with both files attached: no finding."""
    text = "补正后的材料见附件。\r\n\r\n> 从QQ邮箱发来的超大附件\r\n> https://mail.qq.com/cgi-bin/ftnExs_download?k=old\r\n"
    return with_files([att('attachment; filename="a.docx"', DOCX), att('attachment; filename="a.pdf"', PDF)], text=text)


# -- expectations --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    build: object  # () -> bytes
    attachments: tuple[tuple[str, str, str], ...] = ()  # (filename, kind, sha256)
    no_reply: bool = False
    codes: tuple[str, ...] = ()
    expect: dict = field(default_factory=dict)  # Mail field -> expected value

    def data(self) -> bytes:
        return self.build()


D = lambda name: (name, "docx", DOCX_SHA)  # noqa: E731
P = lambda name: (name, "pdf", PDF_SHA)  # noqa: E731
J = lambda name, n: (name, "image", hashlib.sha256(photo(n)).hexdigest())  # noqa: E731


def link_case(name: str, build, link: str, files: tuple = ()) -> Case:
    """A mail that sends a file as a 超大附件/云附件 download link."""
    return Case(name, build, files, codes=("attachment_link_only",), expect={"links": [link]})


CASES: tuple[Case, ...] = (
    Case("outlook_gb2312", outlook_gb2312, (D("朱镕基喆玥.docx"), P("科普中心申报书（盖章）.pdf")),
         expect={"sender": "zhurj@example.cn", "sender_name": "朱镕基", "subject": "朱镕基喆玥的申报材料"}),
    Case("qq_gb18030_name", qq_gb18030_name, (D("中文测试.docx"),), expect={"sender_name": "中文", "sender": "12345@qq.com"}),
    Case("foxmail_split_char", foxmail_split_char, (D("科普项目申请表.docx"),), expect={"subject": "科普项目申请表"}),
    Case("notes_vector_txt", notes_vector_txt, (("新建 文本文档.txt", "text", hashlib.sha256(b"hello\r\n").hexdigest()),)),
    Case("rfc2231_gbk", rfc2231_gbk, (D("科普项目申请表.docx"),)),
    Case("thunderbird_rfc2231_continuations", thunderbird_rfc2231_continuations, (P("科普项目申请表（盖章版）.pdf"),),
         expect={"sender_name": "Li Si"}),
    Case("raw_8bit_gbk", raw_8bit_gbk, (D("誠信承诺书.docx"),),
         expect={"sender_name": "王珺", "sender": "wangjun@example.cn", "subject": "堃玥科普申报"}),
    Case("raw_8bit_utf8", raw_8bit_utf8, (D("科普项目申请表.docx"),), expect={"sender_name": "李堃", "subject": "科普项目申报"}),
    Case("unquoted_encoded_word", unquoted_encoded_word, (D("朱镕基喆玥.docx"),)),
    Case("split_words_utf8_q", split_words_utf8_q, (P("申报书.pdf"),)),
    Case("inline_docx_cid", inline_docx_cid, (D("inline.docx"),)),
    Case("iphone_inline_photos", iphone_inline_photos, (D("申报书.docx"), J("IMG_0001.JPG", 1), J("IMG_0002.JPG", 2))),
    Case("html_logo_beside_the_text", html_logo_beside_the_text, (D("申报书.docx"),)),
    Case("apple_mail_appledouble", apple_mail_appledouble, (D("申报书.docx"), P("盖章版.pdf"))),
    Case("apple_single_file", apple_single_file, (D("sb.docx"),)),
    Case("multipart_without_boundary", multipart_without_boundary, (D("申报书.docx"),), expect={"body_text": "请查收"}),
    Case("multipart_single_quoted_boundary", multipart_single_quoted_boundary, (D("申报书.docx"),), expect={"body_text": "请查收"}),
    Case("windows_path_name", windows_path_name, (D("申报书.docx"),)),
    Case("slash_in_name", slash_in_name, (P("红旗区盖章版6／20定稿.pdf"),)),
    Case("forwarded_rfc822", forwarded_rfc822, (D("申报书.docx"), P("盖章版.pdf")), expect={"sender": "fwd@example.cn"}),
    Case("renamed_pdf_as_docx", renamed_pdf_as_docx, (("申报书.docx", "pdf", PDF_SHA),)),
    Case("hostile_name", hostile_name, (D("evil.docx"),)),
    Case("sloppy_cte_gbk_body", sloppy_cte_gbk_body, (P("a.pdf"),), expect={"body_text": "朱镕基喆玥申报。"}),
    Case("no_id_no_date", no_id_no_date),
    Case("reply_with_refs", reply_with_refs, expect={"references": ("<r1@163.com>", "<r2@163.com>")}),
    Case("html_only_body", html_only_body, expect={"body_text": "您好 申报"}),
    Case("auto_submitted", auto_submitted, no_reply=True),
    Case("auto_submitted_no", auto_submitted_no, no_reply=False),
    Case("precedence_bulk", precedence_bulk, no_reply=True),
    Case("precedence_auto_reply", precedence_auto_reply, no_reply=True),
    Case("list_mail", list_mail, no_reply=True),
    Case("list_unsubscribe_only", list_unsubscribe_only, no_reply=True),
    Case("x_autoreply", x_autoreply, no_reply=True),
    Case("x_autorespond", x_autorespond, no_reply=True),
    Case("x_auto_response_suppress", x_auto_response_suppress, no_reply=True),
    Case("empty_return_path", empty_return_path, no_reply=True),
    Case("mailer_daemon", mailer_daemon, no_reply=True, expect={"sender": "mailer-daemon@163.com"}),
    Case("postmaster_sender", postmaster_sender, no_reply=True),
    Case("dsn_report", dsn_report, no_reply=True),
    *(
        Case(f"subject_{i}", subject_ooo(s), no_reply=True)
        for i, s in enumerate(("自动回复：科普项目申报", "自动答复: 您的来信", "Out of Office: back Monday", "Automatic reply: 申报",
                               "Auto Reply: hi", "休假中，稍后回复"))
    ),
    Case("own_address", own_address, no_reply=True),
    Case("noreply_sender", noreply_sender, no_reply=True),
    Case("plain_read_receipt", plain_read_receipt, no_reply=True),
    Case("coremail_body_auto_reply", coremail_body_auto_reply, no_reply=True),
    Case("gateway_bounce_with_our_reply", gateway_bounce_with_our_reply, no_reply=True),
    Case("resent_after_bounce", resent_after_bounce, (D("申报书.docx"), P("盖章版.pdf"))),
    link_case("qq_large_attachment", qq_large_attachment, "https://mail.qq.com/cgi-bin/ftnExs_download?t=exs_ftn_download&k=abc123&code=0f1e"),
    link_case("exmail_large_attachment", exmail_large_attachment, "https://wx.mail.qq.com/ftn/download?func=3&k=xyz789"),
    link_case("netease_large_attachment", netease_large_attachment, "https://mail.163.com/large-attachment-download/index.html?p=X66&file=abc"),
    link_case("netease_cloud_attachment", netease_cloud_attachment,
              "https://dashi.163.com/html/cloud-attachment-download/index.html?key=k1", (D("申报书.docx"),)),
    link_case("mail139_large_attachment", mail139_large_attachment, "https://caiyun.139.com/w/i/2qxAbCdEf"),
    link_case("sina_large_attachment", sina_large_attachment, "http://mail.sina.com.cn/filecenter/download.php?id=abc"),
    link_case("aliyun_large_attachment", aliyun_large_attachment, "https://qiye.aliyun.com/alimail/bigattach/download?id=abc"),
    link_case("apple_mail_drop", apple_mail_drop, "https://www.icloud.com/attachment/?u=https%3A%2F%2Fcvws.icloud-content.com%2Fabc"),
    Case("quoted_link_but_attached", quoted_link_but_attached, (D("a.docx"), P("a.pdf"))),
)


def all_mails() -> dict[str, bytes]:
    """Every corpus mail by name (for writing them out as .eml files)."""
    return {c.name: c.data() for c in CASES}
