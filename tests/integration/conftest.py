"""Fixtures for tests against real servers on loopback (see servers.py).

dovecot    function-scoped DovecotServer, started; stopped and removed after the test
           (also when it fails). On failure its log is attached to the report.
smtp_sink  function-scoped SmtpSink, started; stopped after the test.

Every test collected from this folder gets the `integration` marker, so
`pytest -m "not integration"` leaves them out.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

if __package__:  # tests/integration is a package (has __init__.py)
    from .servers import DovecotServer, SmtpSink, require_dovecot
else:  # rootdir-less "prepend" import: this folder is on sys.path
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from servers import DovecotServer, SmtpSink, require_dovecot


def pytest_configure(config):
    # SmtpSink(require_auth=True) is AUTH without TLS on purpose (loopback, like 163's tests)
    config.addinivalue_line("filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.hookimpl(tryfirst=True)  # before -m deselection runs
def pytest_collection_modifyitems(config, items):
    # this hook sees the whole session's items, not only this folder's
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report shows the Dovecot log and what the SMTP sink saw."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    server = funcargs.get("dovecot")
    if isinstance(server, DovecotServer):
        report.sections.append(("dovecot log", server.log_text(200) or "(empty)"))
    sink = funcargs.get("smtp_sink")
    if isinstance(sink, SmtpSink):
        lines = [f"{m.mail_from} -> {m.rcpt_tos} ({len(m.data)} bytes)" for m in sink.messages]
        lines += [f"event {e}" for e in sink.events] + [f"auth {a[0]} {a[1]}" for a in sink.auth_logins]
        report.sections.append(("smtp sink", "\n".join(lines) or "(nothing received)"))


@pytest.fixture
def dovecot():
    """A started private Dovecot (user kpzx350@163.com / secret); gone after the test."""
    require_dovecot()
    server = DovecotServer()
    server.start()  # on failure start() cleans up itself and raises with the Dovecot log
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_sink():
    """A started SmtpSink on 127.0.0.1; stopped after the test."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
