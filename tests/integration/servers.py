"""Real servers on loopback for integration tests: a private Dovecot (IMAP) and an SMTP sink.

DovecotServer
    A throw-away Dovecot 2.3 instance: its own config, base_dir, state_dir, log and maildir
    under one temp dir, one passwd-file user, listening on 127.0.0.1 on a free port.
    ``start()`` returns once a real LOGIN + SELECT INBOX works (so auth and mail access are
    ready, not just the socket); ``stop()`` ends the whole process group by id and removes
    the temp dir; ``restart()`` keeps port and maildir.

SmtpSink
    aiosmtpd Controller on 127.0.0.1 that stores every accepted message, accepts any
    AUTH PLAIN/LOGIN over plain text and can refuse recipients (550) or temp-fail the
    next N DATA commands (451 MI:SFQ, as smtp.163.com does).

Helpers: append, uidvalidity, flags_of, reset_uidvalidity, create_folder, connect,
require_dovecot.
"""
from __future__ import annotations

import atexit
import errno
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from imapclient import IMAPClient
from imapclient.imap_utf7 import encode as _mutf7_encode

# aiosmtpd warns when AUTH is required without TLS; on loopback in tests that is intended
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)

DEFAULT_USER = "kpzx350@163.com"
DEFAULT_PASSWORD = "secret"

# every live server, so an interpreter exit (Ctrl-C, crash in a fixture) still ends them
_LIVE: "weakref.WeakSet[DovecotServer | SmtpSink]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - safety net only
    for srv in list(_LIVE):
        try:
            srv.stop()
        except Exception:
            pass


def require_dovecot() -> str:
    """Path of the dovecot binary; skip the test without it (fail under CI=true)."""
    import pytest

    path = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )
    if path:
        return path
    msg = "dovecot not installed (apt-get install dovecot-imapd, or run bash scripts/test.sh)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(msg + " -- CI=true, so this is an error, not a skip", pytrace=False)
    pytest.skip(msg)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS just handed out as free (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _live_group_members(pgid: int) -> list[int]:
    """Pids in process group pgid that are not zombies (orphans are reaped by whoever is
    pid 1, which in a container may never do it; zombies hold nothing, so ignore them)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces/parens: split after the last ')'
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


class DovecotStartError(RuntimeError):
    def __init__(self, message: str, port_conflict: bool = False) -> None:
        super().__init__(message)
        self.port_conflict = port_conflict


class DovecotServer:
    """A private Dovecot on 127.0.0.1. Usable as a context manager."""

    host = "127.0.0.1"

    def __init__(
        self,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        *,
        binary: str | None = None,
        mail_user: str = "mail",
        extra_config: str = "",
        tz: str | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        self.user = user
        self.password = password
        self.binary = binary or shutil.which("dovecot") or "/usr/sbin/dovecot"
        pw = pwd.getpwnam(mail_user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.extra_config = extra_config
        self.tz = tz  # TZ for Dovecot: the zone INTERNALDATE is reported in (default: ours)
        self.start_timeout = start_timeout
        self.root: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._greeting_token = "intake-test-" + secrets.token_hex(4)

    # ---- public properties -------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DovecotServer not started")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def home(self) -> Path:
        assert self.root is not None
        return self.root / "home" / "user"

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

    @property
    def config_path(self) -> Path:
        assert self.root is not None
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "dovecot.log"

    def log_text(self, lines: int = 80) -> str:
        """Last lines of Dovecot's own log and of its stderr (early fatal errors land there)."""
        if self.root is None:
            return ""
        out = _tail(self.log_path, lines)
        err = _tail(self.root / "dovecot.stderr", lines)
        return out + (("\n--- stderr ---\n" + err) if err.strip() else "")

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> "DovecotServer":
        """Start (first time: new temp dir and port; after stop(keep_data=True): same ones)."""
        if self.running:
            return self
        if self._proc is not None:  # it died on its own: clear what is left of its group
            self._kill_process()
        first = self.root is None
        if first:
            self._make_tree()
        pinned = self._port is not None
        attempts = 1 if pinned else 5
        for attempt in range(attempts):
            if not pinned:
                self._port = free_port(self.host)
            self._write_config()
            try:
                self._spawn_and_wait()
                _LIVE.add(self)
                return self
            except DovecotStartError as exc:
                self._kill_process()
                in_use = exc.port_conflict or "Address already in use" in str(exc)
                if in_use and not pinned and attempt < attempts - 1:
                    continue  # lost the race for the port to someone else: take another
                if first:  # the error message carries the log; leave nothing behind
                    self.stop(keep_data=False)
                raise
        raise AssertionError("unreachable")

    def stop(self, keep_data: bool = False) -> None:
        """End Dovecot: SIGTERM to its process group (pgid = the master's pid, from
        start_new_session), SIGKILL after 10 s; returns once no process of it is left.

        keep_data=True keeps the temp dir and port so start() brings the same server back.
        """
        self._kill_process()
        _LIVE.discard(self)
        if not keep_data and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            self._port = None

    def restart(self) -> "DovecotServer":
        """Stop and start again on the same port with the same maildir."""
        self.stop(keep_data=True)
        return self.start()

    def __enter__(self) -> "DovecotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- internals ---------------------------------------------------------------------
    def _make_tree(self) -> None:
        # short path: base_dir holds unix sockets (108-byte limit), so not pytest's tmp_path
        parent = "/tmp" if os.path.isdir("/tmp") else None
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-", dir=parent))
        # mkdtemp gives 0700 root: the mail user (imap process) and dovenull/dovecot
        # (login, auth) must be able to traverse it
        os.chmod(self.root, 0o755)
        for sub in ("base", "state", "home"):
            (self.root / sub).mkdir(mode=0o755)
        self.home.mkdir(mode=0o700)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(mode=0o700, parents=True)
        for dirpath, dirnames, filenames in os.walk(self.home):
            os.chown(dirpath, self.uid, self.gid)
        passwd = self.root / "passwd"
        # user:password:uid:gid:gecos:home:shell
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}:{self.uid}:{self.gid}::{self.home}::\n")
        os.chmod(passwd, 0o644)  # read by the auth process, which runs as the dovecot user

    def _write_config(self) -> None:
        assert self.root is not None
        r = self.root
        first_valid_uid = max(1, min(self.uid, 500))
        self.config_path.write_text(
            f"""# private test instance, written by tests/integration/servers.py
base_dir = {r}/base
state_dir = {r}/state
instance_name = {r.name}
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
debug_log_path = {r}/dovecot.log
auth_verbose = yes
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {first_valid_uid}
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
login_greeting = {self._greeting_token} ready.
shutdown_clients = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self._port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{self.extra_config}
"""
        )

    def _spawn_and_wait(self) -> None:
        assert self.root is not None
        # a master.pid left by a killed instance could name a recycled pid: Dovecot would
        # then refuse to start ("already running"); we know ours is gone
        (self.root / "base" / "master.pid").unlink(missing_ok=True)
        stderr = open(self.root / "dovecot.stderr", "ab")
        try:
            self._proc = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # own process group: stop() can end every child by pgid
                close_fds=True,
                env=dict(os.environ, TZ=self.tz) if self.tz else None,
            )
        finally:
            stderr.close()
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | str = "no answer"
        while True:
            if self._proc.poll() is not None:
                raise DovecotStartError(self._failure(f"dovecot exited with code {self._proc.returncode}"))
            if time.monotonic() > deadline:
                raise DovecotStartError(self._failure(f"no IMAP greeting within {self.start_timeout}s ({last_error})"))
            try:
                greeting = self._read_greeting(timeout=1.0)  # short: re-check the process between tries
            except OSError as exc:  # not listening yet
                last_error = exc
                self._wait_a_little()
                continue
            if self._greeting_token.encode() not in greeting:
                raise DovecotStartError(
                    self._failure(f"port {self._port} answered with someone else's greeting: {greeting!r}"),
                    port_conflict=True,
                )
            break
        # the socket answers: now prove auth and mail storage work (uid checks, permissions)
        try:
            with connect(self) as c:
                c.select_folder("INBOX", readonly=True)
        except Exception as exc:
            raise DovecotStartError(self._failure(f"LOGIN/SELECT INBOX failed: {exc!r}")) from exc

    def _read_greeting(self, timeout: float) -> bytes:
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1024)
                if not chunk:
                    raise ConnectionResetError("closed before the greeting")
                data += chunk
            return data

    def _wait_a_little(self) -> None:
        # readiness is polled; this only yields the CPU between connection attempts,
        # returning early if dovecot dies
        try:
            assert self._proc is not None
            self._proc.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            pass

    def _failure(self, what: str) -> str:
        self._let_log_settle()
        return (
            f"Dovecot ({self.binary} -F -c {self.config_path if self.root else '?'}) on "
            f"{self.host}:{self._port}: {what}\n--- dovecot log ---\n{self.log_text()}"
        )

    def _let_log_settle(self, quiet: float = 0.1, limit: float = 1.0) -> None:
        """Dovecot's log process writes asynchronously: on the failure path only, wait until
        the log has not grown for `quiet` seconds (at most `limit`) so the error quotes it."""
        if self.root is None:
            return
        deadline = time.monotonic() + limit
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            try:
                size = self.log_path.stat().st_size
            except OSError:
                size = 0
            if size != last:
                last, since = size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.02)

    def _kill_process(self) -> None:
        """SIGTERM to Dovecot's whole process group (its pgid is the master's pid), repeated
        every 0.2 s, then SIGKILL for anything still there after 10 s.

        Seen with 2.3.19 and why it is done this way:
        - SIGTERM to the master alone is slow and incomplete: it lingers ~1 s for its log
          process and leaves a logged-in imap process running after it has exited.
        - With the group signalled every process exits cleanly within ~15 ms, except that
          now and then anvil and log survive (the master, shutting down, seems to start
          them again) and the master waits ~5 s for them: a repeated SIGTERM ends them.
        - Now and then the master alone hangs on ~1 s after all its children are gone; it
          then holds nothing (start() removes its stale master.pid), so it is killed.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session=True: the master leads its own group
        start = time.monotonic()
        next_term = start
        children_gone_at = None
        while True:
            now = time.monotonic()
            if now >= next_term:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                next_term = now + 0.2
            try:
                proc.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                pass
            others = [p for p in _live_group_members(pgid) if p != pgid]
            if proc.poll() is not None and not others:
                return
            if not others:
                children_gone_at = children_gone_at or now
                if now - children_gone_at > 0.1:
                    proc.kill()
            if now - start > 10:
                break
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while (proc.poll() is None or _live_group_members(pgid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None or _live_group_members(pgid):  # pragma: no cover
            raise RuntimeError(f"Dovecot process group {pgid} survived SIGKILL: {_live_group_members(pgid)}")

    def folder_path(self, folder: str) -> Path:
        """Maildir++ directory of an IMAP folder (default layout, separator '.')."""
        if folder.upper() == "INBOX":
            return self.maildir
        name = _mutf7_encode(folder)
        if isinstance(name, bytes):
            name = name.decode("ascii")
        return self.maildir / ("." + name.replace("/", "."))


# ---- IMAP helpers ----------------------------------------------------------------------


def connect(server: DovecotServer, timeout: float = 10) -> IMAPClient:
    """A logged-in imapclient connection (use as a context manager: logs out on exit)."""
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=timeout)
    try:
        client.login(server.user, server.password)
    except Exception:
        client.shutdown()
        raise
    return client


_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")


def append(
    server: DovecotServer,
    raw: bytes,
    internaldate: datetime,
    folder: str = "INBOX",
    flags: Iterable[bytes | str] = (),
) -> int:
    """APPEND a message with this INTERNALDATE; returns its UID (from APPENDUID).

    internaldate must be timezone-aware: a naive one would depend on the machine's TZ.
    """
    if internaldate.tzinfo is None or internaldate.utcoffset() is None:
        raise ValueError("append(): internaldate must be timezone-aware, e.g. datetime(..., tzinfo=CST)")
    if isinstance(raw, str):
        raise TypeError("append(): raw must be bytes")
    with connect(server) as c:
        resp = c.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
    m = _APPENDUID.search(resp if isinstance(resp, bytes) else str(resp).encode())
    if not m:
        raise RuntimeError(f"no APPENDUID in APPEND response {resp!r}")
    return int(m.group(2))


def create_folder(server: DovecotServer, folder: str) -> None:
    with connect(server) as c:
        if not c.folder_exists(folder):
            c.create_folder(folder)


def uidvalidity(server: DovecotServer, folder: str = "INBOX") -> int:
    with connect(server) as c:
        return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


def flags_of(server: DovecotServer, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    """{uid: flags} read through EXAMINE, so looking does not change anything."""
    with connect(server) as c:
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        if not uids:
            return {}
        return {uid: tuple(d[b"FLAGS"]) for uid, d in c.fetch(uids, ["FLAGS"]).items()}


def reset_uidvalidity(server: DovecotServer, folder: str = "INBOX") -> int:
    """Give `folder` a new UIDVALIDITY, same messages (UIDs renumbered from 1).

    Stops Dovecot, deletes the folder's dovecot-uidlist and indexes (and the mailbox list
    index that caches UIDVALIDITY), writes a fresh uidlist header whose UIDVALIDITY is
    strictly greater than the old one (Dovecot would otherwise pick time(), which can
    equal the old value within the same second), starts Dovecot and checks the change.
    Returns the new UIDVALIDITY.
    """
    old = uidvalidity(server, folder)
    path = server.folder_path(folder)
    if not (path / "cur").is_dir():
        raise FileNotFoundError(f"no maildir for folder {folder!r} at {path}")
    server.stop(keep_data=True)
    try:
        for pattern in ("dovecot-uidlist", "dovecot-uidlist.lock", "dovecot.index*"):
            for f in glob.glob(str(path / pattern)):
                os.unlink(f)
        for f in glob.glob(str(server.maildir / "dovecot.list.index*")):
            os.unlink(f)
        new = max(old + 1, int(time.time()))
        uidlist = path / "dovecot-uidlist"
        # maildir uidlist v3 header: V<uidvalidity> N<next uid> G<mailbox guid>
        uidlist.write_text(f"3 V{new} N1 G{secrets.token_hex(16)}\n")
        os.chown(uidlist, server.uid, server.gid)
        os.chmod(uidlist, 0o600)
    finally:
        server.start()
    got = uidvalidity(server, folder)
    if got == old:
        raise AssertionError(f"UIDVALIDITY of {folder!r} still {old} after reset\n{server.log_text()}")
    return got


# ---- SMTP sink -------------------------------------------------------------------------


class Received(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class _SinkHandler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in {a.lower() for a in self.sink.refuse_rcpt}:
            self.sink._note("refused_rcpt", address)
            return "550 User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink._cond:
            if self.sink.tempfail_next > 0:
                self.sink.tempfail_next -= 1
                self.sink.events.append(("tempfail", envelope.mail_from))
                return "451 MI:SFQ Too many mails sent in 15 minutes, please try again later"
            raw = envelope.original_content if envelope.original_content is not None else envelope.content
            if isinstance(raw, str):  # decode_data=True would give str; we never set it
                raw = raw.encode("utf-8", "surrogateescape")
            self.sink._messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw)))
            self.sink._cond.notify_all()
        return "250 OK: queued"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives.

    refuse_rcpt: addresses answered with '550 User unknown' at RCPT TO.
    tempfail_next: the next N DATA commands get '451 MI:SFQ ...' (counts down).
    require_auth: if True, MAIL FROM before AUTH gets 530.
    Any AUTH PLAIN/LOGIN login/password is accepted (logged in `auth_logins`).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        refuse_rcpt: Iterable[str] = (),
        tempfail_next: int = 0,
        require_auth: bool = False,
        port: int | None = None,
    ) -> None:
        self.refuse_rcpt: set[str] = set(refuse_rcpt)
        self.tempfail_next = tempfail_next
        self.require_auth = require_auth
        self._port = port
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self.auth_logins: list[tuple[str, str, str]] = []  # (mechanism, login, password)
        self.events: list[tuple[str, str]] = []  # ("refused_rcpt", addr) / ("tempfail", mail_from)
        self._controller = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SmtpSink not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[Received]:
        """A snapshot of (envelope_from, rcpt_tos, raw bytes) for every accepted message."""
        with self._cond:
            return list(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self.events.clear()
            self.auth_logins.clear()

    def _note(self, kind: str, value: str) -> None:
        with self._cond:
            self.events.append((kind, value))

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
        else:  # pragma: no cover - only PLAIN/LOGIN are offered
            login, password = repr(auth_data), ""
        with self._cond:
            self.auth_logins.append((mechanism, login, password))
        return AuthResult(success=True)

    def start(self) -> "SmtpSink":
        """Listen (after stop(): on the same port if it is still free, else a new one)."""
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller

        wanted = self._port
        last: Exception | None = None
        for attempt in range(5):
            port = wanted if (wanted is not None and attempt == 0) else free_port(self.host)
            controller = Controller(
                _SinkHandler(self),
                hostname=self.host,
                port=port,
                ready_timeout=5.0,
                authenticator=self._authenticate,
                auth_require_tls=False,
                auth_required=self.require_auth,
                auth_exclude_mechanism=["CRAM-MD5"],
            )
            try:
                controller.start()
            except OSError as exc:
                last = exc
                _close_controller(controller)
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise
            except BaseException:
                _close_controller(controller)
                raise
            self._controller = controller
            self._port = port
            _LIVE.add(self)
            return self
        raise RuntimeError(f"SmtpSink: no free port after 5 tries: {last!r}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        _LIVE.discard(self)
        if controller is not None:
            controller.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least n messages arrived; AssertionError with what did arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m.mail_from, m.rcpt_tos) for m in self._messages]
                    raise AssertionError(
                        f"SmtpSink: expected {n} message(s) within {timeout}s, got {len(got)}: {got}; "
                        f"events {self.events}"
                    )
                self._cond.wait(left)
            return list(self._messages)

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _close_controller(controller) -> None:
    """Tidy a Controller whose start() failed (its thread exited; close its loop)."""
    try:
        if controller._thread is not None:
            controller._thread.join(timeout=5)
        if not controller.loop.is_closed():
            controller.loop.close()
    except Exception:
        pass
