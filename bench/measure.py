"""Run one command as a whole process and report wall time, CPU and peak RSS as JSON.

    python bench/measure.py OUT.json -- CMD ARGS...

A fresh wrapper process per measurement, so RUSAGE_CHILDREN covers exactly this
command and everything it waited for (PDF children, tesseract, soffice):
  maxrss_mb  ru_maxrss of RUSAGE_CHILDREN = the largest single process of the tree
  tree_mb    peak of the summed RSS of the whole live tree, sampled from /proc every 20 ms
             (catches parent + child alive at the same time)
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    kids = _children_map()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo.extend(kids.get(pid, ()))
    return total


def main(argv: list[str]) -> int:
    out = argv[1]
    cmd = argv[argv.index("--") + 1 :]
    peak = [0]
    done = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if os.environ.get("BENCH_QUIET") else None)

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            done.wait(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "rc": rc,
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "maxrss_mb": ru.ru_maxrss / 1024,
        "tree_mb": peak[0] / 1024,
    }
    with open(out, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
