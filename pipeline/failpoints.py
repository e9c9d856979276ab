"""Named crash points for the crash tests (like fail-rs failpoints).

`INTAKE_FAILPOINT=name` (or `name:N` for the N-th time it is reached) makes
the process die on the spot with os._exit, as kill -9 would: no cleanup, no
commit (with INTAKE_FAILPOINT_RAISE=1 it raises MemoryError instead). Unset (always, in production) it costs one dict lookup.
"""
from __future__ import annotations

import os

_counts: dict[str, int] = {}


def hit(name: str) -> None:
    spec = os.environ.get("INTAKE_FAILPOINT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] >= int(nth or 1):
        if os.environ.get("INTAKE_FAILPOINT_RAISE"):
            raise MemoryError(f"failpoint {name}")  # an exception no one foresaw, not a kill
        os._exit(99)
