"""intake performance benchmark (not part of the test suite).

    python bench/run.py                      # N=100 main run + size sweep 100,300, 3 repetitions
    python bench/run.py --n 100 --sizes 100  # quick: one size
    python bench/run.py --n 1000 --sizes 100,1000 --reps 1   # the long run (peak RSS target is at N=1000)

Starts its own Dovecot and SMTP sink on loopback (tests/integration/servers.py), APPENDs a
generated mailbox (bench/corpus.py), then measures whole processes through bench/measure.py:
floor (bench/floor.py), intake (`python -m pipeline poll --silent`, fresh storage dir each
repetition), idle (a second poll with nothing new) and bare (bench/bare.py); medians.
Then the per-page PDF micro-benchmark (bench/pdf_pages.py). See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from servers import DovecotServer, SmtpSink, connect  # noqa: E402

from corpus import build  # noqa: E402

PASSWORD = "secret"
TARGETS = {"intake_floor": 1.2, "idle_bare": 1.5, "rss_mb_n1000": 400, "flat": 0.20}


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    return f"nproc={os.cpu_count()}, CPU {cpu}, RAM {mem_kb / 1024 / 1024:.1f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def measure(cmd: list[str], env: dict | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        e = dict(os.environ, **(env or {}), BENCH_QUIET="1")
        # As installed (pip compiles .pyc; cron runs don't set this): no recompiling per run.
        e.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, str(HERE / "measure.py"), out, "--", *cmd], cwd=ROOT, env=e, check=True)
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


# intake paces replies for 163.com (default 30/minute, 200/run): with it a poll of N=100
# spends ~3 minutes in time.sleep. The benchmark measures processing, so it lifts the pace
# unless --throttled is given (then the production defaults apply).
UNTHROTTLED = """
[replies]
per_minute = 1000000
per_run = 1000000
per_day = 1000000
"""


def write_config(path: Path, dv: DovecotServer, sink: SmtpSink, storage: Path, throttled: bool = False, extra: str = "") -> None:
    path.write_text(
        f"""
[mailbox]
host = "127.0.0.1"
port = {dv.port}
user = "{dv.user}"
password_env = "BENCH_IMAP_PASSWORD"
ssl = false

[smtp]
host = "127.0.0.1"
port = {sink.port}
user = "{dv.user}"
password_env = "BENCH_SMTP_PASSWORD"
ssl = false
sender = "新乡市科协科普中心 <{dv.user}>"

[storage]
dir = "{storage}"
""" + ("" if throttled else UNTHROTTLED) + extra,
        encoding="utf-8",
    )


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def run_size(n: int, reps: int, scan_share: float, work: Path, log, throttled: bool = False, no_ocr: bool = False) -> dict:
    t = time.perf_counter()
    corpus = build(n, scan_share)
    kinds = Counter(k for _, k, _ in corpus)
    log(f"[N={n}] corpus: {len(corpus)} mails {dict(kinds)} ({sum(len(r) for _, _, r in corpus) / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    env = {"BENCH_IMAP_PASSWORD": PASSWORD, "BENCH_SMTP_PASSWORD": "x"}
    res: dict = {"n": n, "mails": len(corpus), "kinds": dict(kinds), "floor": [], "intake": [], "idle": [], "bare": [], "no_ocr": []}
    with DovecotServer(password=PASSWORD) as dv, SmtpSink() as sink:
        with connect(dv) as c:
            for when, _, raw in corpus:
                c.append("INBOX", raw, msg_time=when)
        imap = ["127.0.0.1", str(dv.port), dv.user]
        floor_cmd = [sys.executable, str(HERE / "floor.py"), *imap]
        bare_cmd = [sys.executable, str(HERE / "bare.py"), *imap]
        measure(floor_cmd, env)  # warm-up: Dovecot caches, page cache, .pyc
        measure(bare_cmd, env)
        for rep in range(reps):
            storage = work / f"n{n}-rep{rep}"
            cfg = work / f"n{n}-rep{rep}.toml"
            write_config(cfg, dv, sink, storage, throttled)
            intake_cmd = [sys.executable, "-m", "pipeline", "poll", "--config", str(cfg), "--silent"]
            res["floor"].append(measure(floor_cmd, env))
            sink.clear()
            m = measure(intake_cmd, env)
            if m["rc"] != 0:
                raise SystemExit(f"intake poll exited {m['rc']} (config {cfg})")
            res["intake"].append(m)
            sent = len(sink.messages)
            res["idle"].append(measure(intake_cmd, env))
            res["bare"].append(measure(bare_cmd, env))
            if len(sink.messages) != sent:
                log(f"  WARNING: idle poll sent {len(sink.messages) - sent} replies")
            if no_ocr:
                cfg2 = work / f"n{n}-rep{rep}-no-ocr.toml"
                write_config(cfg2, dv, sink, work / f"n{n}-rep{rep}-no-ocr", throttled, "\n[pdf]\nocr = false\n")
                res["no_ocr"].append(measure([sys.executable, "-m", "pipeline", "poll", "--config", str(cfg2), "--silent"], env))
            if rep == 0:
                db = sqlite3.connect(storage / "intake.db")
                res["statuses"] = dict(db.execute("select status, count(*) from applicants group by status").fetchall())
                res["mails_recorded"] = db.execute("select count(*) from mails").fetchone()[0]
                db.close()
                res["replies_sent"] = sent
            log(f"  rep {rep + 1}/{reps}: floor {res['floor'][-1]['wall']:.2f} s, intake {m['wall']:.2f} s, "
                f"idle {res['idle'][-1]['wall']:.2f} s, bare {res['bare'][-1]['wall']:.2f} s"
                + (f", intake ocr=false {res['no_ocr'][-1]['wall']:.2f} s" if no_ocr else ""))
    return res


def fmt_table(results: list[dict], main_n: int, pdf: dict | None, when: str, throttled: bool = False) -> str:
    L = []
    L.append(f"intake benchmark, {when}")
    L.append(f"machine: {machine()}")
    main = next(r for r in results if r["n"] == main_n)
    n = main["n"]
    k = main["kinds"]
    L.append(f"mailbox at N={n}: {main['mails']} mails = {n} applications ({k.get('scan', 0)} scanned PDFs, "
             f"{k.get('export', 0)} exported) + {main['mails'] - n} other; {len(main['intake'])} repetitions, medians")
    L.append("reply pacing: " + ("production defaults (30/min, 200/run)" if throttled else "lifted ([replies] per_minute/per_run/per_day = 1e6; see --throttled)"))
    L.append(f"intake result (rep 1): {main.get('mails_recorded')} mails recorded, applicants {main.get('statuses')}, "
             f"{main.get('replies_sent')} replies to the SMTP sink")
    L.append("")
    L.append(f"{'measurement':<34}{'wall s':>9}{'cpu s':>9}{'s/app':>9}{'RSS MB':>9}{'tree MB':>9}{'PSS MB':>9}")
    rows_of = [("floor", "floor   bench/floor.py"), ("intake", "intake  poll (new mail)"),
               ("no_ocr", "intake  poll, [pdf] ocr = false"),
               ("bare", "bare    bench/bare.py"), ("idle", "idle    poll (nothing new)")]
    for key, label in rows_of:
        rows = main.get(key) or []
        if not rows:
            continue
        per = f"{med(rows, 'wall') / n:.3f}" if key in ("floor", "intake", "no_ocr") else ""
        L.append(f"{label:<34}{med(rows, 'wall'):>9.2f}{med(rows, 'cpu'):>9.2f}{per:>9}"
                 f"{max(r['maxrss_mb'] for r in rows):>9.0f}{max(r['tree_mb'] for r in rows):>9.0f}"
                 f"{max(r.get('pss_mb', 0) for r in rows):>9.0f}")
    L.append("")
    r1 = med(main["intake"], "wall") / med(main["floor"], "wall")
    r2 = med(main["idle"], "wall") / med(main["bare"], "wall")
    ok = lambda b: "OK" if b else "MISS"  # noqa: E731
    L.append(f"{'ratio / check':<44}{'value':>10}  {'target':<10}")
    L.append(f"{'intake / floor (wall)':<44}{r1:>9.2f}x  {'<= 1.2x':<10}{ok(r1 <= 1.2)}")
    if main.get("no_ocr"):
        r3 = med(main["no_ocr"], "wall") / med(main["floor"], "wall")
        L.append(f"{'intake with [pdf] ocr = false / floor':<44}{r3:>9.2f}x  {'<= 1.2x':<10}{ok(r3 <= 1.2)}")
    L.append(f"{'idle / bare (wall)':<44}{r2:>9.2f}x  {'<= 1.5x':<10}{ok(r2 <= 1.5)}")
    sizes = sorted(results, key=lambda r: r["n"])
    mem = lambda r: max(max(x["maxrss_mb"], x.get("pss_mb", x["tree_mb"])) for x in r["intake"])  # noqa: E731
    for r in sizes:
        peak = mem(r)
        tgt = "<= 400 MB" if r["n"] >= 1000 else "(400 @1000)"
        label = "peak memory (PSS) of intake tree, N=%d" % r["n"]
        L.append(f"{label:<44}{peak:>8.0f}MB  {tgt:<10}{ok(peak <= 400) if r['n'] >= 1000 else ''}")
    if len(sizes) > 1:
        per = [med(r["intake"], "wall") / r["n"] for r in sizes]
        spread = max(per) / min(per) - 1
        L.append(f"{'time/app spread across sizes (max/min - 1)':<44}{spread * 100:>9.1f}%  {'<= 20%':<10}{ok(spread <= 0.2)}")
        L.append("")
        L.append(f"{'N':>6}{'mails':>7}{'intake s':>10}{'s/app':>8}{'floor s':>9}{'s/app':>8}{'ratio':>7}{'PSS MB':>8}{'tree MB':>8}{'reps':>6}")
        for r in sizes:
            iw, fw = med(r["intake"], "wall"), med(r["floor"], "wall")
            tree = max(x["tree_mb"] for x in r["intake"])
            L.append(f"{r['n']:>6}{r['mails']:>7}{iw:>10.1f}{iw / r['n']:>8.3f}{fw:>9.2f}{fw / r['n']:>8.4f}{iw / fw:>7.1f}{mem(r):>8.0f}{tree:>8.0f}{len(r['intake']):>6}")
    if pdf:
        L.append("")
        L.append(f"PDF micro-benchmark ({pdf['pages']}-page PDF, scanned {pdf['scan_mb']:.1f} MB)")
        L.append(f"  seal detection at 100 dpi, ms/page (no seal, all pages)   {pdf['seal_ms_page']:>8.1f}  <= 100  {ok(pdf['seal_ms_page'] <= 100)}")
        L.append(f"  seal detection, seal on the last page, ms total            {pdf['seal_found_ms']:>8.1f}")
        L.append(f"  text extraction (pypdfium2, text layer), ms/page           {pdf['text_ms_page']:>8.2f}")
        if pdf.get("ocr_ms_page") is not None:
            L.append(f"  OCR of a scanned page (150 dpi, libtesseract), ms/page        {pdf['ocr_ms_page']:>8.0f}")
        cp = max(pdf["child_maxrss_mb"], pdf["child_tree_mb"])
        L.append(f"  PDF child (python -m pipeline.forms.pdf) on it: {pdf['child_s']:.2f} s, peak RSS {cp:.0f} MB   <= 300  {ok(cp <= 300)}")
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="applications in the main run (default 100)")
    ap.add_argument("--sizes", default="100,300", help="comma-separated sizes for the time/app sweep (default 100,300)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions at --n (default 3)")
    ap.add_argument("--sweep-reps", type=int, default=1, help="repetitions at the other sizes (default 1)")
    ap.add_argument("--scan-share", type=float, default=0.3, help="share of scanned PDFs (default 0.3)")
    ap.add_argument("--throttled", action="store_true", help="keep intake's production reply pacing (30/min, 200/run)")
    ap.add_argument("--no-pdf", action="store_true", help="skip the PDF micro-benchmark")
    ap.add_argument("--no-ocr-variant", action="store_true", help="skip the extra poll with [pdf] ocr = false at --n")
    ap.add_argument("--json", help="also write raw results here")
    a = ap.parse_args()
    sizes = sorted({a.n, *(int(s) for s in a.sizes.split(",") if s.strip())})
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    results = []
    # Production installs carry compiled .pyc files; so does the benchmark.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pipeline"), str(HERE)], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        for n in [a.n] + [s for s in sizes if s != a.n]:
            results.append(run_size(n, a.reps if n == a.n else a.sweep_reps, a.scan_share, Path(tmp), log, a.throttled,
                                    no_ocr=n == a.n and not a.no_ocr_variant))
        pdf = None
        if not a.no_pdf:
            log("PDF micro-benchmark ...")
            out = Path(tmp) / "pdf.json"
            subprocess.run([sys.executable, str(HERE / "pdf_pages.py"), "--json", str(out)], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            pdf = json.loads(out.read_text())
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    table = fmt_table(results, a.n, pdf, when, a.throttled)
    print(table)
    if a.json:
        Path(a.json).write_text(json.dumps({"when": when, "machine": machine(), "results": results, "pdf": pdf}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
