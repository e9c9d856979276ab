"""Run one command as a whole process and report wall time, CPU and peak RSS as JSON.

    python bench/measure.py OUT.json -- CMD ARGS...

A fresh wrapper process per measurement, so RUSAGE_CHILDREN covers exactly this
command and everything it waited for (PDF children, tesseract, soffice):
  maxrss_mb  ru_maxrss of RUSAGE_CHILDREN = the largest single process of the tree
  tree_mb    peak of the summed RSS of the whole live tree, sampled from /proc every 20 ms
             (catches parent + child alive at the same time; pages shared after a fork count
             once per process, so this overstates forked workers)
  pss_mb     peak of the summed PSS of the tree (/proc/PID/smaps_rollup): shared pages split
             between the processes sharing them, i.e. the memory the tree really holds
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


def _field_kb(path: str, name: str) -> int:
    """A 'Name:  123 kB' line of a /proc file, 0 when the process is gone."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(name):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_kb(root: int) -> tuple[int, int]:
    """Summed RSS and summed PSS of the live process tree under `root`."""
    kids = _children_map()
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        rss += _field_kb(f"/proc/{pid}/status", "VmRSS:")
        pss += _field_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
        todo.extend(kids.get(pid, ()))
    return rss, pss


def main(argv: list[str]) -> int:
    out = argv[1]
    cmd = argv[argv.index("--") + 1 :]
    peak = [0, 0]
    done = threading.Event()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if os.environ.get("BENCH_QUIET") else None)

    def sample() -> None:
        while not done.is_set():
            rss, pss = tree_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
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
        "pss_mb": peak[1] / 1024,
    }
    with open(out, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
