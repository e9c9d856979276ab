"""What stops a run. Everything about one mail or file is a Finding instead."""
from __future__ import annotations

import ast
import re


class IntakeError(Exception):
    """Base of every error that ends a run; the CLI prints it on one line."""


class ConfigError(IntakeError):
    """The config file or the environment it names is unusable."""


class RulesError(ConfigError):
    """A rules file names an unknown check, bad params or a duplicate code."""


class MailboxError(IntakeError):
    """The IMAP server cannot be reached, refuses login or the folder."""


class SmtpError(IntakeError):
    """The SMTP server cannot be reached or refuses login."""


class StoreError(IntakeError):
    """The database or storage directory cannot be used."""


class LockedError(IntakeError):
    """Another intake run holds the lock on this storage directory."""


def connection_reason(exc: BaseException) -> str:
    """Why a server could not be reached, in words staff can act on (not "[Errno 111] …")."""
    import socket
    import ssl

    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝（服务器未运行，或地址、端口不对）"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "连接超时（网络不通或服务器无响应）"
    if isinstance(exc, socket.gaierror):
        return "找不到服务器（服务器地址写错，或网络/DNS 不通）"
    if isinstance(exc, ssl.SSLError):
        return "加密连接失败（SSL/TLS 设置与服务器不符）"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "连接被服务器中断"
    # imaplib hands the server's words over as bytes, or formats them into its text ("LOGIN command
    # error: BAD [b'Missing …']", "unexpected response: b'…'"): either way staff read the words.
    parts = [a.decode("utf-8", "replace") if isinstance(a, (bytes, bytearray)) else str(a) for a in exc.args]
    text = _BYTES_SHOWN.sub(_words, " ".join(parts))
    text = " ".join(text.split())
    return text[:200] or type(exc).__name__


_BYTES = r"""(?<![\w'"\\])b(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_BYTES_SHOWN = re.compile(rf"\[\s*{_BYTES}(?:\s*,\s*{_BYTES})*\s*\]|{_BYTES}")


def _words(m: re.Match) -> str:
    """A Python bytes repr (or a list of them) in an error text, as the text it holds."""
    try:
        value = ast.literal_eval(m.group())
    except (ValueError, SyntaxError):
        return m.group()
    items = value if isinstance(value, list) else [value]
    return " ".join(b.decode("utf-8", "replace") for b in items if isinstance(b, bytes))
