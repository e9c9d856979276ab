"""A mail over `max_mail_mb` is answered in the size the sender saw: its attachments.

The limit is on the mail as it travels (base64 and line breaks: about 1.37x the files),
because that is what the poll holds in memory. 163 showed the sender 43.9 MB of attachments
and accepted the mail; the reply said "邮件过大（60.1 MB，上限 60 MB）", two numbers the
sender had never seen. The limit is passed explicitly: the default may change.
"""
from __future__ import annotations

import base64
import dataclasses
import email
import random
import re
from email import policy
from pathlib import Path

from mail_corpus import OWN
from pipeline.run import _mail_too_large
from pipeline_harness import Pipeline

MB = 1048576
NUMBERS = re.compile(r"邮件附件合计约 ([\d.]+) MB，超过了本邮箱单封邮件能够处理的大小（附件合计约 ([\d.]+) MB 以内）")


def wire_mail(sizes: list[int], eol: bytes = b"\r\n") -> bytes:
    """A webmail's mail as it reaches the mailbox: text, then files in base64 of 76-character lines."""
    rng = random.Random(len(sizes) + sum(sizes))
    parts = [b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
             + base64.b64encode("您好，附件是我单位的申报材料，请查收。".encode()) + b"\r\n"]
    for n, size in enumerate(sizes):
        text = base64.b64encode(rng.randbytes(size))
        parts.append(f'Content-Type: application/octet-stream; name="f{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
                     f'Content-Disposition: attachment; filename="f{n}.pdf"\r\n\r\n'.encode()
                     + b"\r\n".join(text[i:i + 76] for i in range(0, len(text), 76)) + b"\r\n")
    head = (f"From: =?utf-8?B?5p2O5pmT54eV?= <78688124@163.com>\r\nTo: {OWN}\r\nSubject: =?utf-8?B?55Sz5oql5p2Q5paZ?=\r\n"
            "Date: Sat, 21 Jun 2025 09:00:00 +0800\r\nMessage-ID: <big-2@163.com>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n').encode()
    data = head + b"".join(b"--b1\r\n" + p for p in parts) + b"--b1--\r\n"
    return data if eol == b"\r\n" else data.replace(b"\r\n", eol)


def shown(message: str) -> tuple[float, float]:
    m = NUMBERS.search(message)
    assert m, message
    return float(m.group(1)), float(m.group(2))


def test_the_reply_names_the_attachments_size_not_the_mail_on_the_wire():
    """Scaled from the field: 14.7 MB of files make a 20.1 MB mail, over a 20 MB limit."""
    sizes = [int(5.9 * MB), int(8.8 * MB)]
    data = wire_mail(sizes)
    limit = 20.0
    assert len(data) > limit * MB > sum(sizes)
    message = _mail_too_large(data, limit).message
    files, within = shown(message)
    assert files == round(sum(sizes) / MB)  # "约 15 MB": what the sender's client showed, rounded
    assert within < files and abs(within - limit * 0.73) < 1  # the limit in the same measure
    assert f"{len(data) / MB:.1f}" not in message and "邮件过大" not in message and f"{limit:g} MB" not in message
    assert "分两封邮件发送" in message and "200 dpi" in message


def test_the_sizes_shown_never_contradict_each_other():
    """Just over the limit, the rounded file size and the limit are still told apart, for either line break."""
    for eol in (b"\r\n", b"\n"):
        data = wire_mail([int(11.2 * MB)], eol)
        for limit in (len(data) / MB - 0.01, len(data) / MB - 0.4):
            files, within = shown(_mail_too_large(data, limit).message)
            assert files > within and abs(files - 11.2) <= 1


def test_a_mail_over_the_limit_is_answered_with_its_attachments_size(tmp_path):
    """Through the pipeline: stored, not read, and the correction notice speaks of 约 1.5 MB of attachments."""
    data = wire_mail([int(0.6 * MB), int(0.9 * MB)])
    p = Pipeline(tmp_path)
    limit = round(len(data) / MB - 0.05, 2)
    p.runner.cfg = dataclasses.replace(p.runner.cfg, replies=dataclasses.replace(p.runner.cfg.replies, max_mail_mb=limit))
    assert p.feed(data) == "application"
    p.judge()
    assert p.rows("SELECT * FROM files") == []
    [row] = p.rows("SELECT * FROM outbox")
    msg = email.message_from_bytes(Path(row["eml_path"]).read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert row["kind"] == "correction" and "邮件附件合计约 1.5 MB" in text, text
    assert f"{len(data) / MB:.1f} MB" not in text and f"{limit:g} MB" not in text and "分两封邮件发送" in text
    p.close()
