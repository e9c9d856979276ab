"""Deliver the outbox: rendered -> sending -> sent | failed | uncertain.

A reply is marked 'sending' (committed) before the SMTP transaction starts, so
a crash mid-send leaves it 'sending', which the next run turns into
'uncertain' for staff instead of sending it twice. 4xx answers (including
163's rate limits) put it back to 'rendered' for the next run.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
import smtplib
import socket
import ssl as ssl_mod
from email.utils import parseaddr
from pathlib import Path
from typing import Callable, Protocol

from . import failpoints
from .config import SmtpConfig
from .errors import SmtpError, connection_reason
from .store import Store, day_ago

log = logging.getLogger(__name__)


BARE_LF = re.compile(rb"(?<!\r)\n")


class TempFailure(Exception):
    """The server said 'later' (4xx): keep the reply queued."""


class PermFailure(Exception):
    """The server refused this reply for good (5xx)."""


class Uncertain(Exception):
    """The connection broke mid-transaction: it may have been delivered."""


class Transport(Protocol):
    def send(self, sender: str, to: str, data: bytes) -> None: ...
    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP session for a run; connection problems raise SmtpError."""

    def __init__(self, cfg: SmtpConfig):
        self.cfg = cfg
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        context = ssl_mod.create_default_context()
        try:
            if cfg.ssl:
                conn = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.starttls:
                    conn.starttls(context=context)
            conn.ehlo_or_helo_if_needed()
            if cfg.user and conn.has_extn("auth"):
                conn.login(cfg.user, cfg.password())
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpError(f"发信服务器登录失败（{cfg.user}）：请检查授权码（{exc.smtp_code}）") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpError(f"无法连接发信服务器 {cfg.host}:{cfg.port}：{connection_reason(exc)}") from exc
        return conn

    def send(self, sender: str, to: str, data: bytes) -> None:
        if self.conn is None:
            self.conn = self._connect()
        envelope_from = parseaddr(sender)[1]
        data = BARE_LF.sub(b"\r\n", data)  # smtplib sends bytes as they are; SMTP wants CRLF
        try:
            refused = self.conn.sendmail(envelope_from, [to], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, msg = next(iter(exc.recipients.values()))
            raise (TempFailure if 400 <= code < 500 else PermFailure)(f"{code} {_text(msg)}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TempFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
            raise PermFailure(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPServerDisconnected, OSError, socket.timeout) as exc:
            self.conn = None
            raise Uncertain(str(exc)[:200] or type(exc).__name__) from exc
        if refused:
            code, msg = next(iter(refused.values()))
            raise PermFailure(f"{code} {_text(msg)}")

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except Exception:  # the server may already be gone
                pass
            self.conn = None


class DirectoryTransport:
    """`intake demo`: replies are written as .eml files instead of sent."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def send(self, sender: str, to: str, data: bytes) -> None:
        self.count += 1
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in to)[:60]
        (self.out_dir / f"{self.count:03d}-{safe}.eml").write_bytes(data)

    def close(self) -> None:
        pass


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:200]


@dataclass(frozen=True)
class Throttle:
    """How fast replies may go out (163.com answers bursts with 451 MI:SFQ)."""

    per_minute: int = 30
    per_run: int = 200
    per_day: int = 1000


def deliver(
    store: Store,
    transport: Transport,
    sender: str,
    *,
    throttle: Throttle = Throttle(),
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, str | None]:
    """Send every queued reply; return (sent, error of the run or None).

    A connection problem stops delivery (the rest stay queued) and is returned
    so the run can end non-zero; per-reply problems are recorded on the reply.
    Over the per-run or per-day budget the rest wait for a later run; within a
    run, at most `per_minute` replies go out in any 60 seconds.
    """
    sent = 0
    recent: list[float] = []
    for row in store.outbox(("rendered",)):
        if sent >= throttle.per_run:
            break
        if store.sent_since(day_ago()) >= throttle.per_day:
            return sent, f"今日已发送 {throttle.per_day} 封回复（上限），其余留待明天发送"
        if len(recent) >= throttle.per_minute:
            wait = 60 - (time.monotonic() - recent[-throttle.per_minute])
            if wait > 0:
                sleep(wait)
        recent.append(time.monotonic())
        data = Path(row["eml_path"]).read_bytes()
        store.set_reply_state(row["id"], "sending")
        failpoints.hit("reply.sending")
        try:
            transport.send(sender, row["to_addr"], data)
            failpoints.hit("reply.sent")
        except TempFailure as exc:
            store.set_reply_state(row["id"], "rendered", f"暂时无法发送，下次运行重试：{exc}")
            if "MI:" in str(exc):  # 163 rate limit: stop for this run
                return sent, f"发信受限（{exc}），其余回复留待下次发送"
            continue
        except PermFailure as exc:
            store.set_reply_state(row["id"], "failed", f"对方服务器拒收：{exc}")
            continue
        except Uncertain as exc:
            store.set_reply_state(row["id"], "uncertain", f"发送中断，无法确认是否送达：{exc}")
            continue
        except SmtpError as exc:
            store.set_reply_state(row["id"], "rendered", str(exc))
            return sent, str(exc)
        store.set_reply_state(row["id"], "sent")
        sent += 1
    return sent, None


def send_to_staff(smtp: SmtpConfig, addresses: tuple[str, ...], build: Callable[[str], bytes]) -> int:
    """Send `build(address)` to each staff address over one session; any failure raises SmtpError.

    Staff mail (digests, alerts) does not go through the outbox: it is about
    intake itself, and the caller decides what a failure means.
    """
    transport = SmtpTransport(smtp)
    sent = 0
    try:
        for to in addresses:
            try:
                transport.send(smtp.sender, to, build(to))
            except (TempFailure, PermFailure, Uncertain) as exc:
                raise SmtpError(f"发送给 {to} 失败：{exc}") from exc
            sent += 1
    finally:
        transport.close()
    return sent


def readdressed(data: bytes, to: str) -> tuple[str, bytes] | None:
    """A rendered reply's bytes with its To: changed to a corrected address (staff resend),
    or None when `to` is no usable address. Everything else is sent as it was."""
    import email

    from .replies import WIRE_POLICY

    from .config import plain_address

    # One address: a list would send the letter (and the unit's later ones) to the first only.
    addr = plain_address(to)
    if addr is None:
        return None
    msg = email.message_from_bytes(data, policy=WIRE_POLICY)
    del msg["To"]
    msg["To"] = addr
    return addr, msg.as_bytes(policy=WIRE_POLICY)
