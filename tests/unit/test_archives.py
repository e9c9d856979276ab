"""Archives: GBK member names, nesting, and bombs end as problems, not crashes."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from pipeline.archives import Limits, display_name, expand
from pipeline.models import Attachment




def tiny_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()




def write_gbk_zip(members: dict[str, bytes], encoding: str = "gbk") -> bytes:
    # zipfile always writes non-ASCII names as UTF-8 with the flag set; patch the
    # headers to GBK bytes without the flag, as Windows' built-in zipper does (or to
    # UTF-8 bytes without the flag, as macOS Finder and Info-ZIP do).
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(members.items()):
            zf.writestr(zipfile.ZipInfo(chr(ord("a") + i) * len(name.encode(encoding))), data)
    raw = buf.getvalue()
    for i, name in enumerate(members):
        encoded = name.encode(encoding)
        raw = raw.replace(chr(ord("a") + i).encode() * len(encoded), encoded)  # no name is another's prefix
    return raw


def att(data: bytes, name="材料.zip", kind="zip") -> Attachment:
    return Attachment(name, kind, data, hashlib.sha256(data).hexdigest())


def test_gbk_member_names_and_types():
    docx = tiny_docx()
    raw = write_gbk_zip({"新乡市红旗区科协申报书.docx": docx, "盖章版.pdf": b"%PDF-1.4\n%%EOF\n"})
    members, problems = expand(att(raw))
    assert problems == []
    assert {(m.filename, m.kind) for m in members} == {("新乡市红旗区科协申报书.docx", "docx"), ("盖章版.pdf", "pdf")}
    assert next(m for m in members if m.kind == "docx").sha256 == hashlib.sha256(docx).hexdigest()


def test_utf8_member_names_without_the_utf8_flag():
    """macOS Finder (压缩) and Info-ZIP write UTF-8 names without the flag: read as GB18030 the
    archive failed whole ("无法打开") and both files were lost."""
    docx = tiny_docx()
    names = {"红旗区科协申报书.docx": docx, "红旗区科协申报书（盖章版）.pdf": b"%PDF-1.4\n%%EOF\n", "说明.txt": b"x"}
    members, problems = expand(att(write_gbk_zip(names, encoding="utf-8")))
    assert problems == []
    assert {(m.filename, m.kind) for m in members} >= {("红旗区科协申报书.docx", "docx"), ("红旗区科协申报书（盖章版）.pdf", "pdf")}


def test_member_names_in_no_known_encoding_still_give_the_files():
    raw = write_gbk_zip({"申报书.docx": tiny_docx()}, encoding="gbk").replace("申报书".encode("gbk"), b"\xff\xfe\x80\xff\xfe\x80")
    members, problems = expand(att(raw))
    assert problems == [] and [m.kind for m in members] == ["docx"] and members[0].filename.endswith(".docx")


def test_nested_archive_and_folders():
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("sub/dir/申报书.pdf", b"%PDF-1.4\n")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("a/inner.zip", inner.getvalue())
    members, problems = expand(att(outer.getvalue()))
    assert [(m.filename, m.kind) for m in members] == [("申报书.pdf", "pdf")]
    assert problems == []


def test_too_deep_nesting_is_a_problem():
    data = b"%PDF-1.4\n"
    for _ in range(4):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("x.zip" if data[:2] == b"PK" else "x.pdf", data)
        data = buf.getvalue()
    members, problems = expand(att(data), Limits(max_depth=2))
    assert [p.code for p in problems] == ["archive_unreadable"]


def test_bomb_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.docx", b"\x00" * (20 * 1024 * 1024))
    members, problems = expand(att(buf.getvalue()))
    assert members == [] and [p.code for p in problems] == ["archive_unreadable"]


def test_too_many_members():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(30):
            zf.writestr(f"f{i}.txt", b"x")
    members, problems = expand(att(buf.getvalue()), Limits(max_members=10))
    assert members == [] and problems[0].code == "archive_unreadable"


def test_rar_and_7z_without_backend_or_garbage_are_problems():
    for kind in ("rar", "7z", "zip"):
        members, problems = expand(att(b"garbage" * 10, f"x.{kind}", kind))
        assert members == [] and problems and all(p.code == "archive_unreadable" for p in problems)


def test_display_name_is_never_a_path():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\\\Windows\\\\evil.docx") == "evil.docx"
    assert display_name("a\x00b.docx") == "ab.docx"
    assert display_name("dir/") == "dir"
    assert display_name("") == "未命名文件"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_members_or_problems(data):
    for kind in ("zip", "7z", "rar"):
        members, problems = expand(att(b"PK\x03\x04" + data, kind=kind))
        assert isinstance(members, list) and isinstance(problems, list)


def tnef_object(level: int, name: int, type_: int, data: bytes) -> bytes:
    import struct

    return struct.pack("<BHHI", level, name, type_, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def winmail_dat(files: dict[str, bytes], codepage: int | None = 936, subject: str = "") -> bytes:
    """A minimal TNEF stream as Outlook on Chinese Windows writes it (GBK names);
    `codepage=None` leaves attOemCodepage out, as some gateways do."""
    import struct

    out = struct.pack("<IH", 0x223E9F78, 1)
    out += tnef_object(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    if codepage is not None:
        out += tnef_object(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))
    if subject:
        out += tnef_object(1, 0x8004, 0x0001, subject.encode("gbk") + b"\x00")
    for name, data in files.items():
        out += tnef_object(2, 0x9002, 0x0006, b"\x01\x00" + b"\x00" * 12)
        out += tnef_object(2, 0x8010, 0x0001, name.encode("gbk") + b"\x00")
        out += tnef_object(2, 0x800F, 0x0006, data)
    return out


def test_winmail_dat_with_gbk_names():
    docx = tiny_docx()
    data = winmail_dat({"朱镕基喆玥申报书.docx": docx, "盖章版.pdf": b"%PDF-1.4\n"})
    from pipeline.filetypes import sniff

    assert sniff(data) == "tnef"
    members, problems = expand(att(data, "winmail.dat", "tnef"))
    assert problems == []
    assert [(m.filename, m.kind) for m in members] == [("朱镕基喆玥申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


def test_winmail_dat_without_a_codepage_is_read_as_chinese_windows_writes_it():
    """A gateway's TNEF without attOemCodepage made tnefparse raise TypeError; the applicant was told
    “压缩包…无法解压（TypeError）” and that no file had arrived."""
    data = winmail_dat({"朱镕基申报书.docx": tiny_docx(), "盖章版.pdf": b"%PDF-1.4\n"}, codepage=None, subject="申报材料")
    members, problems = expand(att(data, "winmail.dat", "tnef"))
    assert problems == []
    assert [(m.filename, m.kind) for m in members] == [("朱镕基申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


def test_an_unreadable_container_is_named_for_what_it_is_without_exception_names(monkeypatch):
    from pipeline import archives

    def broken(tnef_class, data):
        raise ValueError("bad TNEF object")

    monkeypatch.setattr(archives, "_parse_tnef", broken)
    members, problems = expand(att(b"\x78\x9f\x3e\x22" + b"\x01" * 40, "winmail.dat", "tnef"))
    assert members == [] and len(problems) == 1
    text = problems[0].message
    assert "winmail.dat" in text and "Outlook" in text and "压缩包" not in text and "Error" not in text
    members, problems = expand(att(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, "材料.7z", "7z"))
    assert len(problems) == 1 and "压缩包“材料.7z”" in problems[0].message and "Error" not in problems[0].message


def test_7z_members():
    py7zr = __import__("py7zr")
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        archive.writestr(b"%PDF-1.4\n", "材料/盖章版.pdf")
        archive.writestr(tiny_docx(), "材料/申报书.docx")
    members, problems = expand(att(buf.getvalue(), "材料.7z", "7z"))
    assert problems == []
    assert sorted((m.filename, m.kind) for m in members) == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


def test_a_winmail_dat_makes_a_mail_an_application_whatever_its_subject():
    """Outlook hides both files in winmail.dat; a neutral subject must not make the mail 'other' (never unpacked)."""
    from datetime import datetime, timezone

    from pipeline.models import Mail
    from pipeline.run import classify

    when = datetime(2025, 6, 20, tzinfo=timezone.utc)
    data = winmail_dat({"申报书.docx": tiny_docx(), "盖章版.pdf": b"%PDF-1.4\n"})
    mail = Mail("0" * 64, "<m@x>", "a@b.cn", "李", "红旗区科协材料", when, when, "请查收。",
                attachments=(att(data, "winmail.dat", "tnef"),))
    assert classify(mail) == "application"
    assert classify(dataclasses.replace(mail, attachments=())) == "other"


def test_an_attached_outlook_msg_gives_its_files_and_is_no_word_form():
    """Outlook users drag a sent mail into a new one: the .msg was taken for an old .doc that
    could not be converted, and could even push out the real .docx of the same mail."""
    import cfb_writer
    from pipeline.filetypes import sniff
    from pipeline.pairing import role_of

    # The test writer keeps every stream in regular sectors (>= 4096 bytes), so the files are that big.
    docx, pdf = big_docx(), b"%PDF-1.4\n%" + b"0" * 5000 + b"\n%%EOF\n"
    data = cfb_writer.msg("申报材料", [("新乡市红旗区科协申报书.docx", docx), ("盖章版.pdf", pdf)])
    assert sniff(data) == "msg" and role_of("msg") == "other"
    members, problems = expand(att(data, "申报材料.msg", "msg"))
    assert problems == []
    assert [(m.filename, m.kind, m.data) for m in members] == [("新乡市红旗区科协申报书.docx", "docx", docx), ("盖章版.pdf", "pdf", pdf)]


def big_docx() -> bytes:
    import os

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/image1.bin", os.urandom(5000))
    return buf.getvalue()


def test_a_mail_attached_to_an_attached_msg_is_opened_too():
    import cfb_writer

    u = lambda s: s.encode("utf-16-le") + b"\x00\x00"  # noqa: E731
    inner = {"__properties_version1.0": b"\x00" * 32, "__substg1.0_0037001F": u("转发"),
             "__attach_version1.0_#00000000": {"__substg1.0_3707001F": u("盖章版.pdf"), "__substg1.0_37010102": b"%PDF-1.4\n%%EOF\n",
                                               "__properties_version1.0": b"\x00" * 16}}
    data = cfb_writer.build({
        "__properties_version1.0": b"\x00" * 32, "__substg1.0_0037001F": u("申报材料"),
        "__attach_version1.0_#00000000": {"__substg1.0_3707001F": u("申报书.docx"), "__substg1.0_37010102": tiny_docx(),
                                          "__properties_version1.0": b"\x00" * 16},
        "__attach_version1.0_#00000001": {"__substg1.0_3701000D": inner, "__properties_version1.0": b"\x00" * 16},
    })
    members, problems = expand(att(data, "申报.msg", "msg"))
    assert problems == [] and [(m.filename, m.kind) for m in members] == [("申报书.docx", "docx"), ("盖章版.pdf", "pdf")]


def test_an_encrypted_office_file_is_a_word_candidate_with_its_own_kind():
    """A .docx with an open password is an OLE2 container holding EncryptedPackage: not an old .doc."""
    import cfb_writer
    from pipeline.filetypes import sniff
    from pipeline.pairing import role_of

    data = cfb_writer.build({"EncryptionInfo": b"\x04\x00\x04\x00" + b"\x00" * 40, "EncryptedPackage": b"\x00" * 5000})
    assert sniff(data) == "office_encrypted" and role_of("office_encrypted") == "word"


def test_an_ooxml_package_of_another_kind_is_no_archive():
    """An XPS print (Microsoft XPS Document Writer) is a package with [Content_Types].xml: its
    parts are not files the applicant sent."""
    from pipeline.filetypes import sniff

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<Types><Default Extension="fdseq" ContentType="application/vnd.ms-package.xps-fixeddocumentsequence+xml"/></Types>')
        zf.writestr("FixedDocSeq.fdseq", "<FixedDocumentSequence/>")
        zf.writestr("Documents/1/Pages/1.fpage", "<FixedPage/>")
    assert sniff(buf.getvalue()) == "other"


def _nested_zip(inner_count: int, member: str, size: int) -> bytes:
    """A zip of `inner_count` zips, each holding one `size`-byte `member` that compresses
    about 140:1 (under the ratio limit), written in pieces so the test holds little memory."""
    import random

    rng = random.Random(1)
    chunk = bytearray(1024 * 1024)
    for i in range(0, len(chunk), 600):
        chunk[i] = rng.randrange(256)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(member, "w", force_zip64=True) as fh:
        for start in range(0, size, len(chunk)):
            fh.write(chunk[: size - start])
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        for k in range(inner_count):
            zf.writestr(f"附件{k}.zip", inner.getvalue())
    return outer.getvalue()


def test_one_budget_for_all_archives_and_levels_of_a_mail():
    """The 200 MB limit held per archive: 16 inner zips of 199 MB each unpacked 3 GB from a 5 MB mail."""
    data = _nested_zip(8, "材料.bin", 8 * 1024 * 1024)
    members, problems = expand(att(data, "申报材料.zip"), Limits(max_total_bytes=20 * 1024 * 1024))
    assert sum(m.size for m in members) <= 20 * 1024 * 1024 and len(members) == 2
    [p] = problems  # said once, not once for each inner zip past the budget
    assert p.code == "archive_unreadable" and p.message.startswith("压缩包“申报材料.zip”中的文件解压后合计过大")


def test_members_over_the_attachment_limit_are_recorded_not_unpacked():
    import tracemalloc

    from pipeline.archives import Budget

    data = _nested_zip(6, "申报书.pdf", 6 * 1024 * 1024)
    budget = Budget(member_limit=1024 * 1024)
    tracemalloc.start()
    try:
        members, problems = expand(att(data, "申报材料.zip"), budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert members == [] and problems == []
    assert [(s.filename, s.size, s.archive) for s in budget.skipped] == [("申报书.pdf", 6 * 1024 * 1024, "压缩包“申报材料.zip”")] * 6
    assert budget.skipped[0].kind == "pdf"  # its name: the bytes are no PDF, and only its head was read
    assert peak < 3 * 1024 * 1024  # no member was read whole


def test_the_nested_bomb_of_the_qa_report_stays_small(tmp_path):
    """16 inner zips of one 199 MB member each (ratio < 200): 3.5 GB peak for an 11 MB mail.
    The whole ingest, in a child capped at 2 GB of address space (the old code fails instead
    of taking the machine's memory), with the default 30 MB attachment limit."""
    import subprocess
    import sys

    import pipeline

    root = str(Path(pipeline.__file__).resolve().parents[1])
    code = f"""
import sys, resource, json
sys.path[:0] = [{root!r}, {str(Path(__file__).parent)!r}]
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from pathlib import Path
from test_archives import _nested_zip
from pipeline_harness import ON_TIME, Pipeline
from pipeline.samples.mails import mail
p = Pipeline(Path({str(tmp_path)!r}))
data = _nested_zip(16, "申报书.pdf", 199 * 1024 * 1024)
p.feed(mail("张三 <zhang@163.com>", "试点申报材料", "申报材料见压缩包。", ON_TIME, [("申报材料.zip", data, "application/zip")]))
print(json.dumps([json.loads(r["problems"]) for r in p.rows("SELECT problems FROM mails")]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
p.close()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    problems, peak_mb = done.stdout.splitlines()[-2:]
    [[too_large]] = json.loads(problems)  # the 23 MB zip itself is under the limit
    assert too_large["code"] == "attachment_too_large" and "（共 16 个同名文件）超过 30 MB" in too_large["message"]
    assert int(peak_mb) < 450  # ~290 MB: the 23 MB mail, its parse and the harness; 3.5 GB before


def test_many_files_of_one_name_too_large_are_one_line_with_a_count(tmp_path):
    """A reply listed 附件“申报书.pdf”超过 30 MB eight times, once for each inner zip."""
    import dataclasses as dc

    from pipeline_harness import ON_TIME, Pipeline
    from pipeline.samples.mails import mail

    p = Pipeline(tmp_path)
    try:
        p.runner.cfg = dc.replace(p.runner.cfg, replies=dc.replace(p.runner.cfg.replies, max_attachment_mb=1))
        data = _nested_zip(8, "申报书.pdf", 2 * 1024 * 1024)
        p.feed(mail("张三 <zhang@163.com>", "试点申报材料", "申报材料见压缩包。", ON_TIME, [("申报材料.zip", data, "application/zip")]))
        [row] = p.rows("SELECT problems FROM mails")
        too_large = [f for f in json.loads(row["problems"]) if f["code"] == "attachment_too_large"]
        assert [f["message"] for f in too_large] == [
            "压缩包“申报材料.zip”中的盖章 PDF 版“申报书.pdf”（共 8 个同名文件）超过 1 MB，未能处理。"
            "请降低扫描分辨率（200 dpi 即可）或压缩 PDF 后重新发送。"
        ]
    finally:
        p.close()


def test_an_unpacked_archive_over_the_limit_is_not_called_unprocessed(tmp_path):
    """A 2 MB zip of files under a 1 MB limit was unpacked and read, yet also listed as
    附件“材料.zip”超过 1 MB，未能处理."""
    import dataclasses as dc
    import os

    from pipeline_harness import ON_TIME, Pipeline
    from pipeline.samples.mails import mail

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(3):
            zf.writestr(f"照片{i}.jpg", b"\xff\xd8\xff\xe0" + os.urandom(700_000))
    p = Pipeline(tmp_path)
    try:
        p.runner.cfg = dc.replace(p.runner.cfg, replies=dc.replace(p.runner.cfg.replies, max_attachment_mb=1))
        p.feed(mail("张三 <zhang@163.com>", "试点申报材料", "申报材料见压缩包。", ON_TIME, [("材料.zip", buf.getvalue(), "application/zip")]))
        [row] = p.rows("SELECT problems FROM mails")
        assert "attachment_too_large" not in row["problems"]
        assert len(p.rows("SELECT * FROM files WHERE filename LIKE '照片%'")) == 3
    finally:
        p.close()


def test_an_archive_too_large_to_open_inside_an_archive_is_named_as_one_and_its_files_not_called_missing(tmp_path):
    """A zip inside the zip, over the limit (QA round 12): the letter told the unit to compress the
    inner zip and, beside it, that no stamped PDF had come — the PDF was in that zip."""
    import dataclasses as dc
    import os

    from pipeline_harness import ON_TIME, Pipeline
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx
    from pipeline.samples.mails import mail

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("申报书（盖章）.pdf", b"%PDF-1.4\n" + os.urandom(1536 * 1024))
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("申报书.docx", build_form_docx(sample_applications()[0]))
        zf.writestr("盖章版.zip", inner.getvalue())
    p = Pipeline(tmp_path)
    try:
        p.runner.cfg = dc.replace(p.runner.cfg, replies=dc.replace(p.runner.cfg.replies, max_attachment_mb=1))
        p.feed(mail("张三 <zhang@163.com>", "试点申报材料", "申报材料见压缩包。", ON_TIME, [("申报材料.zip", outer.getvalue(), "application/zip")]))
        p.runner.now = lambda: ON_TIME.replace(hour=ON_TIME.hour + 1)  # past the pairing window
        p.judge()
        [row] = p.rows("SELECT findings FROM applicants")
        found = json.loads(row["findings"])
        messages = [f["message"] for f in found]
        assert any("压缩包“申报材料.zip”中的压缩包“盖章版.zip”超过 1 MB，未能打开。请不要把材料放在多层压缩包里" in m for m in messages), messages
        assert not any(f["code"] == "missing_pdf" for f in found), messages
    finally:
        p.close()
