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
