"""A data folder made by another user (a first run by hand as root, cron as another account).

intake is run in a forked child that gives up root, so the kernel really refuses it
(root itself may write anywhere); the command must end with one Chinese line that
says whose folder it is and who is running, not a traceback.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store import Store

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder to another user")


@pytest.fixture(params=[0o700, 0o755], ids=["data-0700", "data-0755"])
def shared(request):
    """A folder another user can read (pytest's tmp_path is root's only), with root's data folder in it."""
    root = Path(tempfile.mkdtemp(prefix="intake-perm-"))
    root.chmod(0o755)
    (root / "intake.toml").write_text(
        '[mailbox]\nhost = "127.0.0.1"\nport = 9\nuser = "kpzx350@163.com"\npassword_env = "X_IMAP"\nssl = false\n'
        '[smtp]\nhost = "127.0.0.1"\nport = 9\nuser = "kpzx350@163.com"\npassword_env = "X_SMTP"\nssl = false\n'
        'sender = "科普中心 <kpzx350@163.com>"\n[storage]\ndir = "data"\n',
        encoding="utf-8",
    )
    (root / "intake.toml").chmod(0o644)
    Store.open(root / "data" / "intake.db").close()  # as root: the database is 0600
    (root / "data").chmod(request.param)  # 0700 as intake makes it; 0755 when made by hand
    yield root
    shutil.rmtree(root)


def as_nobody(argv: list[str], cwd: Path, monkeypatch) -> tuple[int, str]:
    """Run `intake argv` in a child that is user nobody; its exit code and what it wrote to stderr.

    The command runs once as root on a copy first: the Python installation may be
    root's only (pyenv under /root), so the child must find every module already loaded.
    """
    warm = cwd.with_name(cwd.name + "-warm")
    shutil.copytree(cwd, warm)
    monkeypatch.setenv("X_IMAP", "x")
    monkeypatch.setenv("X_SMTP", "x")
    monkeypatch.chdir(warm)
    try:
        main(argv)
    finally:
        monkeypatch.chdir(cwd)
        shutil.rmtree(warm)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read)
            os.dup2(write, 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # not pytest's capture
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
            os.chdir(cwd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.environ.update(X_IMAP="x", X_SMTP="x", HOME="/nonexistent")
            code = main(argv)
            sys.stderr.flush()
            os._exit(code)
        except BaseException:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
            os._exit(99)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        err = fh.read().decode("utf-8", "replace")
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), err


@pytest.mark.parametrize("argv", [["poll", "--config", "intake.toml"], ["status", "--config", "intake.toml"],
                                  ["summary", "--config", "intake.toml", "--format", "csv"]])
def test_a_data_folder_of_another_user_is_one_chinese_line(shared, argv, monkeypatch, capsys):
    code, err = as_nobody(argv, shared, monkeypatch)
    assert code == 1, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误："), err
    whose = f"{shared / 'data'} 属于用户 root" if (shared / "data").stat().st_mode & 0o005 == 0 else f"{shared / 'data'}/"
    assert whose in lines[0] and "属于用户 root，当前用户是 nobody" in lines[0], err
