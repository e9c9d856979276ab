"""Tell staff when intake has stopped working, and when it works again.

A cron job that fails quietly (expired authorization code, locked mailbox)
looks exactly like a quiet mailbox. After `alert_after_failures` failed polls
in a row, or when no poll has succeeded for `alert_after_hours`, one alert
goes to the staff addresses; one 'recovered' message follows the first
successful poll after that. The `alerts` table remembers which was sent last.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .config import Config
from .errors import IntakeError
from .store import Store, failed_in_a_row, iso, parse_iso

if TYPE_CHECKING:
    from email.message import EmailMessage

log = logging.getLogger(__name__)
TZ = ZoneInfo("Asia/Shanghai")


def health(store: Store, now: datetime, *, failures: int, hours: float) -> str | None:
    """'failing', 'recovered' or None: which staff message this moment calls for."""
    runs = store.finished_polls(200)
    if not runs:
        return None
    last = store.one("SELECT kind FROM alerts ORDER BY id DESC LIMIT 1")
    alerted = bool(last and last["kind"] == "failing")
    if runs[0]["ok"]:
        return "recovered" if alerted else None
    streak = failed_in_a_row(runs)
    last_ok = store.last_good_poll()
    since = parse_iso(last_ok) if last_ok else parse_iso(runs[-1]["finished_at"])
    if since is not None and since > now:
        # The clock was set back since that success (it ran ahead): the outage is at least as old
        # as its first failure, stamped by the corrected clock (QA round 10: the alert came a day late).
        since = parse_iso(runs[max(streak - 1, 0)]["finished_at"])
    stale = since is not None and now - since >= timedelta(hours=hours)
    if (streak >= failures or stale) and not alerted:
        return "failing"
    return None


def _message(cfg: Config, store: Store, kind: str, to: str, now: datetime) -> "EmailMessage":
    last = store.one("SELECT error, finished_at FROM runs WHERE command='poll' ORDER BY id DESC LIMIT 1") or {}
    last_ok = store.last_good_poll()
    ok_text = parse_iso(last_ok).astimezone(TZ).strftime("%Y-%m-%d %H:%M") if last_ok else "从未成功"
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = cfg.smtp.sender
    msg["To"] = to
    msg["Date"] = format_datetime(now.astimezone(TZ))
    msg["Message-ID"] = make_msgid(idstring="alert", domain=parseaddr(cfg.smtp.sender)[1].rpartition("@")[2] or "intake.local")
    msg["Auto-Submitted"] = "auto-generated"
    if kind == "failing":
        msg["Subject"] = "【intake 告警】申报邮件自动受理已停止工作"
        body = (
            "申报邮件自动受理（intake）最近几次运行都失败了，新的申报邮件可能没有被处理和回复。\n\n"
            f"最近一次错误：{last.get('error') or '未知'}\n"
            f"上次成功运行：{ok_text}\n\n"
            "常见原因：邮箱授权码过期或被修改、邮箱被锁定、网络中断。请维护人员检查；修复后会收到“已恢复”的通知。\n"
            "在此期间请工作人员直接查看工作邮箱。"
        )
    else:
        msg["Subject"] = "【intake 恢复】申报邮件自动受理已恢复工作"
        body = f"申报邮件自动受理（intake）已恢复正常运行（{now.astimezone(TZ):%Y-%m-%d %H:%M}），期间收到的邮件会被补充处理。"
    msg.set_content(body)
    return msg


def notify(cfg: Config, store: Store, now: datetime) -> str | None:
    """Send the alert or recovery message the run history calls for; never raises."""
    if not cfg.staff or cfg.smtp is None:
        return None
    kind = health(store, now, failures=cfg.alert_after_failures, hours=cfg.alert_after_hours)
    if kind is None:
        return None
    try:
        from .outbox import send_to_staff  # smtplib only when an alert goes out

        send_to_staff(cfg.smtp, cfg.staff, lambda to: _message(cfg, store, kind, to, now).as_bytes())
    except IntakeError as exc:
        log.warning("staff alert could not be sent: %s", exc)
        return None  # tried again after the next poll
    with store.transaction():
        store.db["alerts"].insert({"kind": kind, "at": iso(now), "to_addrs": ",".join(cfg.staff)})
    return kind
