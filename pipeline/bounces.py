"""Bounces of our own replies: which reply came back, to whom, and why.

A delivery report (163's 系统退信, another server's DSN) carries the returned
mail's headers. Matching its Message-ID to the outbox tells staff whose receipt
or correction notice never arrived, so they can phone the unit; the report
itself is still never answered. Pure: bytes in, a `Bounce` or None out.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy

# Our replies' ids: make_msgid(idstring="intake") writes <time.pid.random.intake@domain>.
OUR_ID = re.compile(r"<[^<>\s@]{1,200}\.intake@[^<>\s]{1,200}>")
_ADDRESS = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_MAX_PARTS = 50
_MAX_TEXT = 200_000


@dataclass(frozen=True)
class Bounce:
    message_ids: tuple[str, ...]  # ours, found in the returned headers or text
    recipients: tuple[str, ...]  # the addresses that failed (DSN Final-Recipient), when said
    reason: str  # the server's words (Diagnostic-Code or Status), short


def read_bounce(data: bytes) -> Bounce | None:
    """The bounce of one of our replies in a mail, or None (not ours, only delayed, unreadable)."""
    try:
        msg = email.message_from_bytes(data, policy=policy.compat32)
    except Exception:  # noqa: BLE001 - a report we cannot read links nothing
        return None
    if not _looks_returned(msg):
        return None  # an auto-reply or a person attaching our mail is no bounce
    ids: list[str] = []
    recipients: list[str] = []
    reasons: list[str] = []
    actions: list[str] = []
    for n, part in enumerate(msg.walk()):
        if n >= _MAX_PARTS:
            break
        if part is not msg:  # a returned message's own header (the report's is not ours)
            ids += OUR_ID.findall(str(part.get("Message-ID", "")))
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in _status_blocks(part):
                action = block.get("action", "").lower()
                actions.append(action)
                if action and action != "failed":
                    continue
                if (recipient := _ADDRESS.search(block.get("final-recipient", "") or block.get("original-recipient", ""))):
                    recipients.append(recipient.group(0).lower())
                reason = block.get("diagnostic-code", "") or block.get("status", "")
                if reason:
                    reasons.append(reason.split(";", 1)[-1].strip())
        elif not part.is_multipart():
            ids += OUR_ID.findall(_text(part))
        elif ctype == "message/rfc822" and str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
            ids += OUR_ID.findall(_base64_message(part))  # Exchange returns the mail base64-encoded
    acted = [a for a in actions if a]
    if acted and "failed" not in acted:
        return None  # only 'delayed' or 'delivered': the reply is still on its way
    ids = list(dict.fromkeys(ids))
    if not ids:
        return None
    reason = " ".join(" ".join(dict.fromkeys(reasons)).split())[:200]
    return Bounce(tuple(ids), tuple(dict.fromkeys(recipients)), reason)


_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (sub)?system", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"退信|无法投递|未能投递|投递失败|发送失败|undeliver|delivery status notification|delivery failure|"
    r"failure notice|mail delivery failed|returned mail|non-delivery", re.I)


def _looks_returned(msg) -> bool:
    """A delivery report by its type, its sender or its subject (163's 系统退信 is a plain mail)."""
    if msg.get_content_type() == "multipart/report":
        return True
    from email.header import decode_header, make_header

    def header(name: str) -> str:
        try:
            return str(make_header(decode_header(str(msg.get(name, "")))))
        except Exception:  # noqa: BLE001 - an undecodable header is read as it is
            return str(msg.get(name, ""))

    return bool(_BOUNCE_SENDER.search(header("From")) or _BOUNCE_SUBJECT.search(header("Subject")))


def _status_blocks(part) -> list[dict[str, str]]:
    """The per-message and per-recipient field groups of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parsed the groups as header blocks
        return [{k.lower(): str(v) for k, v in block.items()} for block in payload]
    blocks, current = [], {}
    for line in str(payload or "").splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
        elif ":" in line and not line[0].isspace():
            key, _, value = line.partition(":")
            current[key.strip().lower()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _text(part) -> str:
    """A leaf part's text, decoded from its transfer encoding (text/rfc822-headers, a
    returned message kept as text, the report's own words): ids are ASCII, no charset needed."""
    try:
        raw = part.get_payload(decode=True)
        if raw is None:
            raw = str(part.get_payload() or "").encode("latin-1", "replace")
        return raw[:_MAX_TEXT].decode("latin-1")
    except Exception:  # noqa: BLE001 - one odd part must not hide the others
        return ""


def _base64_message(part) -> str:
    """The source of a base64-encoded message/rfc822 part (the parser reads it as headers)."""
    import base64
    import binascii

    inner = part.get_payload()
    text = inner[0].as_string() if isinstance(inner, list) and inner else str(inner or "")
    try:
        return base64.b64decode("".join(text.split()), validate=False)[:_MAX_TEXT].decode("latin-1")
    except (binascii.Error, ValueError):
        return ""
