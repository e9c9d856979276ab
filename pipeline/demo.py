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
from .summary import FORMATS, STATUS_ZH, applicant_rows, render

MARKER = ".intake-demo"
# The demo replays the samples on the morning after the deadline, so its replies
# read as they would have then (dates, correction windows), not as of today.
DEMO_NOW = datetime(2025, 6, 24, 10, 0, tzinfo=timezone(timedelta(hours=8)))


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


def run_demo(out: Path) -> dict:
    out = Path(out).resolve()
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise IntakeError(f"{out} 已存在且不是演示目录，请换一个 --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("intake demo output; safe to delete\n", encoding="utf-8")
    cfg = default_config(out / "storage")
    with tempfile.TemporaryDirectory() as tmp:
        samples = _sample_files(Path(tmp))
        stats = import_files(cfg, samples, send=False, now=lambda: DEMO_NOW)
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
    totals = "，".join(f"{label} {sum(1 for r in rows if r['status'] == key)}" for key, label in STATUS_ZH.items())
    return {
        "mails": stats.fetched,
        "applicants": len(rows),
        "totals": totals,
        "db": str(cfg.db_path),
        "replies": str(replies_dir),
        "summary": paths,
    }
