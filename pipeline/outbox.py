"""Deliver the outbox: rendered -> sending -> sent | failed | uncertain.

A reply is marked 'sending' (committed) before the SMTP transaction starts, so
a crash mid-send leaves it 'sending', which the next run turns into
'uncertain' for staff instead of sending it twice. 4xx answers (including
163's rate limits) put it back to 'rendered' for the next run. An address the
envelope cannot carry (张三@… without SMTPUTF8, a stray 。) fails that reply
alone, never the run.
"""
from __future__ import annotations

import logging
import re
import time
import unicodedata
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


class Undeliverable(Exception):
    """Nothing was sent and a retry would not change that: the message is the Chinese reason staff read."""


class BadRecipient(Undeliverable):
    """The recipient cannot go on this server's envelope: staff phone and correct it (`resend --to`)."""


# What an input method leaves in a typed or pasted address: Chinese punctuation (x@126.com。),
# full-width letters and digits, the ideographic space. Letters of other scripts may stay (张三@例子.中国).
def _stray_characters(text: str) -> str:
    odd = (
        c for c in text
        if ord(c) > 127 and (unicodedata.category(c)[0] in "PSZC" or 0xFF01 <= ord(c) <= 0xFF5E)
    )
    return "".join(dict.fromkeys(odd))


def envelope_address(addr: str) -> tuple[str, bool]:
    """`addr` as SMTP carries it, and whether that needs SMTPUTF8: the domain IDNA-encoded
    (例子.中国 → xn--…), a local part in Chinese (张三@…) only over SMTPUTF8. ValueError, in
    Chinese, for what no server can take (a trailing 。, full-width letters, an empty part)."""
    local, at, domain = addr.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError("缺少“@”前或后的部分")
    odd = _stray_characters(addr)
    if odd:
        raise ValueError(f"含中文标点或全角字符“{odd}”")
    try:
        wire = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("域名无法转换为邮件系统可用的形式") from exc
    labels = wire.split(".")
    if len(labels) < 2 or not all(labels):
        raise ValueError("域名不完整")
    return f"{local}@{wire}", not local.isascii()


def usable_address(text: str) -> str | None:
    """The one address staff typed (`resend --to`), lower-cased, when mail can go to it; else None.
    Stricter than config.plain_address: nothing an input method adds, a domain that resolves."""
    from .config import plain_address

    addr = plain_address(text)
    if addr is None:
        return None
    try:
        wire = envelope_address(addr)[0].rpartition("@")[2]
    except ValueError:
        return None
    return None if _impossible_domain(wire) else addr


def _impossible_domain(wire: str) -> str:
    """Why no mail can reach this (IDNA-encoded) domain, or "": a part starting or ending with "-"
    (whkx@-163.com) or a one-letter top level (whkx@163.c) is a slip of the finger, not a domain."""
    labels = wire.split(".")
    if any(label.startswith("-") or label.endswith("-") for label in labels):
        return "域名中“.”隔开的每一段都不能以“-”开头或结尾"
    if len(labels[-1]) < 2:
        return f"域名末尾的“.{labels[-1]}”不是顶级域名，应如 .com、.cn"
    return ""


def address_refusal(text: str) -> str:
    """One line for staff about a typed address `usable_address` refused, showing what was typed."""
    from .config import plain_address

    stripped = text.strip()
    addr = parseaddr(stripped)[1] or stripped
    why = "格式不对"
    if re.search(r"[,;，；]", stripped.rstrip(",;，；")):
        why = "只能写一个地址"
    elif _stray_characters(addr):
        why = f"含中文标点或全角字符“{_stray_characters(addr)}”"
    elif plain_address(stripped) is not None:
        try:
            wire = envelope_address(plain_address(stripped) or "")[0].rpartition("@")[2]
            why = _impossible_domain(wire) or why
        except ValueError as exc:
            why = str(exc)
    return f"“{text}”不是可用的邮箱地址（{why}），请核对后重新输入：只写一个地址，用半角字符，如 --to zhangsan@126.com"


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
        try:
            rcpt, utf8 = envelope_address(to)
        except ValueError as exc:
            raise BadRecipient(f"收件地址“{to}”无法使用（{exc}）") from exc
        if utf8 and not self.conn.has_extn("smtputf8"):
            raise BadRecipient("收件地址含中文字符，发信服务器不支持，请电话联系")
        try:
            if not to.isascii():
                # The letter's To: was written as encoded words, which no mail client reads as an address.
                data = _addressed(data, to if utf8 else rcpt, utf8=utf8)
            data = BARE_LF.sub(b"\r\n", data)  # smtplib sends bytes as they are; SMTP wants CRLF
            refused = self.conn.sendmail(envelope_from, [rcpt], data, mail_options=["SMTPUTF8"] if utf8 else [])
        except ValueError as exc:  # UnicodeError and kin: something could not be written on the wire
            self._abandon_transaction()
            raise Undeliverable(f"回复无法发出（{type(exc).__name__}：{_text(exc)}），请维护人员查看运行日志") from exc
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

    def _abandon_transaction(self) -> None:
        """A transaction that stopped half-way (MAIL FROM sent, RCPT never): RSET, so the next
        reply's MAIL FROM is not refused as nested; drop the connection if even that fails."""
        try:
            self.conn.rset()
        except (smtplib.SMTPException, OSError):
            self.conn = None

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
        except BadRecipient as exc:
            store.set_reply_state(row["id"], "failed", f"{exc}；核对邮箱后可用 intake replies resend {row['id']} --to 正确地址 重发")
            continue
        except Undeliverable as exc:
            store.set_reply_state(row["id"], "failed", str(exc))
            continue
        except SmtpError as exc:
            store.set_reply_state(row["id"], "rendered", str(exc))
            return sent, str(exc)
        except Exception as exc:  # a bug: one line for the run, the rest stay queued, no traceback for cron
            log.exception("sending reply %s failed", row["id"])
            store.set_reply_state(row["id"], "uncertain", f"发送时出现程序错误（{type(exc).__name__}），无法确认是否送达")
            return sent, f"发送回复时出现程序错误（{type(exc).__name__}），其余回复留待下次运行；请维护人员查看运行日志"
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
            except (TempFailure, PermFailure, Uncertain, Undeliverable) as exc:
                raise SmtpError(f"发送给 {to} 失败：{exc}") from exc
            sent += 1
    finally:
        transport.close()
    return sent


def readdressed(data: bytes, to: str) -> tuple[str, bytes] | None:
    """A rendered reply's bytes with its To: changed to a corrected address (staff resend),
    or None when `to` is no usable address. Everything else is sent as it was."""
    # One address: a list would send the letter (and the unit's later ones) to the first only.
    addr = usable_address(to)
    if addr is None:
        return None
    return addr, _addressed(data, addr, utf8=not addr.isascii())


def _addressed(data: bytes, to: str, *, utf8: bool) -> bytes:
    """The message with its To: replaced by `to` (raw UTF-8 when it goes over SMTPUTF8)."""
    import email

    from .replies import WIRE_POLICY

    msg = email.message_from_bytes(data, policy=WIRE_POLICY)
    del msg["To"]
    msg["To"] = to
    return msg.as_bytes(policy=WIRE_POLICY.clone(utf8=True) if utf8 else WIRE_POLICY)
