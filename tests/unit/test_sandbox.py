"""The fork server that reads PDFs: same answers as a fresh child, and every failure contained."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline.forms import pdf as pdfmod
from pipeline.forms.sandbox import run_forked
from pipeline.samples.apps import sample_applications
from pipeline.samples.pdfs import build_form_pdf


def _no_limits() -> None:
    pass


def _answer(data: bytes) -> dict:
    return {"ok": True, "echo": data.decode(), "pid": os.getpid()}


def _sleep_with_grandchild(data: bytes) -> dict:
    pid_file = data.decode()
    proc = subprocess.Popen(["sleep", "300"])
    with open(pid_file, "w") as fh:
        fh.write(str(proc.pid))
    time.sleep(300)
    return {"ok": True}


def _abort(data: bytes) -> dict:
    os.abort()


def _raise(data: bytes) -> dict:
    raise SystemExit(3)


def _hog_memory(data: bytes) -> dict:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (512 * 1024 * 1024, resource.RLIM_INFINITY))
    blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
    return {"ok": True, "n": len(blocks)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(") ", 1)[1][0] != "Z"


def test_forked_child_answers_and_is_not_the_server():
    answer = run_forked(_answer, _no_limits, "你好".encode(), 10)
    assert answer["ok"] and answer["echo"] == "你好"
    assert answer["pid"] != os.getpid()


def test_timeout_kills_the_child_and_its_process_group(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    answer = run_forked(_sleep_with_grandchild, _no_limits, str(pid_file).encode(), 1.0)
    assert answer == {"ok": False, "reason": "timeout", "stderr": ""}
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the child's own child (e.g. tesseract) must die with it"


@pytest.mark.parametrize("handler", [_abort, _raise, _hog_memory])
def test_crash_exit_or_memory_limit_is_an_answer(handler):
    answer = run_forked(handler, _no_limits, b"x", 30)
    assert answer["ok"] is False and answer["reason"] == "crashed"


def _call_at_once(pool, data: bytes, n: int) -> list[dict]:
    """`n` requests from `n` threads at once (more than the pool has servers)."""
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(pool.call(data, 60))) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _wait_gone(pids: list[int], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_pool_reads_like_a_fresh_child():
    app = sample_applications()[0]
    files = [build_form_pdf(app), build_form_pdf(app, seal="none"), b"%PDF-1.4\n" + b"\x00" * 2000]
    with pdfmod.worker_pool(2) as pool:
        pooled = [pdfmod.read_pdf(data, pool=pool) for data in files]
    fresh = [pdfmod.read_pdf(data) for data in files]
    assert pooled == fresh
    assert pooled[0].seal.kind == "red" and pooled[1].seal.kind == "none"
    assert [p.code for p in pooled[2].problems] == ["format_unreadable"]


def test_pool_replaces_a_dead_worker_and_serves_threads_at_once():
    data = build_form_pdf(sample_applications()[1])
    with pdfmod.worker_pool(2) as pool:
        first = pool.call(data, 60)
        assert first["ok"]
        servers = [worker.identify() for worker in pool._idle]
        assert len(servers) == 2 and len(set(servers)) == 2
        for pid in servers:
            os.kill(pid, signal.SIGKILL)
        for worker in list(pool._idle):
            if worker.proc is not None:
                worker.proc.wait()
        _wait_gone(servers)
        results = _call_at_once(pool, data, 5)
        assert len(results) == 5 and all(r["ok"] and r["text"] == first["text"] for r in results)
        assert pool._started <= 2
        workers = list(pool._idle)
    assert workers and not any(w.alive() for w in workers), "closing the pool stops its servers"


def _anon_mb(pid: int) -> tuple[float, float]:
    """(Pss_Anon, Anonymous) of a process in MB: equal when none of its anonymous memory is shared."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                fields[name] = int(rest.split()[0]) / 1024
    if "Pss_Anon" not in fields:
        pytest.skip("kernel without Pss_Anon in smaps_rollup")
    return fields["Pss_Anon"], fields["Anonymous"]


def test_the_servers_of_a_pool_share_one_warm_image():
    """The second server is a fork of the first once warm: the OCR model, PDFium and
    numpy are in memory once, not once per core (issue #7's memory target)."""
    data = build_form_pdf(sample_applications()[0], scan=True, seed=3)
    with pdfmod.worker_pool(2) as pool:
        results = _call_at_once(pool, data, 4)
        assert len(results) == 4 and all(r["ok"] for r in results)
        servers = [worker.identify() for worker in pool._idle]
        assert len(set(servers)) == 2
        for pid in servers:
            pss_anon, anon = _anon_mb(pid)
            assert anon > 20 and pss_anon < 0.75 * anon, (pid, pss_anon, anon)


def test_each_server_of_a_pool_lives_and_dies_on_its_own():
    """Killing the first server leaves its sibling serving; a dead sibling is noticed at
    once (its channel closes: the first server holds none of its pipes) and replaced."""
    from pipeline.forms.sandbox import WorkerGone

    data = build_form_pdf(sample_applications()[2])
    with pdfmod.worker_pool(2) as pool:
        first = pool._take()
        sibling = pool._take()
        assert first.proc is not None and sibling.proc is None
        assert sibling.identify() != first.pid
        os.killpg(first.pid, signal.SIGKILL)
        first.proc.wait()
        assert sibling.request(data, 60)["ok"], "the sibling serves on without the server it was forked from"
        os.kill(sibling.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(WorkerGone):
            sibling.request(data, 60)
        assert time.monotonic() - started < 10
        pool._drop(first)
        pool._drop(sibling)
        sibling.stop()  # a second stop is harmless (its pipe numbers may belong to other files now)
        assert pool._started == 0
        assert pool.call(data, 60)["ok"]
        assert pool._started == 2 and len(pool._idle) == 2  # every server lost: a warm group again


def test_a_broken_pool_is_not_the_applicants_fault():
    """Servers that cannot start are machinery trouble: the file is read by a fresh child instead."""
    from pipeline.forms.sandbox import Pool

    data = build_form_pdf(sample_applications()[0])
    with Pool("pipeline.no_such_module", workers=1) as broken:
        assert broken.call(data, 30)["reason"] == "worker_gone"
        facts = pdfmod.read_pdf(data, pool=broken)
    assert not facts.problems and facts.seal.kind == "red" and facts.has_text_layer


def test_default_workers_follow_the_cores_but_stay_bounded(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert pdfmod.default_workers() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert pdfmod.default_workers() == pdfmod.DEFAULT_WORKERS_MAX == 4
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert pdfmod.default_workers() == 1


def test_children_that_read_strangers_files_never_see_the_authorization_codes(monkeypatch):
    monkeypatch.setenv("XINXIANG_IMAP_CODE", "Kq7v-secret-imap")
    monkeypatch.setenv("SMTP_AUTH_FILE", "/run/secrets/smtp")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = pdfmod.child_env()
    assert "XINXIANG_IMAP_CODE" not in env and "SMTP_AUTH_FILE" not in env
    assert env["LC_ALL"] == "C.UTF-8" and env["PATH"] and env["OMP_THREAD_LIMIT"] == "1"
    with pdfmod.worker_pool(1) as pool:
        assert pool.call(build_form_pdf(sample_applications()[0]), 60)["ok"]
        server = pool._idle[0].proc.pid
        with open(f"/proc/{server}/environ", "rb") as fh:
            seen = fh.read()
    assert b"Kq7v-secret-imap" not in seen and b"SMTP_AUTH_FILE" not in seen and b"PATH=" in seen


def test_a_library_printing_in_the_server_does_not_corrupt_answers():
    """Anything the worker process prints goes to stderr, not into the answer channel."""
    from pipeline.forms.sandbox import ANSWER, REQUEST

    code = (
        "import sys\n"
        "from pipeline.forms import sandbox\n"
        "channel = sandbox.protect_channel()\n"
        "print('stray output ' * 50, flush=True)\n"
        "sys.exit(sandbox.serve(lambda d: {'ok': True, 'n': len(d)}, lambda: None, channel=channel))\n"
    )
    request = REQUEST.pack(3, 10_000) + b"abc"
    proc = subprocess.run([sys.executable, "-c", code], input=request, capture_output=True, timeout=60)
    assert proc.returncode == 0
    answer = b'{"ok": true, "n": 3}'
    assert proc.stdout == ANSWER.pack(len(answer)) + answer
    assert b"stray output" in proc.stderr


KILLER_SERVER = """
import os, signal, sys, time
from pipeline.forms import sandbox

def handle(data):
    with open(data.decode(), "w") as fh:
        fh.write(str(os.getpid()))
    os.kill(os.getppid(), signal.SIGKILL)  # the server dies mid-request
    time.sleep(120)
    return {"ok": True}

if __name__ == "__main__":
    channel = sandbox.protect_channel()
    sys.exit(sandbox.serve(handle, lambda: None, channel=channel))
"""

SLOW_SERVER = """
import sys, time
from pipeline.forms import sandbox

if __name__ == "__main__":
    time.sleep(60)  # stuck before it reads a request (e.g. a hanging warm-up)
    sys.exit(sandbox.serve(lambda d: {"ok": True}, lambda: None))
"""


BUSY_SERVER = """
import sys, time
from pipeline.forms import sandbox

def handle(data):
    end = time.process_time() + float(data)
    while time.process_time() < end:
        pass
    return {"ok": True}

if __name__ == "__main__":
    channel = sandbox.protect_channel()
    siblings = sandbox.fork_siblings(sandbox.sibling_channels(sys.argv), handle, lambda: None, own=(0, channel))
    code = sandbox.serve(handle, lambda: None, channel=channel)
    sandbox.wait_siblings(siblings)
    sys.exit(code)
"""


def test_a_closed_pool_accounts_every_servers_cpu_to_the_run(tmp_path):
    """The siblings stay children of the first server until the pool closes, so the CPU
    they spent is the run's (what `time`, cron accounting and the benchmark see)."""
    import resource

    def children_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    before = children_cpu()
    pool = _server_pool(tmp_path, "busy_server", BUSY_SERVER, workers=2, siblings=True)
    started = time.monotonic()
    assert all(r["ok"] for r in _call_at_once(pool, b"0.4", 4))
    assert len({w.identify() for w in pool._idle}) == 2
    pool.close()
    assert time.monotonic() - started < 10
    assert children_cpu() - before >= 4 * 0.4 * 0.9


def _server_pool(tmp_path, name: str, source: str, **kw):
    from pipeline.forms.sandbox import Pool

    (tmp_path / f"{name}.py").write_text(source)
    kw.setdefault("workers", 1)
    return Pool(name, env={**os.environ, "PYTHONPATH": str(tmp_path)}, **kw)


def test_a_server_dying_mid_request_is_noticed_at_once_and_takes_its_child_along(tmp_path):
    pid_file = tmp_path / "child.pid"
    with _server_pool(tmp_path, "killer_server", KILLER_SERVER) as pool:
        started = time.monotonic()
        answer = pool.call(str(pid_file).encode(), 60)
        took = time.monotonic() - started
    assert answer["reason"] == "worker_gone"
    assert took < 20, f"{took:.1f} s: the parent waited for the orphaned child instead of the server's EOF"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "a child whose server died must not run on"


def test_a_server_that_never_reads_cannot_block_the_sender(tmp_path):
    with _server_pool(tmp_path, "slow_server", SLOW_SERVER, grace=1.0) as pool:
        started = time.monotonic()
        answer = pool.call(b"%PDF-" + b"x" * (2 << 20), 1.0)  # far more than a pipe buffer
        took = time.monotonic() - started
    assert answer["reason"] == "worker_gone" and took < 15


def test_a_closed_pool_answers_worker_gone_so_a_fresh_child_reads_the_file():
    pool = pdfmod.worker_pool(1)
    pool.close()
    assert pool.call(b"%PDF-1.4", 10)["reason"] == "worker_gone"
    facts = pdfmod.read_pdf(build_form_pdf(sample_applications()[0]), pool=pool)
    assert facts.seal.kind == "red" and not facts.problems
