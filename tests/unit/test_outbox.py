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


@pytest.mark.parametrize("to", ["a@x.cn, b@y.cn", "a@x.cn;b@y.cn", "not an address", "", "王五",
                                "zhangwei_wb@126.com。", "zhangwei_wb@126.com，", "ｚｈａｎｇ@126.com", "a@126.com."])
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


def test_a_refused_typed_address_is_shown_back_to_staff():
    """`resend --to "x@126.com。"` (copied from a chat) ended in a traceback; staff must see what they typed."""
    from pipeline.outbox import address_refusal, usable_address

    assert usable_address("mailto:ZhangWei_wb@126.com") == "zhangwei_wb@126.com"  # as a mail client copies it
    line = address_refusal("zhangwei_wb@126.com。")
    assert "“zhangwei_wb@126.com。”" in line and "“。”" in line and "\n" not in line


@pytest.mark.parametrize("to", ["whkx@-163.com", "whkx@163-.com", "whkx@163.c", "whkx@mail.-x.cn", "whkx@163.com-"])
def test_a_resend_to_a_domain_that_cannot_exist_is_refused(to):
    """`--to whkx@-163.com` or `whkx@163.c` (a slip of the finger) was taken: the unit's address
    changed to one no mail reaches (QA round 11)."""
    from pipeline.outbox import address_refusal, usable_address

    assert usable_address(to) is None
    line = address_refusal(to)
    assert f"“{to}”" in line and "域名" in line and "\n" not in line, line


@pytest.mark.parametrize("to", ["whkx@163.com", "kx@原阳.中国", "kx@xn--8mr626m.xn--fiqs8s", "a@x-y.edu.cn", "a@x.io"])
def test_real_domains_stay_usable_for_a_resend(to):
    from pipeline.outbox import usable_address

    assert usable_address(to) == to


class Sink:
    """A real SMTP server on loopback (aiosmtpd), with or without SMTPUTF8."""

    def __init__(self, smtputf8: bool):
        import socket

        from aiosmtpd.controller import Controller

        self.got: list[tuple[list[str], list[str], bytes]] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8)

    async def handle_DATA(self, server, session, envelope):
        self.got.append((envelope.rcpt_tos, envelope.mail_options, envelope.original_content or envelope.content))
        return "250 OK"


@pytest.mark.parametrize("smtputf8", [False, True])
def test_a_recipient_in_chinese_is_sent_or_fails_alone_never_the_run(tmp_path, smtputf8):
    """A mail from 张三@例子.中国: smtplib raised UnicodeEncodeError at RCPT, the poll died with a
    traceback, the reply stayed 'sending' (then 不确定是否送达) and later replies were not sent."""
    from email import message_from_bytes, policy

    from pipeline.config import SmtpConfig
    from pipeline.outbox import SmtpTransport

    store = Store.open(tmp_path / "intake.db")
    eml = tmp_path / "r.eml"
    # As replies.build_message writes such an address: encoded words on both sides of the @.
    eml.write_bytes(b"From: us@163.com\r\nTo: =?utf-8?b?5byg5LiJ?=@=?utf-8?b?5L6L5a2QLuS4reWbvQ==?=\r\n"
                    b"Subject: s\r\n\r\nbody\r\n")
    for i, to in enumerate(["张三@例子.中国", "zhangsan@例子.中国", "ok@qq.com"]):
        with store.transaction():
            store.db["outbox"].insert({"applicant": f"a{i}", "to_addr": to, "trigger_mail": f"m{i}", "eml_path": str(eml),
                                       "state": "rendered", "created_at": iso(now_utc())})
    sink = Sink(smtputf8)
    sink.controller.start()
    try:
        transport = SmtpTransport(SmtpConfig("127.0.0.1", sink.port, "", "", "us@163.com", ssl=False, timeout=5))
        sent, error = deliver(store, transport, "x <us@163.com>")
        transport.close()
    finally:
        sink.controller.stop()
    rows = store.outbox()
    store.close()
    assert error is None
    rcpts = [rcpt for rcpt, _, _ in sink.got]
    if smtputf8:
        assert sent == 3 and [r["state"] for r in rows] == ["sent"] * 3
        assert rcpts[0] == ["张三@xn--fsqu00a.xn--fiqs8s"] and "SMTPUTF8" in sink.got[0][1]
        assert message_from_bytes(sink.got[0][2], policy=policy.SMTPUTF8)["To"] == "张三@例子.中国"
    else:
        assert sent == 2 and [r["state"] for r in rows] == ["failed", "sent", "sent"]
        assert "收件地址含中文字符" in rows[0]["error"] and "resend" in rows[0]["error"]
        assert rcpts[0] == ["zhangsan@xn--fsqu00a.xn--fiqs8s"]  # the domain alone is converted, not refused
    to = message_from_bytes(sink.got[-2][2], policy=policy.default)["To"]
    assert str(to) in ("zhangsan@xn--fsqu00a.xn--fiqs8s", "zhangsan@例子.中国")
    assert rcpts[-1] == ["ok@qq.com"]  # the run went on


def test_an_unforeseen_error_while_sending_is_one_line_not_a_crash(store):
    """A bug in sending must end the run with a recorded error, not a traceback that leaves the
    run recorded as killed (运行未正常结束) and every later reply unsent for good."""
    sent, error = deliver(store, Script([None, RuntimeError("boom")]), "x <a@163.com>")
    assert sent == 1 and "程序错误" in error and "RuntimeError" in error
    assert states(store) == ["sent", "uncertain", "rendered", "rendered", "rendered"]
