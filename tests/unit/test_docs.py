"""README documents every command, config key, problem code and table."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pipeline.cli import cli
from pipeline.config import MailboxConfig, PdfConfig, RepliesConfig, SmtpConfig
from pipeline.store import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group, prefix=""):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize("command", sorted(commands(cli)))
def test_every_command_is_documented(command):
    assert f"intake {command}" in README


@pytest.mark.parametrize(
    "key",
    sorted(
        set(MailboxConfig.__dataclass_fields__)
        | set(SmtpConfig.__dataclass_fields__)
        | set(RepliesConfig.__dataclass_fields__)
    ),
)
def test_every_config_key_is_documented(key):
    assert re.search(rf"\b{key}\b", README)


@pytest.mark.parametrize("key", sorted(PdfConfig.__dataclass_fields__))
def test_every_pdf_key_is_documented(key):
    assert f"`[pdf] {key}`" in README


def rule_codes():
    for path in sorted((ROOT / "rules").glob("*.toml")):
        for rule in tomllib.loads(path.read_text(encoding="utf-8"))["rule"]:
            yield rule["code"]


def source_codes():
    """Every code a Finding is built with in the package source."""
    for path in (ROOT / "pipeline").rglob("*.py"):
        yield from re.findall(r'Finding\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("code", sorted(set(rule_codes()) | set(source_codes())))
def test_every_problem_code_is_documented(code):
    assert f"`{code}`" in README


@pytest.mark.parametrize("table", re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
def test_every_table_is_documented(table):
    assert f"`{table}`" in README


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in README
    assert "intake demo" in README


CRON_SETTING = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*(.*?)\s*")  # crontab(5): `name = value`, not a job


def _crontab_lines() -> list[str]:
    """The README's crontab jobs (settings such as CRON_TZ=… left out: see `_crontab_settings`)."""
    blocks = re.findall(r"```cron\n(.*?)```", README, re.S)
    return [line for block in blocks for line in block.splitlines()
            if line.strip() and not line.startswith("#") and not CRON_SETTING.fullmatch(line)]


def _crontab_settings() -> list[tuple[str, str, int]]:
    """(name, value, how many jobs come before it) for each setting line in the README's crontab."""
    blocks = re.findall(r"```cron\n(.*?)```", README, re.S)
    out, jobs = [], 0
    for line in (line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")):
        if m := CRON_SETTING.fullmatch(line):
            out.append((m.group(1), m.group(2).strip("\"'"), jobs))
        else:
            jobs += 1
    return out


def test_readme_crontab_runs_the_digest_at_8_beijing_time():
    """Cloud servers run in UTC: without CRON_TZ the 08:00 digest reached staff at 16:00 Beijing time."""
    assert ("CRON_TZ", "Asia/Shanghai", 0) in _crontab_settings(), "CRON_TZ=Asia/Shanghai before the jobs"
    (digest,) = [line for line in _crontab_lines() if " digest " in line]
    assert digest.split()[:2] == ["0", "8"]
    assert "Debian" in README and "timedatectl set-timezone Asia/Shanghai" in README  # where CRON_TZ is not read


def test_readme_crontab_lines_run_in_crons_environment(tmp_path):
    """The crontab lines work as cron runs them: PATH=/usr/bin:/bin, no LANG, cwd /, intake in a venv.

    Each line must find `intake` and its 授权码; the servers are closed ports here, so
    the run ends with intake's own line about the connection, not with the shell's
    "intake: not found" or a missing password variable.
    """
    import os
    import socket
    import subprocess
    import sys

    srv = tmp_path / "srv intake"
    (srv / ".venv" / "bin").mkdir(parents=True)
    script = srv / ".venv" / "bin" / "intake"  # what pip writes into a venv: an absolute interpreter
    script.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m pipeline "$@"\n')
    script.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # released at once: nothing listens there
    (srv / "intake.toml").write_text(
        f'[mailbox]\nhost = "127.0.0.1"\nport = {closed}\nuser = "kpzx350@163.com"\npassword_env = "INTAKE_IMAP_PASSWORD"\n'
        f'ssl = false\n[smtp]\nhost = "127.0.0.1"\nport = {closed}\nuser = "kpzx350@163.com"\n'
        f'password_env = "INTAKE_SMTP_PASSWORD"\nssl = false\nsender = "科普中心 <kpzx350@163.com>"\n'
        f'[storage]\ndir = "data"\n[staff]\naddresses = ["guo@example.com"]\n',
        encoding="utf-8",
    )
    (srv / "secrets.env").write_text("INTAKE_IMAP_PASSWORD=code1\nINTAKE_SMTP_PASSWORD=code2\n")
    (srv / "data").mkdir()  # README: mkdir -p the log folder first
    lines = _crontab_lines()
    assert len(lines) >= 2, "README shows the poll and the digest crontab lines"
    for line in lines:
        command = line.split(None, 5)[5].replace("/srv/intake", f"'{srv}'")
        log = srv / "data" / "poll.log"
        log.unlink(missing_ok=True)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}
        env.update((name, value) for name, value, _ in _crontab_settings())  # cron hands settings to jobs
        done = subprocess.run(["/bin/sh", "-c", command], cwd="/", env=env, stdin=subprocess.DEVNULL, timeout=120)
        out = log.read_text(encoding="utf-8") if log.exists() else ""
        assert done.returncode != 127 and "not found" not in out, (line, out)
        assert "未设置" not in out, (line, out)
        assert "连接" in out or "无法" in out, (line, out)
