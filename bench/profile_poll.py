"""Profile one `intake poll` (cProfile) over the benchmark mailbox, plus the PDF child.

    python bench/profile_poll.py [--n 30] [--top 25] [--save DIR]

Prints the parent's top functions by cumulative time (pipeline/ only) and by own time,
and a cProfile of `python -m pipeline.forms.pdf` on one scanned and one exported PDF.
"""
from __future__ import annotations

import argparse
import email
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from email import policy
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from corpus import build
from run import PASSWORD, write_config
from servers import DovecotServer, SmtpSink, connect


def show(path: Path, top: int, title: str, total: float | None = None) -> None:
    st = pstats.Stats(str(path), stream=sys.stdout)
    tot = total or max(v[3] for v in st.stats.values())
    print(f"\n=== {title}: total {tot:.2f} s ===")
    rows = []
    for (file, line, func), (cc, nc, tt, ct, callers) in st.stats.items():
        rows.append((ct, tt, nc, f"{os.path.relpath(file, ROOT) if file.startswith(str(ROOT)) else file}:{line}:{func}"))
    print(f"{'cum s':>8}{'share':>7}{'own s':>8}{'calls':>8}  function")
    shown = 0
    for ct, tt, nc, name in sorted(rows, reverse=True):
        if name.startswith(("pipeline/", "~:0:<built-in method builtins.exec>")) or "subprocess" in name or "imapclient" in name or "sqlite" in name:
            print(f"{ct:>8.2f}{ct / tot:>7.0%}{tt:>8.2f}{nc:>8}  {name}")
            shown += 1
            if shown >= top:
                break
    print("--- by own time ---")
    for ct, tt, nc, name in sorted(rows, key=lambda r: -r[1])[:12]:
        print(f"{tt:>8.2f}{tt / tot:>7.0%}{nc:>8}  {name}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--save", type=Path, help="keep the .prof files in this folder (for pstats/snakeviz)")
    a = ap.parse_args()
    corpus = build(a.n)
    env = dict(os.environ, BENCH_IMAP_PASSWORD=PASSWORD, BENCH_SMTP_PASSWORD="x")
    with tempfile.TemporaryDirectory(prefix="intake-prof-") as tmp, DovecotServer(password=PASSWORD) as dv, SmtpSink() as sink:
        tmp = Path(tmp)
        with connect(dv) as c:
            for when, _, raw in corpus:
                c.append("INBOX", raw, msg_time=when)
        cfg = tmp / "intake.toml"
        write_config(cfg, dv, sink, tmp / "data", extra=os.environ.get("BENCH_CONFIG_EXTRA", "").replace("\\n", "\n"))
        prof = tmp / "poll.prof"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pipeline", "poll", "--config", str(cfg), "--silent"],
                       cwd=ROOT, env=env, check=True)
        wall = time.perf_counter() - t
        show(prof, a.top, f"intake poll, N={a.n} ({len(corpus)} mails), wall {wall:.2f} s")
        # the PDF child, on one scan and one export
        pdfs = {}
        for _, kind, raw in corpus:
            if kind in ("scan", "export") and kind not in pdfs:
                msg = email.message_from_bytes(raw, policy=policy.default)
                pdfs[kind] = next(p.get_content() for p in msg.iter_attachments() if (p.get_filename() or "").endswith(".pdf"))
        for kind, data in pdfs.items():
            cp = tmp / f"child-{kind}.prof"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "cProfile", "-o", str(cp), "-m", "pipeline.forms.pdf"], input=data,
                           cwd=ROOT, env=dict(env, PYTHONPATH=str(ROOT)), check=True, capture_output=True)
            show(cp, 15, f"PDF child on one {kind} PDF ({len(data) / 1e6:.2f} MB), wall {time.perf_counter() - t:.2f} s")
        if a.save:
            a.save.mkdir(parents=True, exist_ok=True)
            for f in tmp.glob("*.prof"):
                shutil.copy(f, a.save / f.name)
            print(f"\nprofiles kept in {a.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
