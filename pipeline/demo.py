"""`intake demo`: the whole pipeline on the bundled sample mails, no servers.

Replies are written as .eml files instead of being sent; the summary is
written in every format. The output folder is rebuilt on every run.
"""
from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import default_config
from .errors import IntakeError
from .outbox import DirectoryTransport, deliver
from .resources import shipped
from .jobs import import_files
from .store import Store
from .summary import FORMATS, applicant_rows, render, totals_line

MARKER = ".intake-demo"
# The demo replays the samples as cron would have met them: each mail is processed
# five minutes after it arrived, so every reply reads as it would have then (its
# date, the deadline or correction window it names), not as of today.
POLL_EVERY = timedelta(minutes=5)


def _sample_files(tmp: Path) -> list[Path]:
    folder = shipped("samples")
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    if files:
        return files
    from .samples.mails import sample_mails

    out = []
    for name, data in sample_mails():
        path = tmp / name
        path.write_bytes(data)
        out.append(path)
    return out


def _arrival(path: Path) -> datetime:
    """When a bundled sample arrived: its Date header (the samples are ours, well formed)."""
    from email.parser import BytesHeaderParser
    from email.utils import parsedate_to_datetime

    with open(path, "rb") as fh:
        return parsedate_to_datetime(BytesHeaderParser().parse(fh)["Date"])


def run_demo(out: Path) -> dict:
    out = Path(out).resolve()
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise IntakeError(f"{out} 已存在且不是演示目录，请换一个 --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("intake demo output; safe to delete\n", encoding="utf-8")
    cfg = default_config(out / "storage")
    from .ruleset import load_rules

    wait = load_rules(cfg.rules_path).call.pairing_window + POLL_EVERY
    fetched = 0
    with tempfile.TemporaryDirectory() as tmp:
        timeline = sorted((_arrival(path), path) for path in _sample_files(Path(tmp)))
        for (arrived, path), after in zip(timeline, [t for t, _ in timeline[1:]] + [None]):
            polled = arrived + POLL_EVERY
            fetched += import_files(cfg, [path], send=False, now=lambda polled=polled: polled).fetched
            if after is None or after > polled + wait:
                # The poll after the pairing window: a Word still alone is answered then.
                import_files(cfg, [], send=False, now=lambda later=polled + wait: later)
    replies_dir = out / "replies"
    store = Store.open(cfg.db_path)
    try:
        deliver(store, DirectoryTransport(replies_dir), "新乡市科学技术协会科普中心 <kpzx350@163.com>")
        paths = {}
        for fmt in FORMATS:
            path = out / f"summary.{fmt}"
            path.write_bytes(render(store, fmt, out=path if fmt == "html" else None))
            paths[fmt] = str(path)
        rows = applicant_rows(store)
    finally:
        store.close()
    return {
        "mails": fetched,
        "totals": totals_line(rows),
        "db": str(cfg.db_path),
        "replies": str(replies_dir),
        "summary": paths,
    }
