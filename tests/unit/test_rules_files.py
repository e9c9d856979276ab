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
from pipeline.errors import RulesError
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


def test_the_letters_words_and_the_calls_topic_come_from_the_rules_file(tmp_path):
    """What a receipt says comes next, a late notice's closing and the words that make a mail
    about the call were the 2025 call's in code: another organizer's letters promised 市科协's selection."""
    from pipeline.judge import judge as verdict_of
    from pipeline.models import Finding, Mail
    from pipeline.replies import ReplyInput, environment, render_reply
    from pipeline.run import classify

    text = RULES_2025.read_text(encoding="utf-8").replace('id = "xinxiang-2025-kjzyfw"', 'id = "henan-2026-kpjd"')
    text = text.replace('next_steps = "市科协将根据申报情况择优确定试点单位，结果另行通知。"', 'next_steps = "省科协将组织专家评审，结果在省科协网站公布。"')
    text = text.replace('late_closing = "欢迎贵单位继续关注市科协今后发布的相关通知。"', 'late_closing = "欢迎贵单位关注省科协今后的认定工作。"')
    text = text.replace('topic_words = ["申报", "申请", "试点", "志愿服务"]', 'topic_words = ["认定", "科普基地"]')
    rules = tmp_path / "henan.toml"
    rules.write_text(text, encoding="utf-8")
    call = load_rules(rules).call
    when = datetime(2025, 6, 20, 10, tzinfo=CST)

    def letter(findings, now):
        inp = ReplyInput(verdict_of("a@qq.com", findings), "a@qq.com", "张三", "新乡市红旗区科协", "县级科协试点", "2025-KJZY-001",
                         (), when, "<m@qq.com>", ())
        return render_reply(inp, call, "中心 <kpzx350@163.com>", environment(), now)

    receipt = letter((), when)
    late = letter((Finding("late", "error", "已超过截止时间", "申报时间"),), when + timedelta(days=9))
    assert "省科协将组织专家评审" in receipt.text and "市科协将根据申报情况" not in receipt.text
    assert "欢迎贵单位关注省科协今后的认定工作。" in late.text and "市科协今后" not in late.text
    question = Mail(sha256="0" * 64, message_id="<q@qq.com>", sender="a@qq.com", sender_name="", subject="请问科普基地认定需要什么材料",
                    sent_at=when, received_at=when, body_text="")
    assert classify(question, call.topic_words) == "application" and classify(question) == "other"


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


def intake(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("edit", [
    ("correction_window_days = 3", 'correction_window_days = "5天"'),
    ("pairing_window_minutes = 30", 'pairing_window_minutes = "30分钟"'),
    ('params = { section = "七、经费支出预算表" }', 'params = "七、经费支出预算表"'),
])
def test_a_broken_rules_file_ends_every_command_with_one_line(tmp_path, edit):
    """`rules check`, and a command loading the rules (cron's import/poll), end with one Chinese line, exit 1."""
    bad = tmp_path / "bad.toml"
    bad.write_text(RULES_2025.read_text(encoding="utf-8").replace(*edit, 1), encoding="utf-8")
    config = tmp_path / "intake.toml"
    config.write_text('[storage]\ndir = "data"\n[campaign]\nrules = "bad.toml"\n', encoding="utf-8")
    sample = sorted((ROOT / "data" / "samples").glob("*.eml"))[0]
    for args in (["rules", "check", str(bad)], ["import", "--config", str(config), str(sample)], ["reprocess", "--config", str(config)]):
        result = intake(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("错误："), (args, result.stderr)


def test_rules_check_warns_when_the_blank_form_states_other_limits():
    """The 2026 example still names the 2025 form (限 1500 字, 4000 元): a warning, the file stays valid."""
    result = intake("rules", "check", str(RULES_2026))
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if line.startswith("提醒：")]
    assert len(warning) == 1
    for needle in ("申报书.docx", "三、工作基础 限 1500 字（规则 2000 字）", "五、考核指标 限 500 字（规则 800 字）", "4000 元（规则 6000 元）"):
        assert needle in warning[0], warning[0]
    assert "提醒" not in intake("rules", "check", str(RULES_2025)).stdout


def _form_with(text_edits: dict[str, str]) -> bytes:
    """The shipped blank form with some of its words changed (as next year's form would be)."""
    import io
    import zipfile

    source = ROOT / "templates" / "forms" / "申报书.docx"
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "word/document.xml":
                text = data.decode("utf-8")
                for old, new in text_edits.items():
                    assert old in text, old
                    text = text.replace(old, new)
                data = text.encode("utf-8")
            zout.writestr(info, data)
    return out.getvalue()


def test_a_blank_form_beside_the_rules_file_is_the_one_attached(tmp_path):
    """Next year's form is kept beside the rules file (templates/ of an installed package is not for editing)."""
    from pipeline.replies import blank_form_attachment

    form = _form_with({"等情况, 限 1500 字以内": "等情况, 限 2000 字以内", "限 500 字以内)": "限 800 字以内)", "不超过 4000 元": "不超过 6000 元"})
    (tmp_path / "申报书2026.docx").write_bytes(form)
    rules = tmp_path / "rules-2026.toml"
    text = RULES_2026.read_text(encoding="utf-8").replace('blank_form = "申报书.docx"', 'blank_form = "申报书2026.docx"')
    rules.write_text(text, encoding="utf-8")
    rs = load_rules(rules)
    attached = blank_form_attachment(rs.call)
    assert attached is not None and attached[1] == form
    # 四、试点建设方案 is 2500 字 in the 2026 rules, and this form still says 1500 there.
    assert len(rs.warnings) == 1 and "四、试点建设方案 限 1500 字（规则 2500 字）" in rs.warnings[0]
    assert "三、工作基础" not in rs.warnings[0] and "元" not in rs.warnings[0]
    (tmp_path / "申报书2026.docx").write_bytes(b"not a docx")
    with pytest.raises(RulesError, match="Word"):
        load_rules(rules)


def test_readme_documents_what_a_rules_file_may_say():
    """A maintainer writes next year's file from the README: every [call] key, check, param, fixed code and placeholder."""
    from pipeline.checks import REGISTRY
    from pipeline.ruleset import CALL_KEYS, FIELD_KINDS, FIXED_CODES, READER_CODES, message_values

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 规则文件"):readme.index("## 数据库结构")]
    for key in CALL_KEYS:
        assert f"`{key}`" in section, key
    for name in [*FIXED_CODES, *FIELD_KINDS, *READER_CODES]:
        assert f"`{name}`" in section, name
    table = section[section.index("### 检查与参数"):section.index("### 固定代码")]
    for name, spec in REGISTRY.items():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` ")), None)
        assert row is not None, name
        for param in spec.params:
            assert f"`{param}`" in row, (name, param)
        for variant, values in message_values(spec).items():
            assert not variant or f"`{variant}`" in row, (name, variant)
            for value in values:
                assert f"{{{value}}}" in row, (name, value)
