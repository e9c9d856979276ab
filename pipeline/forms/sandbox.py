"""A fork server for reading untrusted files: import once, fork per file.

Starting a fresh Python child for every PDF costs ~0.25 s of imports
(pikepdf, pypdfium2, numpy), more than reading a typical form. A server
process imports them once and never reads a file itself: for each request it
forks a child in a process group of its own, the child sets its rlimits
(CPU seconds count from the fork) and writes a JSON answer to a pipe. A
crash, a broken limit or a timeout kills only that child and its group
(tesseract included), and the server answers for it. The parent talks to
`workers` servers at once, one request each, so every core is busy. A pool
started with `siblings=True` starts one server, which forks the others once
it is warm: all of them are then one image shared copy-on-write (the OCR
model, PDFium, numpy: ~150 MB), not one copy per core.

Wire format on the server's stdin/stdout: a request is an 8-byte length,
a 4-byte timeout in milliseconds and the file's bytes; an answer is an
8-byte length and JSON.
"""
from __future__ import annotations

import faulthandler
import functools
import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

REQUEST = struct.Struct(">QI")
ANSWER = struct.Struct(">Q")
MAX_ANSWER = 64 * 1024 * 1024
STDERR_TAIL = 2000
GRACE = 15.0  # seconds the parent waits beyond the child's own timeout


# What a process that reads untrusted files may see of our environment: the
# system's basics, never the mailbox and SMTP authorization codes (they are in
# environment variables of any name the config chooses, so this is a list of
# what passes, not of what is kept out).
ENV_PASS = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TZ", "LANG", "LANGUAGE", "TMPDIR", "TEMP", "TMP",
        "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED",
        "LD_LIBRARY_PATH", "TESSDATA_PREFIX", "FONTCONFIG_FILE", "FONTCONFIG_PATH",
    }
)
ENV_PASS_PREFIXES = ("LC_", "XDG_", "SAL_", "INTAKE_PDF_")


PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding `pipeline`


def python_m(module: str, env: dict[str, str], *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and env to run `python -m module` from any cwd (the package root first on PYTHONPATH)."""
    env = dict(env)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return [sys.executable, "-m", module, *args], env


def untrusted_env(**extra: str) -> dict[str, str]:
    """The environment for a child that parses files from strangers (plus `extra`)."""
    env = {k: v for k, v in os.environ.items() if k in ENV_PASS or k.startswith(ENV_PASS_PREFIXES)}
    env.update(extra)
    return env


# --- server side (runs in the worker process) ----------------------------------


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def protect_channel() -> int:
    """Move the answer channel off fd 1, so a library that prints cannot corrupt it."""
    channel = os.dup(1)
    os.dup2(2, 1)
    return channel


def serve(handle: Callable[[bytes], dict], limit: Callable[[], None], *, channel: int = 1, inp: int = 0) -> int:
    """Answer requests from `inp` (stdin) on `channel` until EOF; each in a forked child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _prctl()
    own = tuple(fd for fd in (channel, inp) if fd > 1)
    while True:
        _reap_siblings()
        header = _read_exact(inp, REQUEST.size)
        if header is None:
            return 0
        size, timeout_ms = REQUEST.unpack(header)
        data = _read_exact(inp, size)
        if data is None:
            return 0
        result = run_forked(handle, limit, data, timeout_ms / 1000, close=own)
        answer = json.dumps(result, ensure_ascii=False).encode("utf-8")
        try:
            _write_all(channel, ANSWER.pack(len(answer)) + answer)
        except BrokenPipeError:  # the parent is gone (killed, or closed the pool mid-request)
            return 0


SIBLINGS = "--siblings"  # argv of a server: the channels it forks siblings for ("5:6,7:8")


def sibling_channels(args: list[str]) -> list[tuple[int, int]]:
    """The (request, answer) pipe ends a pool passed for sibling servers, from argv."""
    if SIBLINGS not in args or args.index(SIBLINGS) + 1 >= len(args):
        return []
    spec = args[args.index(SIBLINGS) + 1]
    return [(int(a), int(b)) for a, b in (pair.split(":") for pair in spec.split(",") if pair)]


def fork_siblings(
    channels: list[tuple[int, int]], handle: Callable[[bytes], dict], limit: Callable[[], None], *, own: tuple[int, ...]
) -> list[int]:
    """Serve each (request, answer) channel from a fork of this warm server; their pids.

    Called after the warm-up: every sibling shares the loaded libraries and
    models with this server instead of loading its own. A sibling first
    writes its pid (the parent kills it by pid: it is not the parent's child),
    keeps only its own channel open (so the parent still sees EOF when any one
    server dies) and leaves this server's process group (killing this server
    must not take the siblings along).
    """
    every = {fd for pair in channels for fd in pair} | set(own)
    pids = []
    for inp, out in channels:
        try:
            pid = os.fork()
        except OSError:  # its channel is closed below: the parent sees it gone and starts a server instead
            continue
        if pid == 0:  # the sibling: never returns
            code = 0
            try:
                os.setpgid(0, 0)
                for fd in every - {inp, out}:
                    os.close(fd)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.close(null)
                hello = json.dumps({"pid": os.getpid()}).encode()
                _write_all(out, ANSWER.pack(len(hello)) + hello)
                code = serve(handle, limit, channel=out, inp=inp)
            except BaseException:  # noqa: BLE001
                code = 70
            finally:
                os._exit(code)
        pids.append(pid)
    for fd in every - set(own):
        os.close(fd)
    return pids


def wait_siblings(pids: list[int], seconds: float = 5.0) -> None:
    """Before this server exits, collect its siblings (told to stop at the same time by
    the pool): they stay this server's children, so their CPU time is accounted to the
    run that used them and none is left to init."""
    deadline = time.monotonic() + seconds
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    left.discard(pid)
            except ChildProcessError:
                left.discard(pid)
        if left:
            time.sleep(0.01)


def _reap_siblings() -> None:
    """Collect siblings that have exited (between requests no other child is running)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@functools.lru_cache(maxsize=1)
def _prctl():
    """libc's prctl, looked up once (in the server, before it forks), or None."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(server: int) -> None:
    """Linux: SIGKILL this child when the server that forked it dies (also if it already has)."""
    prctl = _prctl()
    if prctl is not None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != server:
        os._exit(70)


def run_forked(
    handle: Callable[[bytes], dict], limit: Callable[[], None], data: bytes, timeout: float, *, close: tuple[int, ...] = ()
) -> dict:
    """`handle(data)` in a forked, limited child; its failures become answers.

    `close`: the server's own channels, which the child must not hold open
    (a parent waiting on them would not see the server die).
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.setpgid(0, 0)
            _die_with_parent(server)
            for fd in (out_r, err_r, *close):
                os.close(fd)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(err_w, 2)
            if faulthandler.is_enabled():  # a crash report belongs in the answer, not on the server's stderr
                faulthandler.enable(file=sys.stderr)
            limit()
            result = handle(data)
            _write_all(out_w, json.dumps(result, ensure_ascii=False).encode("utf-8"))
        except BaseException:  # noqa: BLE001 - the server reports a crash
            code = 70
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    try:
        os.setpgid(pid, pid)  # also from this side: no race with killpg below
    except OSError:
        pass
    out, err, timed_out = _collect(out_r, err_r, time.monotonic() + timeout)
    # Both pipes closed means the child has exited (or it timed out): kill its
    # group (a tesseract left running) while the unreaped child still holds
    # the group's id, so the id cannot belong to anyone else yet.
    _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    stderr = err[-STDERR_TAIL:].decode("utf-8", "replace")
    if timed_out:
        return {"ok": False, "reason": "timeout", "stderr": stderr}
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        return {"ok": False, "reason": "crashed", "error": how, "stderr": stderr}
    try:
        result = json.loads(out.decode("utf-8"))
    except ValueError:
        return {"ok": False, "reason": "crashed", "error": "no answer", "stderr": stderr}
    if stderr:
        result.setdefault("stderr", stderr)
    return result


def _collect(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes, bool]:
    """Both pipes until EOF, or until the deadline (then timed out)."""
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    open_fds = [out_fd, err_fd]
    try:
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(bufs[out_fd]), bytes(bufs[err_fd]), True
            ready, _, _ = select.select(open_fds, [], [], left)
            for fd in ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    open_fds.remove(fd)
                elif len(bufs[fd]) < MAX_ANSWER:
                    bufs[fd] += chunk
        return bytes(bufs[out_fd]), bytes(bufs[err_fd]), False
    finally:
        os.close(out_fd)
        os.close(err_fd)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- parent side -------------------------------------------------------------


class WorkerGone(Exception):
    """The server process died or stopped answering."""


class _Worker:
    """One server as the parent sees it: the pipe it sends requests on, the pipe
    it reads answers from, and its process (a `Popen`, or only a pid for a
    sibling forked by another server, learnt from its first message)."""

    def __init__(self, send_fd: int, recv_fd: int, proc: subprocess.Popen | None = None):
        self.proc = proc
        self.pid = proc.pid if proc is not None else None
        self._send_fd, self._recv_fd = send_fd, recv_fd

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str], cwd: str, pass_fds: tuple[int, ...] = ()) -> "_Worker":
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True,
            pass_fds=pass_fds,
        )
        return cls(proc.stdin.fileno(), proc.stdout.fileno(), proc)

    def request(self, data: bytes, timeout: float, grace: float = GRACE) -> dict:
        deadline = time.monotonic() + timeout + grace
        self.identify(deadline)
        self._send(REQUEST.pack(len(data), int(timeout * 1000)) + data, deadline)
        return self._answer(deadline)

    def identify(self, deadline: float | None = None) -> int:
        """The server's pid; a sibling says it in its first message, before it serves."""
        if self.pid is None:
            hello = self._answer(deadline or time.monotonic() + GRACE)
            if not isinstance(hello.get("pid"), int):
                raise WorkerGone("no hello from the sibling server")
            self.pid = hello["pid"]
        return self.pid

    def _answer(self, deadline: float) -> dict:
        (size,) = ANSWER.unpack(self._read(self._recv_fd, ANSWER.size, deadline))
        if size > MAX_ANSWER * 2:
            raise WorkerGone(f"answer of {size} bytes")
        return json.loads(self._read(self._recv_fd, size, deadline).decode("utf-8"))

    def _send(self, data: bytes, deadline: float) -> None:
        """Write the request, giving up at the deadline (a server stuck before reading)."""
        fd = self._send_fd
        os.set_blocking(fd, False)
        view = memoryview(data)
        try:
            while view:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    raise WorkerGone("request not taken in time")
                try:
                    view = view[os.write(fd, view[: 1 << 16]) :]
                except BlockingIOError:
                    continue
        except OSError as exc:  # BrokenPipeError: the server is gone
            raise WorkerGone(str(exc)) from exc

    @staticmethod
    def _read(fd: int, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerGone("no answer in time")
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise WorkerGone("worker exited")
            buf += chunk
        return bytes(buf)

    def alive(self) -> bool:
        """False once the server is known to be gone (a sibling not yet heard from counts as alive)."""
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is None or _running(self.pid)

    def hangup(self) -> None:
        """Close the request pipe: the server stops after the request it is on."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        elif self._send_fd >= 0:
            try:
                os.close(self._send_fd)
            except OSError:
                pass
            self._send_fd = -1

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None:
            self._stop_process(kill)
            return
        if self._recv_fd < 0:
            return  # stopped already
        try:  # its pid, to kill it if it does not go (a sibling that never got a request)
            self.identify(time.monotonic() + (0.5 if kill else 5))
        except (WorkerGone, ValueError, OSError):
            pass
        self.hangup()  # EOF on its requests ends a sibling; its answer pipe closes when it has gone
        if not kill and not (_eof(self._recv_fd, time.monotonic() + 5) and self._gone(time.monotonic() + 1)):
            kill = True
        if kill and self.pid is not None and _running(self.pid):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._recv_fd >= 0:  # once: the number may belong to another file afterwards
            try:
                os.close(self._recv_fd)
            except OSError:
                pass
            self._recv_fd = -1

    def _gone(self, deadline: float) -> bool:
        """Wait for a sibling that closed its channel to finish exiting."""
        while self.pid is not None and _running(self.pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _stop_process(self, kill: bool) -> None:
        proc = self.proc
        if not kill:
            try:
                self.hangup()  # EOF: the server returns
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                kill = True
        if kill:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _eof(fd: int, deadline: float) -> bool:
    """Read `fd` until EOF (True) or the deadline (False)."""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
            if not os.read(fd, 1 << 16):
                return True
    except OSError:
        return True


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


class Pool:
    """Up to `workers` fork servers, started on first use, one request each at a time."""

    def __init__(
        self, module: str, *, workers: int, env: dict[str, str] | None = None, grace: float = GRACE, siblings: bool = False
    ):
        """`siblings`: the module's server takes `--siblings` and forks the
        other servers itself (`fork_siblings`), so they share its memory."""
        self._argv, self._env = python_m(module, dict(os.environ) if env is None else env, "--serve")
        self._cwd = PACKAGE_ROOT
        self._size = max(1, workers)
        self._grace = grace
        self._siblings = siblings
        self._idle: list[_Worker] = []
        self._started = 0
        self._closed = False
        self._cond = threading.Condition()

    def call(self, data: bytes, timeout: float) -> dict:
        """One request; a worker that dies is replaced and the request tried once more.

        The servers never read a file themselves, so one that dies twice is
        broken machinery, not a bad file: the answer says `worker_gone` and the
        caller reads the file another way rather than blame the applicant.
        """
        for attempt in (1, 2):
            try:
                worker = self._take()
            except (OSError, RuntimeError) as exc:  # cannot start one, or the pool is closed
                return {"ok": False, "reason": "worker_gone", "error": str(exc)}
            try:
                answer = worker.request(data, timeout, self._grace)
            except (WorkerGone, ValueError) as exc:
                log.warning("PDF worker failed (%s); starting a new one", exc)
                self._drop(worker)
                if attempt == 2:
                    return {"ok": False, "reason": "worker_gone", "error": str(exc)}
                continue
            self._give(worker)
            return answer
        raise AssertionError("unreachable")

    def _take(self) -> _Worker:
        dead: list[_Worker] = []
        try:
            return self._take_or_start(dead)
        finally:
            for worker in dead:  # killed while idle (OOM killer, an operator): not worth a failed request
                worker.stop(kill=True)

    def _take_or_start(self, dead: list[_Worker]) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("pool closed")
                if self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    dead.append(worker)
                    self._started -= 1
                    continue
                if self._started < self._size:
                    # The first start fills every slot with one server and its siblings;
                    # a server replaced later is started on its own.
                    count = self._size if self._siblings and self._started == 0 else 1
                    self._started += count
                    break
                self._cond.wait()
        try:
            first, *others = self._start(count)
        except BaseException:  # the slots must not be lost, or later callers wait for ever
            with self._cond:
                self._started -= count
                self._cond.notify_all()
            raise
        if others:
            with self._cond:
                self._idle.extend(others)
                self._cond.notify_all()
        return first

    def _start(self, count: int) -> list[_Worker]:
        """A server, and `count - 1` siblings it forks once warm (their pipes made here)."""
        if count == 1:
            return [_Worker.start(self._argv, self._env, self._cwd)]
        pipes = [(os.pipe(), os.pipe()) for _ in range(count - 1)]  # (request r, w), (answer r, w)
        theirs = [(req[0], ans[1]) for req, ans in pipes]
        spec = ",".join(f"{a}:{b}" for a, b in theirs)
        try:
            first = _Worker.start([*self._argv, SIBLINGS, spec], self._env, self._cwd, pass_fds=tuple(sum(theirs, ())))
        except BaseException:
            for req, ans in pipes:
                for fd in (*req, *ans):
                    os.close(fd)
            raise
        for fd in sum(theirs, ()):
            os.close(fd)
        return [first, *(_Worker(req[1], ans[0]) for req, ans in pipes)]

    def _give(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                worker.stop()
                return
            self._idle.append(worker)
            self._cond.notify()

    def _drop(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        with self._cond:
            self._started -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:  # all told first: a server waits for its siblings before it exits
            worker.hangup()
        for worker in idle:
            worker.stop()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
