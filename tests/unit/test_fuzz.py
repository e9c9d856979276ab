"""Bad-input fuzzing of every entry point that reads bytes from outside (hypothesis).

Default budget: 2,000 generated inputs in total --
    parse_mail (MIME)                       900
    Runner.ingest + judge_all (temp store)  400
    forms.docx.read_form (mutated forms)    600
    forms.pdf.read_pdf (mutated PDFs)       100   (spawns one child process per call: kept small)
Long run: INTAKE_FUZZ_EXAMPLES=20000 scales every budget by 10 (total = the given number).
Inputs are derandomized (the same on every run) so a failure reproduces; hypothesis prints
the falsifying example.

For every input: the call returns a value of the documented type (a recorded result or a
problem), no exception escapes (and none is swallowed and logged by the pipeline as an
internal error), it finishes within a watchdog timeout, and no file appears outside the
storage directory (the test's own dir tree and /tmp are compared before/after; tempfile's
directory is redirected to a private folder that must be empty afterwards).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import re
import signal
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline_harness import Pipeline
from pipeline.models import Application, Finding, Mail, PdfFacts, RawMail

TOTAL = int(os.environ.get("INTAKE_FUZZ_EXAMPLES", "2000"))
SCALE = TOTAL / 2000
MIME_N, INGEST_N, DOCX_N, PDF_N = (max(1, round(n * SCALE)) for n in (900, 400, 600, 100))
CST = timezone(timedelta(hours=8))
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
OWN = "kpzx350@163.com"


def fuzz_settings(n: int, deadline_s: float | None = None):
    return settings(
        max_examples=n,
        deadline=None if deadline_s is None else timedelta(seconds=deadline_s),
        derandomize=True,
        database=None,  # nothing written into the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
                               HealthCheck.large_base_example],
        print_blob=True,
    )


# ---- watchdog, file-system and log guards ---------------------------------------------


class Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: float):
    """Interrupt a call that runs longer than `seconds` (a hang is a failure, not a wait)."""

    def fire(signum, frame):
        raise Hang(f"no result within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def tree(root: Path, exclude: Path | None = None) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        if exclude is not None and Path(dirpath) == exclude.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != exclude]
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def tmp_listing() -> set[str]:
    # other processes (concurrent test sessions, Dovecot instances, a LibreOffice some other
    # process runs: its pipe and lu*.tmp files) may use /tmp too: only names that such
    # processes make are ignored; ours get a private TMPDIR (the fixture below)
    # (bash_tool_*: the developers' shell tool, next to a test run on their machine)
    ignore = re.compile(r"^(dovecot-|pytest-of-|tmp[a-z0-9_]{8}(\.[a-z]+)?$|\.X|systemd-|script|OSL_PIPE_|lu[a-z0-9]+\.tmp$|bash_tool_)")
    return {n for n in os.listdir("/tmp") if not ignore.match(n)}


class ErrorLog(logging.Handler):
    """Collects records of the pipeline's 'this should not happen' paths."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """tmp_path/storage is the storage dir; tempfile goes to tmp_path/tmp (must end empty);
    yields a checker to call after each example."""
    storage = tmp_path / "storage"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    before_tmp = tmp_listing()
    errors = ErrorLog()
    logging.getLogger("pipeline").addHandler(errors)

    class Guard:
        root = tmp_path

        def __init__(self):
            self.baseline = tree(tmp_path, exclude=storage)

        def check(self, what: str = ""):
            outside = tree(tmp_path, exclude=storage) - self.baseline
            assert not outside, f"files written outside the storage dir: {sorted(outside)[:10]} {what}"
            leftovers = os.listdir(private_tmp)
            assert not leftovers, f"temporary files left behind: {leftovers[:10]} {what}"
            internal = [r.getMessage() for r in errors.records]
            errors.records.clear()
            assert not internal, f"pipeline logged an internal error: {internal[:3]} {what}"

    guard = Guard()
    guard.storage = storage
    try:
        yield guard
    finally:
        logging.getLogger("pipeline").removeHandler(errors)
    assert tmp_listing() - before_tmp == set(), f"new entries in /tmp: {sorted(tmp_listing() - before_tmp)}"


# ---- seeds ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def sample_apps():
    from pipeline.samples.apps import sample_applications

    return sample_applications()[:3]


@lru_cache(maxsize=None)
def real_forms() -> tuple[bytes, ...]:
    from pipeline.samples.forms import build_form_docx

    return tuple(build_form_docx(app) for app in sample_apps())


@lru_cache(maxsize=None)
def real_pdfs() -> tuple[bytes, ...]:
    from pipeline.samples.pdfs import build_form_pdf

    return (build_form_pdf(sample_apps()[0]), build_form_pdf(sample_apps()[1], seal="none"))


@lru_cache(maxsize=None)
def seed_mails() -> tuple[bytes, ...]:
    """Every hand-written corpus mail (mail_corpus.py) and the demo mails."""
    from mail_corpus import all_mails
    from pipeline.samples.mails import sample_mails

    return tuple(all_mails().values()) + tuple(m for _, m in sample_mails())


SLOW_KINDS = {"pdf", "doc", "wps", "rtf", "html_doc", "word2003xml", "xls", "ppt"}


@lru_cache(maxsize=None)
def cheap_seed_mails() -> tuple[bytes, ...]:
    """Seeds whose attachments need neither a PDF child process nor LibreOffice."""
    from pipeline.mime import parse_mail

    out = []
    for data in seed_mails():
        mail = parse_mail(raw(data))
        if not any(a.kind in SLOW_KINDS for a in mail.attachments) and b"%PDF-" not in data:
            out.append(data)
    return tuple(out)


def raw(data: bytes, when: datetime | None = None) -> RawMail:
    return RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import",
                   received_at=when or datetime(2025, 6, 20, 10, tzinfo=CST))


# ---- strategies ----------------------------------------------------------------------


def by_index(items: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    """One of `items`, shown in reports by its index (not as a 100 kB repr)."""
    return st.integers(0, len(items) - 1).map(lambda i: items[i])


@st.composite
def mutated(draw, seeds: st.SearchStrategy[bytes], max_ops: int = 4) -> bytes:
    """A seed with a few byte-level edits: flip, overwrite, delete, insert, duplicate, truncate."""
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "set", "delete", "insert", "dup", "truncate"]))
        n = len(data)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            data[pos] = draw(st.sampled_from([0, 0xFF, 0x0A, 0x0D, 0x3C, 0x3E, 0x22, 0x80, ord("="), ord("-")]))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "dup" and n:
            length = draw(st.integers(1, 200))
            data[pos:pos] = data[pos : pos + length]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


HEADER_NAMES = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "Content-Type", "Content-Transfer-Encoding",
                "Content-Disposition", "MIME-Version", "Auto-Submitted", "List-Id", "Precedence", "Reply-To",
                "Return-Path", "In-Reply-To", "References", "X-Mailer", "Received", "X-Autoreply", "Sender"]
CTYPES = ["text/plain", "text/html", "multipart/mixed", "multipart/alternative", "multipart/related", "message/rfc822",
          "application/octet-stream", "application/pdf", "application/zip", "image/png", "text/plain; charset=gb2312",
          "text/plain; charset=x-unknown", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "message/delivery-status", "multipart/report"]
CTES = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "BASE64 ", ""]
NASTY_NAMES = ["../../../../tmp/intake-escape.docx", "/etc/passwd", "..\\..\\evil.pdf", "con.docx", "a" * 300 + ".docx",
               "申报书.docx", "申报书（盖章）.pdf", "x\x00y.docx", ".hidden", "=?utf-8?B?5Lit5paH?=.docx", "", " ", "\t\n"]


def header_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=60),
        st.sampled_from(["=?gb2312?B?1tDOxA==?=", "=?utf-8?Q?=E4=B8=AD?=", "=?bogus?B?AAAA?=", "=?utf-8?B?####?=",
                         "\"=?gbk?B?1tDOxA==?=\" <a@b.c>", "<>", "<<a@b>>", "undisclosed-recipients:;", "@", "a@",
                         "Thu, 99 Jun 2025 25:61:61 +9999", "Fri, 20 Jun 2025 10:00:00 +0800", "0", "-1" * 40]),
        st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    )


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    ctype = draw(st.sampled_from(CTYPES))
    cte = draw(st.sampled_from(CTES))
    lines = [f"Content-Type: {ctype}".encode()]
    if cte:
        lines.append(f"Content-Transfer-Encoding: {cte}".encode())
    if draw(st.booleans()):
        name = draw(st.one_of(st.sampled_from(NASTY_NAMES), st.text(max_size=40)))
        style = draw(st.integers(0, 2))
        if style == 0:
            disp = f'attachment; filename="{name}"'
        elif style == 1:
            from urllib.parse import quote

            disp = f"attachment; filename*=utf-8''{quote(name, safe='')}"
        else:
            disp = f"attachment; filename*0=\"{name[:5]}\"; filename*1=\"{name[5:]}\""
        lines.append(b"Content-Disposition: " + disp.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(0, 2))):
        lines.append(f"{draw(st.sampled_from(HEADER_NAMES))}: {draw(header_text())}".encode("utf-8", "surrogatepass"))
    if ctype.startswith("multipart/") and depth < 3:
        boundary = draw(st.sampled_from(["b1", "=_x", "", "a" * 75, "--"])) + str(depth)
        lines[0] = f'Content-Type: {ctype}; boundary="{boundary}"'.encode()
        parts = draw(st.lists(mime_part(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
    elif ctype == "message/rfc822" and depth < 3:
        body = draw(mime_part(depth + 1))
    else:
        payload = draw(st.one_of(
            st.binary(max_size=300),
            by_index(real_forms()),
            by_index((tiny_zip(), zip_slip(), sevenz_slip(), b"PK\x03\x04" + b"\x00" * 30)),
        ))
        if cte.strip().lower() == "base64" and draw(st.booleans()):
            body = base64.encodebytes(payload)
        elif cte == "quoted-printable":
            import quopri

            body = quopri.encodestring(payload)
        else:
            body = payload
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@st.composite
def generated_mail(draw) -> bytes:
    top = [f"From: {draw(st.sampled_from(['申报人 <fuzz@example.com>', 'fuzz@example.com', 'MAILER-DAEMON@x', '', OWN]))}",
           f"To: {OWN}", f"Subject: {draw(st.one_of(st.just('试点申报材料'), header_text()))}"]
    for _ in range(draw(st.integers(0, 5))):
        top.append(f"{draw(st.sampled_from(HEADER_NAMES))}: {draw(header_text())}")
    head = "\r\n".join(top).encode("utf-8", "surrogatepass") + b"\r\nMIME-Version: 1.0\r\n"
    return head + draw(mime_part())


@lru_cache(maxsize=None)
def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("申报书.docx", real_forms()[0])
        zf.writestr("inner.zip", b"PK\x05\x06" + b"\x00" * 18)
    return buf.getvalue()


@lru_cache(maxsize=None)
def zip_slip() -> bytes:
    """Members that try to leave any extraction directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../../../tmp/intake-zip-slip.txt", b"escaped")
        zf.writestr("/tmp/intake-zip-abs.txt", b"escaped")
        zf.writestr("dir/../../up.docx", real_forms()[1])
    return buf.getvalue()


@lru_cache(maxsize=None)
def sevenz_slip() -> bytes:
    """A 7z archive (extracted through a temp dir; py7zr refuses to write '../' names)."""
    try:
        import py7zr
    except ImportError:
        return b"7z\xbc\xaf\x27\x1c" + b"\x00" * 26
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        z.writestr(b"escaped", "sub/dir/note.txt")
        z.writestr(real_forms()[0], "申报书.docx")
    return buf.getvalue()


def all_mail_inputs() -> st.SearchStrategy[bytes]:
    seeds = by_index(seed_mails())
    return st.one_of(generated_mail(), mutated(seeds), st.binary(max_size=2000), seeds)


def cheap_mail_inputs() -> st.SearchStrategy[bytes]:
    seeds = by_index(cheap_seed_mails())
    return st.one_of(generated_mail(), generated_mail(), mutated(seeds), st.binary(max_size=500))


@st.composite
def xml_mutated_docx(draw) -> bytes:
    """A real form with its XML (document.xml or another part) edited inside the zip."""
    base = draw(by_index(real_forms()))
    zin = zipfile.ZipFile(io.BytesIO(base))
    names = zin.namelist()
    target = draw(st.sampled_from([n for n in names if n.endswith(".xml")] or names))
    xml = zin.read(target)
    edit = draw(st.sampled_from(["cut", "tag", "entity", "deep", "swap_text", "empty", "drop_part", "garbage", "dup_part"]))
    pos = draw(st.integers(0, max(len(xml) - 1, 0)))
    if edit == "cut":
        xml = xml[:pos] + xml[pos + draw(st.integers(1, 500)):]
    elif edit == "tag":
        xml = xml[:pos] + draw(st.sampled_from([b"<w:tc>", b"</w:tr>", b"<w:t>", b"<", b"&", b"]]>", b"<w:p/>"])) + xml[pos:]
    elif edit == "entity":
        bomb = b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY e SYSTEM "file:///etc/passwd">]>'
        xml = re.sub(rb"^(<\?xml[^>]*\?>)?", lambda m: (m.group(0) or b"") + bomb, xml, count=1).replace(b"<w:t>", b"<w:t>&c;&e;", 3)
    elif edit == "deep":
        depth = draw(st.integers(100, 5000))
        xml = xml[:pos] + b"<w:p>" * depth + b"</w:p>" * depth + xml[pos:]
    elif edit == "swap_text":
        texts = re.findall(rb"<w:t(?: [^>]*)?>([^<]*)</w:t>", xml)
        if texts:
            victim = draw(st.sampled_from(texts))
            xml = xml.replace(victim, draw(st.text(max_size=30)).encode("utf-8", "surrogatepass"), 1)
    elif edit == "empty":
        xml = b""
    elif edit == "garbage":
        xml = draw(st.binary(max_size=200))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in names:
            if name == target and edit == "drop_part":
                continue
            zout.writestr(name, xml if name == target else zin.read(name))
            if name == target and edit == "dup_part":
                zout.writestr(name, b"<x/>")
    return out.getvalue()


def docx_inputs() -> st.SearchStrategy[bytes]:
    forms = by_index(real_forms())
    return st.one_of(mutated(forms, max_ops=3), xml_mutated_docx(), xml_mutated_docx(), st.binary(max_size=300))


# ---- the tests -----------------------------------------------------------------------


@fuzz_settings(MIME_N, deadline_s=10)
@given(data=all_mail_inputs())
def test_parse_mail_never_raises(data, sandbox):
    from pipeline.mime import parse_mail

    with watchdog(20):
        mail = parse_mail(raw(data), own_addresses=frozenset({OWN}))
    assert isinstance(mail, Mail)
    assert isinstance(mail.problems, tuple) and all(isinstance(f, Finding) for f in mail.problems)
    assert all(isinstance(a.data, bytes) and a.kind for a in mail.attachments)
    assert mail.sha256 == hashlib.sha256(data).hexdigest()
    sandbox.check()


CONTROL_CHARACTERS_IN_FROM = (
    b"From: \xe5\xbc\xa0\xe4\xb8\x89 <zhangsan@exam\xed\xa6\xc3\xee9\x7f$%[\x84\x9b`\x8e\x05X\x98\xa8\xaf\x84y"
    b"\x94\x9e\xbc\xe4\xa3R\xed\x0c\xfaM\xf11fple.cn>\r\nTo: kpzx350@163.com\r\nSubject: =?gbk?B?v8bG1c8=?=\r\n"
    b"Date: Mon, 02 Jun 2025 10:15:00 +0800\r\nMessage-ID: <20250602101500.1@example.cn>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xe8\xaf\x95\xe7\x82\xb9\xe7\x94\xb3\xe6\x8a\xa5\r\n"
)


def test_ingest_and_judge_never_raise(sandbox):
    pipe = Pipeline(sandbox.storage)
    counter = iter(range(10**9))

    @fuzz_settings(INGEST_N, deadline_s=30)
    @given(data=cheap_mail_inputs())
    @example(data=CONTROL_CHARACTERS_IN_FROM)  # once found: a form feed in the address broke our To: header
    def one(data):
        # a distinct arrival time per example, so replies are not held by the per-day limit logic alone
        when = datetime(2025, 6, 20, 10, tzinfo=CST) + timedelta(minutes=next(counter))
        with watchdog(60):
            category = pipe.runner.ingest(raw(data, when))
            pipe.runner.judge_all()
        assert category in {"application", "no_reply", "other", "duplicate"}
        sha = hashlib.sha256(data).hexdigest()
        row = pipe.store.one("SELECT * FROM mails WHERE sha256=?", (sha,))
        assert row is not None, "mail not recorded"
        if row["applicant"]:
            app = pipe.store.one("SELECT * FROM applicants WHERE key=?", (row["applicant"],))
            assert app is not None and app["status"], f"applicant {row['applicant']} has no recorded verdict"
        sandbox.check(f"category={category}")

    try:
        one()
        assert pipe.store.one("PRAGMA integrity_check")["integrity_check"] == "ok"
        for r in pipe.store.rows("SELECT raw_path FROM mails"):
            assert Path(r["raw_path"]).resolve().is_relative_to(sandbox.storage.resolve())
        for r in pipe.store.rows("SELECT path FROM files"):
            assert Path(r["path"]).resolve().is_relative_to(sandbox.storage.resolve())
    finally:
        pipe.close()


@fuzz_settings(DOCX_N, deadline_s=10)
@given(data=docx_inputs())
def test_read_form_never_raises(data, sandbox):
    from pipeline.forms.docx import read_form

    with watchdog(20):
        app = read_form(data)
    assert isinstance(app, Application)
    assert all(isinstance(f, Finding) for f in app.problems)
    sandbox.check()


@fuzz_settings(PDF_N, deadline_s=90)
@given(data=st.one_of(mutated(by_index(real_pdfs()), max_ops=3), by_index(real_pdfs()).map(lambda b: b[:200] + b"%PDF-1.7\n" + b[200:]),
                      st.binary(max_size=200).map(lambda b: b"%PDF-1.4\n" + b)))
def test_read_pdf_never_raises(data, sandbox):
    from pipeline.forms.pdf import read_pdf

    with watchdog(120):
        facts = read_pdf(data, timeout=60)
    assert isinstance(facts, PdfFacts)
    assert all(isinstance(f, Finding) for f in facts.problems)
    sandbox.check()
