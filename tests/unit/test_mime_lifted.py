"""Big base64 bodies skip the stdlib parser (`mime._Lifted`): every mail parses to the same
`Mail` as with the plain parse, and a big mail costs about its files in memory, not ~8x the mail.

Each mail is parsed with lifting off and on and the records are compared whole (senders,
texts, every attachment's name and bytes, problems). "all" lifts every base64 body however
short, so the small corpora exercise it too; "any" lifts every run of base64-alphabet lines
whatever its header says, so quoted-printable, 7bit and 8bit bodies go through the path that
puts the lines back.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import quopri
import random
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mail_corpus as corpus
from pipeline import mime
from pipeline.models import RawMail
from test_fuzz import by_index, generated_mail, mutated, seed_mails
from test_smime import inner_entity, sign, signer, wrap  # noqa: F401 - signer is a fixture

WHEN = datetime(2025, 6, 20, 10, tzinfo=timezone(timedelta(hours=8)))
OWN = frozenset({corpus.OWN})
SAMPLES = sorted((Path(__file__).resolve().parents[2] / "data" / "samples").glob("*.eml"))
MODES = ("real", "all", "any")


def raw(data: bytes) -> RawMail:
    return RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import", received_at=WHEN)


@contextlib.contextmanager
def lifting(mode: str):
    """Lifting "off", as shipped ("real"), for every base64 body ("all") or every base64-looking run ("any");
    yields the list of `_Lifted` made, to count what was lifted."""
    made: list[mime._Lifted] = []

    class Counting(mime._Lifted):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mime, "_Lifted", Counting)
        if mode == "off":
            mp.setattr(mime, "LIFT_MIN", 1 << 62)
        elif mode in ("all", "any"):
            mp.setattr(mime, "LIFT_MIN", 1)
        if mode == "any":
            mp.setattr(mime, "_declares_base64", lambda data, head_end: True)
        yield made


def same_both_ways(data: bytes, mode: str) -> int:
    """Assert the lifted parse equals the plain one and leaks no placeholder; the number of bodies lifted."""
    with lifting("off"):
        plain = mime.parse_mail(raw(data), own_addresses=OWN)
    with lifting(mode) as made:
        lifted = mime.parse_mail(raw(data), own_addresses=OWN)
    assert lifted == plain
    if mime.LIFT_MARK.encode() not in data:
        mark = mime.LIFT_MARK
        texts = [lifted.body_text, lifted.subject, lifted.no_reply_reason or ""] + [f.message for f in lifted.problems]
        assert not any(mark in t for t in texts)
        assert not any(mark.encode() in a.data or mark in a.filename for a in lifted.attachments)
    return sum(len(m.runs) for m in made)


# -- the corpora -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ("all", "any"))
@pytest.mark.parametrize("case", corpus.CASES, ids=lambda c: c.name)
def test_client_corpus_parses_the_same_lifted(case, mode):
    same_both_ways(case.data(), mode)


@pytest.mark.parametrize("mode", ("all", "any"))
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_mails_parse_the_same_lifted(path, mode):
    same_both_ways(path.read_bytes(), mode)


@pytest.mark.parametrize("top", [True, False], ids=["whole_mail", "attached_part"])
def test_signed_smime_parses_the_same_lifted(signer, top):  # noqa: F811 - the fixture
    """The p7m blob is lifted in the mail, and the signed entity's own files when it is parsed."""
    pdf = b"%PDF-1.4\n" + random.Random(7).randbytes(300_000)
    inner = inner_entity().replace(corpus.b64(corpus.PDF), corpus.b64(pdf))
    data = wrap(sign(signer, inner), "signed-data", top=top)
    assert same_both_ways(data, "real") == 2  # the blob, then the PDF inside it
    mail = mime.parse_mail(raw(data), own_addresses=OWN)
    assert [a.data for a in mail.attachments if a.kind == "pdf"] == [pdf]


FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


@FUZZ
@given(data=st.one_of(generated_mail(), mutated(by_index(seed_mails()))))
def test_fuzzed_mails_parse_the_same_lifted(data):
    same_both_ways(data, "all")
    same_both_ways(data, "any")


# -- big mails, as clients and gateways write them -----------------------------------


def noise(n: int, seed: int, head: bytes = b"%PDF-1.4\n") -> bytes:
    return head + random.Random(seed).randbytes(n - len(head))


def b64_lines(data: bytes, width: int = 76, eol: bytes = b"\r\n") -> bytes:
    text = base64.b64encode(data)
    return eol.join(text[i:i + width] for i in range(0, len(text), width))


def file_part(name: str, body: bytes, ctype: str = "application/pdf", cte: str = "base64") -> bytes:
    """An attached file; without a name, a body (text, HTML)."""
    named = f'; name="{name}"' if name else ""
    disposition = f'Content-Disposition: attachment; filename="{name}"\r\n' if name else ""
    return f"Content-Type: {ctype}{named}\r\nContent-Transfer-Encoding: {cte}\r\n{disposition}\r\n".encode() + body + b"\r\n"


def big_mail(parts: list[bytes], boundary: bytes = b"==big==", top: bytes = b"") -> bytes:
    head = (b"From: =?utf-8?B?" + base64.b64encode("李晓燕".encode()) + b"?= <hqqkx@163.com>\r\nTo: " + corpus.OWN.encode()
            + b"\r\nSubject: =?utf-8?B?" + base64.b64encode("新乡市红旗区科协申报材料".encode()) + b"?=\r\n"
            b"Date: Sat, 21 Jun 2025 09:00:00 +0800\r\nMessage-ID: <big-1@163.com>\r\nMIME-Version: 1.0\r\n" + top)
    body = b"".join(b"--" + boundary + b"\r\n" + p for p in parts) + b"--" + boundary + b"--\r\n"
    return head + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body


TEXT = file_part("", "您好，附件是我单位的申报材料，请查收。\r\n".encode(), "text/plain; charset=utf-8", "8bit")
DOCX = noise(200_000, 1, b"PK\x03\x04")
PDF = noise(500_000, 2)


def application(eol: bytes = b"\r\n") -> bytes:
    """Text, a Word form and a scan, plus a big quoted-printable HTML and an 8bit text file."""
    html = quopri.encodestring(("<p>" + "申报材料见附件。" * 20 + "</p>\n").encode() * 600)
    data = big_mail([TEXT, file_part("申报书.docx", b64_lines(DOCX)), file_part("盖章版.pdf", b64_lines(PDF)),
                     file_part("", html, "text/html; charset=utf-8", "quoted-printable"),
                     file_part("说明.txt", ("一行说明文字\n" * 8000).encode(), "text/plain; charset=utf-8", "8bit")])
    return data if eol == b"\r\n" else data.replace(b"\r\n", eol)


def forwarded(kind: str) -> bytes:
    """The application inside another mail: message/rfc822 as it is, base64-encoded (Exchange), an .eml file
    (QQ 作为附件转发) and a nameless ATT00001.bin."""
    inner = application()
    if kind == "rfc822":
        part = b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fw.eml"\r\n\r\n' + inner + b"\r\n"
    elif kind == "rfc822_base64":
        part = file_part("fw.eml", b64_lines(inner), "message/rfc822")
    elif kind == "eml":
        part = file_part("申报材料.eml", b64_lines(inner), "application/octet-stream")
    else:
        part = file_part("ATT00001.bin", b64_lines(inner), "application/octet-stream")
    return big_mail([TEXT, part], boundary=b"outer-1")


def odd_base64(kind: str) -> bytes:
    """Base64 bodies as sloppy encoders and gateways leave them."""
    pdf, lines = PDF, b64_lines(PDF)
    if kind == "no_padding":
        pdf = PDF[:-1]
        lines = b64_lines(pdf).rstrip(b"=")
    elif kind == "junk_line":
        at = lines.index(b"\r\n", len(lines) // 2)
        lines = lines[:at] + b"\r\n!! scanned by gateway !!" + lines[at:]
    elif kind == "stray_char":
        at = len(lines) // 3
        lines = lines[:at] + b"*" + lines[at:]
    elif kind == "chunked":  # base64_encode(fread(8190)) per chunk: padding inside the stream
        lines = b"\r\n".join(b64_lines(PDF[i:i + 8191]) for i in range(0, len(PDF), 8191))
    elif kind == "footer":
        lines += b"\r\nThis message was scanned by the mail gateway\r\n"
    elif kind == "blank_inside":
        at = lines.index(b"\r\n", len(lines) // 2)
        lines = lines[:at] + b"\r\n" + lines[at:]
    elif kind == "lone_cr":
        at = lines.index(b"\r\n", len(lines) // 2)
        lines = lines[:at] + b"\r" + lines[at + 2:]
    elif kind == "one_line":
        lines = base64.b64encode(PDF)
    elif kind == "lf_inside_crlf":
        lines = lines.replace(b"\r\n", b"\n")
    elif kind == "blank_lines_around":
        lines = b"\r\n\r\n" + lines + b"\r\n\r\n\r\n"
    elif kind == "folded_cte":
        return big_mail([TEXT, file_part("盖章版.pdf", lines).replace(b"Encoding: base64", b"Encoding:\r\n base64")])
    elif kind == "two_ctes":  # the parser reads the first; nothing is lifted
        return big_mail([TEXT, file_part("盖章版.pdf", lines).replace(b"Encoding: base64", b"Encoding: 7bit\r\nContent-Transfer-Encoding: base64")])
    elif kind == "mark_in_text":  # a placeholder-like string in the mail: parsed plainly
        return big_mail([file_part("", b"IntakeLiftedBody0123456789abcdefx00000000", "text/plain", "7bit"),
                         file_part("盖章版.pdf", lines)])
    return big_mail([TEXT, file_part("盖章版.pdf", lines)])


def single_part(eol: bytes, last_eol: bool) -> bytes:
    """A mail that is one base64 PDF, no multipart (the body runs to the end of the mail)."""
    head = f'From: a@b.cn\r\nTo: {corpus.OWN}\r\nSubject: pdf\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
    data = (head + 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\n').encode()
    data = (data + b64_lines(PDF)).replace(b"\r\n", eol)
    return data + eol if last_eol else data


def no_boundary() -> bytes:
    """An OA mailer's multipart without a boundary parameter (re-split by `_reopen_multipart`)."""
    return big_mail([TEXT, file_part("盖章版.pdf", b64_lines(PDF))]).replace(b'; boundary="==big=="', b"")


BIG = {
    "crlf": application(),
    "lf_only": application(b"\n"),
    "single_part_crlf": single_part(b"\r\n", True),
    "single_part_lf_no_final_eol": single_part(b"\n", False),
    "truncated": application()[:400_000],
    "no_boundary": no_boundary(),
    **{f"forwarded_{k}": forwarded(k) for k in ("rfc822", "rfc822_base64", "eml", "att_bin")},
    **{f"base64_{k}": odd_base64(k) for k in ("no_padding", "junk_line", "stray_char", "chunked", "footer", "blank_inside",
                                              "lone_cr", "one_line", "lf_inside_crlf", "blank_lines_around", "folded_cte",
                                              "two_ctes", "mark_in_text")},
    "unlabelled_base64": big_mail([TEXT, file_part("盖章版.pdf", b64_lines(PDF)).replace(b"Content-Transfer-Encoding: base64\r\n", b"")]),
    "qp_alnum_lines": big_mail([TEXT, file_part("编码.txt", b"=\r\n".join(base64.b64encode(PDF)[i:i + 75] for i in range(0, 600_000, 75)),
                                                "text/plain", "quoted-printable")]),
    "uuencoded_in_text": big_mail([file_part("", b"\r\n".join([b"begin 644 gz.pdf"] + [
        binascii.b2a_uu(PDF[i:i + 45]).rstrip(b"\n") for i in range(0, len(PDF), 45)] + [b"`", b"end"]) + b"\r\n",
        "text/plain; charset=utf-8", "7bit")]),
    "winmail_dat": big_mail([TEXT, file_part("winmail.dat", b64_lines(noise(300_000, 5, b"\x78\x9f\x3e\x22")), "application/ms-tnef")]),
    "text_body_base64": big_mail([file_part("", base64.encodebytes(("正文" * 40000).encode()), "text/plain; charset=utf-8")]),
}
NOT_LIFTED = {"base64_lone_cr", "base64_two_ctes", "base64_mark_in_text", "unlabelled_base64", "qp_alnum_lines",
              "uuencoded_in_text"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BIG))
def test_big_mails_parse_the_same_lifted(name, mode):
    lifted = same_both_ways(BIG[name], mode)
    if mode == "real":
        assert bool(lifted) is (name not in NOT_LIFTED)


def test_lifted_files_are_the_files_sent():
    """Not only equal to the plain parse: the bytes that were attached."""
    for name in ("crlf", "lf_only", "forwarded_rfc822", "forwarded_rfc822_base64", "forwarded_eml", "forwarded_att_bin"):
        mail = mime.parse_mail(raw(BIG[name]), own_addresses=OWN)
        files = {a.filename: a.data for a in mail.attachments}
        assert files["申报书.docx"] == DOCX and files["盖章版.pdf"] == PDF, name
    for name in ("base64_chunked", "base64_one_line", "base64_folded_cte", "base64_blank_lines_around", "single_part_crlf",
                 "no_boundary"):
        assert [a.data for a in mime.parse_mail(raw(BIG[name])).attachments if a.kind == "pdf"] == [PDF], name


BIG_SEEDS = tuple(BIG[k] for k in ("crlf", "lf_only", "forwarded_rfc822", "forwarded_eml", "base64_chunked", "single_part_crlf"))


@settings(FUZZ, max_examples=120)
@given(data=mutated(by_index(BIG_SEEDS), max_ops=8))
def test_damaged_big_mails_parse_the_same_lifted(data):
    """Flipped, cut, duplicated and inserted bytes (a '-', ':' or CR inside a body) never make the two parses differ."""
    same_both_ways(data, "real")


# -- what it is for ----------------------------------------------------------------


def test_a_big_mail_costs_about_its_files_not_eight_times_the_mail():
    """A 60 MB mail (44 MB of attachments) took ~480 MB of Python memory and 4 s in the poll process:
    the stdlib parser held a str per line. Now its files' bytes are about all it allocates."""
    docx, pdf = noise(2_500_000, 3, b"PK\x03\x04"), noise(3_500_000, 4)
    data = big_mail([TEXT, file_part("申报书.docx", b64_lines(docx)), file_part("盖章版.pdf", b64_lines(pdf))])
    tracemalloc.start()
    try:
        mail = mime.parse_mail(raw(data), own_addresses=OWN)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a.data for a in mail.attachments] == [docx, pdf]
    assert peak < len(data), f"{peak / 1048576:.1f} MB for a {len(data) / 1048576:.1f} MB mail"


@settings(FUZZ, max_examples=300)
@given(data=st.text(alphabet="AZaz09+/= \t\r\n!-", max_size=60).map(str.encode))
def test_the_quick_padding_check_finds_what_the_split_would(data):
    """`_b64` asks the fast pattern whether padding sits inside before splitting on the slow one; a lifted
    body is decoded as a view, without the line breaks the parser leaves around it."""
    assert bool(mime._B64_PAD_FOLLOWED.search(data)) is bool(mime._B64_PAD_INSIDE.search(data))
    assert mime._b64(data) == mime._b64(memoryview(data)) == mime._b64(b"\r\n" + data + b"\r\n\r\n \t\n")
