"""The outbox state machine and the throttle (scripted transport at the SMTP seam)."""
from __future__ import annotations


import pytest

from pipeline.outbox import PermFailure, TempFailure, Throttle, Uncertain, deliver
from pipeline.store import Store, iso, now_utc


class Script:
    """Answers each send with the next scripted outcome (None = accepted)."""

    def __init__(self, outcomes=()):
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    def send(self, sender, to, data):
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(to)

    def close(self):
        pass


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "intake.db")
    for i in range(5):
        eml = tmp_path / f"{i}.eml"
        eml.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
        with s.transaction():
            s.db["outbox"].insert(
                {"applicant": f"a{i}", "to_addr": f"a{i}@qq.com", "trigger_mail": f"m{i}", "eml_path": str(eml),
                 "state": "rendered", "created_at": iso(now_utc())}
            )
    yield s
    s.close()


def states(store):
    return [r["state"] for r in store.outbox()]


def test_each_outcome_lands_in_its_state(store):
    script = Script([None, TempFailure("451 try later"), PermFailure("550 no such user"), Uncertain("reset"), None])
    sent, error = deliver(store, script, "x <kpzx350@163.com>")
    assert (sent, error) == (2, None)
    assert states(store) == ["sent", "rendered", "failed", "uncertain", "sent"]
    # the 451 one goes out on the next run; nothing else is sent again
    sent, _ = deliver(store, Script(), "x <kpzx350@163.com>")
    assert sent == 1 and states(store) == ["sent", "sent", "failed", "uncertain", "sent"]


def test_163_rate_limit_stops_the_run(store):
    sent, error = deliver(store, Script([None, TempFailure("451 MI:SFQ too many")]), "x <a@163.com>")
    assert sent == 1 and "发信受限" in error
    assert states(store).count("rendered") == 4


def test_per_run_and_per_day_budgets(store):
    sent, _ = deliver(store, Script(), "x", throttle=Throttle(per_minute=100, per_run=2, per_day=100))
    assert sent == 2
    sent, error = deliver(store, Script(), "x", throttle=Throttle(per_minute=100, per_run=100, per_day=3))
    assert sent == 1 and "上限" in error
    assert states(store).count("rendered") == 2


def test_per_minute_waits_instead_of_bursting(store):
    waits: list[float] = []
    sent, _ = deliver(store, Script(), "x", throttle=Throttle(per_minute=2, per_run=100, per_day=100), sleep=waits.append)
    assert sent == 5
    assert len(waits) == 3 and all(55 < w <= 60 for w in waits)


def test_an_older_database_gets_new_columns(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "intake.db")
    old.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, applicant TEXT, state TEXT)")
    old.execute("INSERT INTO outbox (applicant, state) VALUES ('a', 'sent')")
    old.commit()
    old.close()
    store = Store.open(tmp_path / "intake.db")
    assert {"filed", "eml_path", "trigger_mail"} <= set(store.db["outbox"].columns_dict)
    assert [r["state"] for r in store.outbox()] == ["sent"]
    store.close()


@pytest.mark.parametrize("to", ["a@x.cn, b@y.cn", "a@x.cn;b@y.cn", "not an address", "", "王五"])
def test_a_resend_goes_to_one_usable_address_only(to):
    from pipeline.outbox import readdressed

    assert readdressed(b"To: old@x.cn\r\nSubject: s\r\n\r\nbody\r\n", to) is None


def test_a_resend_rewrites_only_the_to_header():
    from pipeline.outbox import readdressed

    to, data = readdressed(b"From: us@163.com\r\nTo: old@x.cn\r\nSubject: s\r\n\r\nbody\r\n", "王五 <WangWu@163.com>")
    assert to == "wangwu@163.com" and b"To: wangwu@163.com" in data and b"old@x.cn" not in data and data.endswith(b"body\r\n")


def test_a_refused_connection_is_told_in_words_staff_can_act_on():
    """status and the digest printed '[Errno 111] Connection refused'."""
    import socket

    from pipeline.config import SmtpConfig
    from pipeline.errors import SmtpError
    from pipeline.outbox import SmtpTransport

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    transport = SmtpTransport(SmtpConfig("127.0.0.1", port, "", "", "a@b.cn", ssl=False, timeout=5))
    with pytest.raises(SmtpError) as caught:
        transport.send("a@b.cn", "c@d.cn", b"Subject: x\r\n\r\nx")
    assert "连接被拒绝" in str(caught.value) and "Errno" not in str(caught.value)
