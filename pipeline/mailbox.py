"""The IMAP edge: fetch mail we have not seen, touching nothing on the server.

The folder is opened read-only (EXAMINE) and bodies are fetched with
BODY.PEEK[], so staff still see new mail as unread in their own client.
"""
from __future__ import annotations

import hashlib
import logging
import socket
import ssl as ssl_mod
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Iterator

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from .config import MailboxConfig
from .errors import MailboxError

if TYPE_CHECKING:
    from .models import RawMail

log = logging.getLogger(__name__)

FETCH_BATCH = 20
# Bytes of mail one FETCH may bring: 20 scans of 40 MB in one response held 800 MB at once.
FETCH_BYTES = 64 * 1024 * 1024
ID_FIELDS = {"name": "intake", "version": "0.1", "vendor": "xinxiang-kexie", "support-email": ""}


@dataclass(frozen=True)
class FolderState:
    folder: str
    uidvalidity: int
    uids: tuple[int, ...]  # every UID in the folder now (received since the notice date)
    older: int = 0  # mails in the folder received before the notice date: left alone


# Names a junk folder goes by when the server does not flag it \Junk (163.com flags its 垃圾邮件).
JUNK_NAMES = ("垃圾邮件", "Junk", "Junk E-mail", "Junk Email", "Spam")


def folder_name(name: str) -> str:
    """A folder as configured, decoded if written in IMAP's modified UTF-7 (&V4NXPpCuTvY- is
    垃圾邮件, as some clients show it): imapclient encodes names itself, and would encode it twice."""
    if name.isascii() and "&" in name:
        from imapclient.imap_utf7 import decode

        try:
            decoded = decode(name.encode("ascii"))
        except Exception:  # not modified UTF-7 after all: the name as written
            return name
        return decoded if isinstance(decoded, str) else name
    return name


class Mailbox:
    """One IMAP session over one folder."""

    def __init__(self, cfg: MailboxConfig):
        self.cfg = cfg
        self.client: IMAPClient | None = None

    def __enter__(self) -> "Mailbox":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> None:
        cfg = self.cfg
        password = cfg.password()  # a missing authorization code is said as such, before any network
        try:
            # Loading the CA bundle costs ~20 ms: only for TLS connections.
            context = ssl_mod.create_default_context() if cfg.ssl or cfg.starttls else None
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.ssl, ssl_context=context, timeout=cfg.timeout)
            if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
                # imapclient sets imaplib's debug level to 5, at which imaplib formats every response,
                # the mail bodies of a FETCH included, into a log string even when nothing logs it:
                # ~3x the mail in memory and the CPU to write it.
                client._imap.debug = 0
            if cfg.starttls and not cfg.ssl:
                client.starttls(context)
            client.normalise_times = False  # keep INTERNALDATE's own offset
            client.login(cfg.user, password)
            # 163.com refuses SELECT ("Unsafe Login") until the client says who it is.
            if client.has_capability("ID"):
                client.id_(ID_FIELDS)
        except LoginError as exc:
            raise MailboxError(f"邮箱登录失败（账号 {cfg.user}，服务器 {cfg.host}）：请检查授权码是否正确或已过期（服务器答复：{_short(exc)}）") from exc
        except (OSError, socket.error, IMAPClientError, ssl_mod.SSLError) as exc:
            raise MailboxError(f"无法连接邮箱服务器 {cfg.host}:{cfg.port}：{_short(exc)}") from exc
        self.client = client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # already gone; nothing left to release
                pass
            self.client = None

    def folders(self) -> list[tuple[str, bool]]:
        """The folders to read: the configured one, any listed in `folders`, and, unless
        `junk = false`, the junk folder (163.com files some applications there: a new sender,
        a zip, a scan); each with whether it is the junk folder (only call mail is answered there)."""
        assert self.client is not None
        main = folder_name(self.cfg.folder)
        extra = [folder_name(f) for f in self.cfg.folders if isinstance(f, str) and f.strip()]
        main = [main, *(f for f in dict.fromkeys(extra) if f != main)]
        if not self.cfg.junk:
            return [(f, False) for f in main]
        try:
            listing = self.client.list_folders()
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"无法列出邮箱文件夹：{_short(exc)}") from exc
        names = [name for _flags, _delim, name in listing if isinstance(name, str)]
        flagged = [name for flags, _delim, name in listing if {b"\\Junk", b"\\Spam"} & set(flags) and isinstance(name, str)]
        junk = flagged[:1] or [n for n in names if n in JUNK_NAMES][:1]
        return [(f, False) for f in main] + [(n, True) for n in junk if n not in main]

    def state(self, since: date | None = None, folder: str | None = None) -> FolderState:
        """UIDVALIDITY and the UIDs present (received on or after `since`: mail from before the
        call was published is no concern of it), from a read-only EXAMINE."""
        assert self.client is not None
        folder = folder or folder_name(self.cfg.folder)
        try:
            info = self.client.select_folder(folder, readonly=True)
            criteria = ["SINCE", since] if since else "ALL"
            uids = self.client.search(criteria) if info.get(b"EXISTS", 1) else []
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"无法打开邮箱文件夹 {folder}：{_short(exc)}") from exc
        exists = info.get(b"EXISTS", 0)
        older = max(exists - len(uids), 0) if since and isinstance(exists, int) else 0
        return FolderState(folder, int(info[b"UIDVALIDITY"]), tuple(sorted(int(u) for u in uids)), older)

    def message_ids(self, uids: list[int]) -> dict[int, tuple[str, int]]:
        """Message-ID header and size of each UID, to recognise mail seen under an old
        UIDVALIDITY (the size too: OA systems reuse one Message-ID for different mails)."""
        assert self.client is not None
        out: dict[int, tuple[str, int]] = {}
        key = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
        for i in range(0, len(uids), 200):
            try:
                resp = self.client.fetch(uids[i : i + 200], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "RFC822.SIZE"])
            except (OSError, IMAPClientError) as exc:
                raise MailboxError(f"读取邮件头失败：{_short(exc)}") from exc
            for uid, data in resp.items():
                raw = data.get(key, b"") or b""
                value = raw.decode("ascii", "replace").partition(":")[2].strip()
                if value and isinstance(data.get(b"RFC822.SIZE"), int):
                    out[int(uid)] = (value, data[b"RFC822.SIZE"])
        return out

    def fetch(self, state: FolderState, uids: list[int]) -> Iterator[RawMail]:
        """Yield each UID's raw bytes with its INTERNALDATE, a few at a time."""
        from .models import RawMail

        assert self.client is not None
        for batch in self._batches(uids):
            try:
                resp = self.client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"])
            except (OSError, IMAPClientError) as exc:
                raise MailboxError(f"下载邮件失败：{_short(exc)}") from exc
            for uid in batch:
                data = resp.get(uid)
                if not data or not isinstance(data.get(b"BODY[]"), (bytes, bytearray)):
                    # Expunged between SEARCH and FETCH (staff deleting in the web client):
                    # no response, or Dovecot's BODY[] NIL.
                    log.warning("UID %s vanished before it could be fetched", uid)
                    continue
                body = data.pop(b"BODY[]")
                body = body if isinstance(body, bytes) else bytes(body)
                yield RawMail(
                    data=body,
                    sha256=hashlib.sha256(body).hexdigest(),
                    source="imap",
                    received_at=_aware(data.get(b"INTERNALDATE")),
                    folder=state.folder,
                    uidvalidity=state.uidvalidity,
                    uid=uid,
                )

    def _batches(self, uids: list[int]) -> Iterator[list[int]]:
        """UIDs in groups of at most FETCH_BATCH mails and FETCH_BYTES bytes (a big mail alone)."""
        assert self.client is not None
        sizes: dict[int, int] = {}
        for i in range(0, len(uids), 500):
            try:
                resp = self.client.fetch(uids[i : i + 500], ["RFC822.SIZE"])
            except (OSError, IMAPClientError) as exc:
                raise MailboxError(f"读取邮件大小失败：{_short(exc)}") from exc
            sizes.update({int(u): d[b"RFC822.SIZE"] for u, d in resp.items() if isinstance(d.get(b"RFC822.SIZE"), int)})
        batch: list[int] = []
        total = 0
        for uid in uids:
            size = sizes.get(uid, 0)
            if batch and (len(batch) >= FETCH_BATCH or total + size > FETCH_BYTES):
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += size
        if batch:
            yield batch


def _aware(value) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _short(exc: BaseException) -> str:
    from .errors import connection_reason

    return connection_reason(exc)

