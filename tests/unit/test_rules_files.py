"""Next year's call is a new rules file: the same form is judged by each file's numbers."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.checks import Context
from pipeline.models import BudgetItem, Document, PdfFacts, SealEvidence, Section, Submission
from pipeline.ruleset import load_rules
from pipeline.samples.apps import sample_applications
from pipeline.wordcount import word_count

ROOT = Path(__file__).resolve().parents[2]
RULES_2025 = ROOT / "rules" / "xinxiang-2025-kjzyfw.toml"
RULES_2026 = ROOT / "rules" / "example-2026-kjzyfw.toml"
CST = timezone(timedelta(hours=8))


def judge(rules: Path, app, when: datetime) -> set[str]:
    rs = load_rules(rules)
    doc = Document("0" * 64, "f", "docx", 1, when, "m")
    sub = Submission("k", "a@qq.com", doc, doc, when, when, when)
    pdf = PdfFacts(pages=5, text="", has_text_layer=False, text_source="ocr", seal=SealEvidence("red", 5, 0.9))
    return {f.code for f in rs.evaluate(Context(rs.call, sub, app, pdf)) if f.severity == "error"}


@pytest.fixture(scope="module")
def app():
    base = sample_applications()[0]
    items = (BudgetItem("1", "活动物料", "5000", Decimal("5000"), "按 10 次活动"),)
    long_text = "科技志愿服务" * 290  # 1,740 字: over 1,500, under 2,000
    return dataclasses.replace(
        base,
        budget_items=items,
        budget_total=Decimal("5000"),
        budget_total_text="5000",
        work_basis=Section(long_text, word_count(long_text)),
    )


def test_same_form_two_calls(app):
    may_2026 = datetime(2026, 6, 20, 10, tzinfo=CST)
    assert {"budget_over_limit", "text_too_long", "late"} <= judge(RULES_2025, app, may_2026)
    assert judge(RULES_2026, app, may_2026) == set()
    after_2026 = datetime(2026, 6, 30, 17, 31, tzinfo=CST)
    assert judge(RULES_2026, app, after_2026) == {"late"}


def test_every_shipped_rules_file_checks_out():
    for path in sorted((ROOT / "rules").glob("*.toml")):
        result = subprocess.run([sys.executable, "-m", "pipeline", "rules", "check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "规则文件有效" in result.stdout


def test_rules_check_names_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(RULES_2025.read_text(encoding="utf-8").replace('check = "budget_sum"', 'check = "budget_summ"'), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pipeline", "rules", "check", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "budget_summ" in result.stderr and len(result.stderr.strip().splitlines()) == 1
