"""The time limit on in-process parsing: a file or mail that would keep the poll busy
(and hold the lock every later cron run waits on) becomes a recorded problem."""
from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest

from pipeline import deadline


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_busy_work_is_interrupted_and_the_handler_restored():
    before = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    assert deadline.call(0.2, spin, 5) == (None, True)
    assert time.monotonic() - started < 2
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_quick_work_is_untouched_and_exceptions_still_escape_by_themselves():
    assert deadline.call(5, sum, range(1000)) == (499500, False)
    with pytest.raises(ValueError):
        deadline.call(5, int, "x")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_parser_catching_exception_cannot_swallow_it():
    def tolerant():
        try:
            spin(5)
        except Exception:  # what read_form and parse_mail do
            return "swallowed"

    assert deadline.call(0.2, tolerant) == (None, True)


class Outer(BaseException):
    pass


def outer_timer(seconds: float):
    def fire(signum, frame):
        raise Outer()

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def test_a_shorter_timer_of_the_caller_fires_as_its_own():
    """A test's (or a caller's) watchdog must still see its hang: not a 'too complex' result."""
    before = signal.getsignal(signal.SIGALRM)
    try:
        outer_timer(0.2)
        with pytest.raises(Outer):
            deadline.call(5, spin, 5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def test_a_longer_timer_of_the_caller_goes_on_afterwards():
    before = signal.getsignal(signal.SIGALRM)
    try:
        outer_timer(1.0)
        assert deadline.call(0.2, spin, 5) == (None, True)
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0.3 < left < 0.85
        with pytest.raises(Outer):
            spin(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def test_outside_the_main_thread_there_is_no_limit():
    seen = []
    t = threading.Thread(target=lambda: seen.append(deadline.call(0.05, spin, 0.2)))
    t.start()
    t.join()
    assert seen == [(None, False)]


def test_a_word_file_that_keeps_the_reader_busy_is_a_problem_not_a_hung_poll(tmp_path, monkeypatch):
    """A docx that made the reader loop (nested content controls) held the poll for good."""
    from pipeline import run
    from pipeline.forms import docx
    from pipeline.samples.apps import sample_applications
    from pipeline.samples.forms import build_form_docx
    from pipeline.samples.pdfs import build_form_pdf
    from pipeline_harness import Pipeline
    from test_pipeline_corpus import ON_TIME, form_mail, reply_text

    app = sample_applications()[0]
    real = docx.read_form
    slow = build_form_docx(app)

    def read_form(data):
        if data == slow:
            spin(30)
        return real(data)

    monkeypatch.setattr(docx, "read_form", read_form)
    monkeypatch.setattr(run, "WORD_SECONDS", 0.3)
    pipe = Pipeline(tmp_path)
    try:
        started = time.monotonic()
        pipe.feed(form_mail("a@qq.com", [("申报书.docx", slow), ("盖章版.pdf", build_form_pdf(app))]))
        pipe.judge()
        assert time.monotonic() - started < 10
        (row,) = pipe.rows("SELECT * FROM applicants")
        assert row["status"] == "needs_correction"
        (reply,) = pipe.rows("SELECT * FROM outbox")
        assert "结构过于复杂" in reply_text(reply)
    finally:
        pipe.close()


def test_a_mail_that_keeps_the_parser_busy_is_recorded_unparseable(monkeypatch):
    import hashlib
    from datetime import datetime, timezone

    from pipeline import mime
    from pipeline.models import RawMail

    monkeypatch.setattr(mime, "_parse", lambda raw, own, clock: spin(30))
    data = b"From: a@qq.com\r\nSubject: x\r\nMessage-ID: <m1@qq.com>\r\n\r\nbody"
    raw = RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import",
                  received_at=datetime(2025, 6, 20, tzinfo=timezone.utc))
    started = time.monotonic()
    mail = mime.parse_mail(raw, seconds=0.3)
    assert time.monotonic() - started < 5
    assert mail.sender == "a@qq.com" and mail.no_reply_reason
    assert "解析超时" in mail.problems[0].message
