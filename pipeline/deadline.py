"""A time limit for pure-Python work on untrusted input in the poll's own process.

PDFs are read in sandboxed children with CPU, memory and wall limits; the Word
form and the MIME structure are read in the poll itself (a fork per file would
cost more than the reading). A pathological file that makes such a parser loop
for minutes would hold the poll, and with it the lock that every later cron run
waits on: nobody's mail would be processed. `call(seconds, fn, ...)` interrupts
the work with `TimeLimit` (a BaseException, so the parsers' own `except
Exception` cannot swallow it) and tells the caller, who records a problem.

Only in the main thread (SIGALRM is delivered there) and only where setitimer
exists; elsewhere the work runs unlimited, as before. A shorter timer already
running (a caller's own limit) is left alone and fires as it would have; a
longer one is re-armed with its remaining time afterwards. Code in C (lxml,
zlib) is interrupted when it returns to Python; the parsers cap their input sizes.
"""
from __future__ import annotations

import signal
import threading
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class TimeLimit(BaseException):
    """The work took longer than its limit (`owner` tells whose limit it was)."""

    def __init__(self, owner: object, seconds: float):
        super().__init__(f"over {seconds:g} s")
        self.owner = owner


def call(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, bool]:
    """(fn's result, False), or (None, True) when it ran longer than `seconds`."""
    usable = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0] if usable else 0.0
    if not usable or (outer_left and outer_left <= seconds):
        return fn(*args, **kwargs), False
    owner = object()

    def expired(signum, frame):
        raise TimeLimit(owner, seconds)

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs), False
    except TimeLimit as exc:
        if exc.owner is not owner:
            raise
        return None, True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            # The caller's longer timer goes on (at once, if it ran out meanwhile).
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3))
