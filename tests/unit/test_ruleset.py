"""The rules engine: loading validates the file; evaluation never raises."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.checks import Context
from pipeline.errors import RulesError
from pipeline.models import Document, Submission
from pipeline.ruleset import load_rules

RULES = Path(__file__).resolve().parents[2] / "rules" / "xinxiang-2025-kjzyfw.toml"
CST = timezone(timedelta(hours=8))

HEADER = """
[call]
id = "t"
name = "测试"
notice_date = "2025-06-18"
deadline = 2025-06-23T23:59:59+08:00
mailbox = "kpzx350@163.com"
receipt_prefix = "T"
organizer = "科普中心"
contact = "郭明梅，电话 0373-3661812"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_shipped_rules_load():
    rs = load_rules(RULES)
    assert rs.call.deadline == datetime(2025, 6, 23, 23, 59, 59, tzinfo=CST)
    codes = {r.code for r in rs.rules}
    assert {"late", "missing_word", "missing_pdf", "format_unreadable", "missing_stamp"} <= codes


@pytest.mark.parametrize(
    "body, needle",
    [
        ('[[rule]]\ncode = "x"\ncheck = "no_such_check"\n', "no_such_check"),
        ('[[rule]]\ncode = "x"\ncheck = "file_present"\n', "kind"),
        ('[[rule]]\ncode = "x"\ncheck = "file_present"\nparams = { kind = "word", bogus = 1 }\n', "bogus"),
        ('[[rule]]\ncode = "x"\ncheck = "file_present"\nparams = { kind = 3 }\n', "kind"),
        ('[[rule]]\ncode = "x"\ncheck = "deadline"\n[[rule]]\ncode = "x"\ncheck = "deadline"\n', "重复"),
        ('[[rule]]\ncode = "x"\ncheck = "deadline"\nseverity = "fatal"\n', "severity"),
        ("", "没有任何"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(tmp_path, body, needle):
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, body))
    assert needle in str(info.value)


def test_deadline_without_timezone_is_refused(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(HEADER.replace("23:59:59+08:00", "23:59:59") + '[[rule]]\ncode="late"\ncheck="deadline"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="时区"):
        load_rules(path)


def doc(kind: str, when: datetime) -> Document:
    return Document("0" * 64, f"f.{kind}", kind, 10, when, "m")


def submission(first: datetime, word: datetime | None, pdf: datetime | None, notice=None) -> Submission:
    complete = max(word, pdf) if word and pdf else None
    return Submission(
        applicant="a@example.com",
        sender="a@example.com",
        word=doc("docx", word) if word else None,
        pdf=doc("pdf", pdf) if pdf else None,
        first_received_at=first,
        last_received_at=max(t for t in (first, word, pdf) if t),
        complete_at=complete,
        correction_notice_at=notice,
    )


def codes(sub: Submission) -> set[str]:
    rs = load_rules(RULES)
    return {f.code for f in rs.evaluate(Context(rs.call, sub, None, None))}


def test_deadline_is_inclusive_in_shanghai_time():
    on_time = datetime(2025, 6, 23, 23, 59, 59, tzinfo=CST)
    late = on_time + timedelta(seconds=1)
    assert "late" not in codes(submission(on_time, on_time, on_time))
    assert "late" in codes(submission(late, late, late))
    # the same instant written in UTC
    assert "late" not in codes(submission(on_time.astimezone(timezone.utc), on_time, on_time))


def test_correction_within_window_is_not_late():
    first = datetime(2025, 6, 22, 10, tzinfo=CST)
    notice = first + timedelta(minutes=5)
    pdf_in_window = datetime(2025, 6, 24, 9, tzinfo=CST)
    assert "late" not in codes(submission(first, first, pdf_in_window, notice=notice))
    pdf_after_window = notice + timedelta(days=3, seconds=1)
    assert "late" in codes(submission(first, first, pdf_after_window, notice=notice))


def test_missing_files_are_named():
    t = datetime(2025, 6, 20, tzinfo=CST)
    assert {"missing_pdf"} <= codes(submission(t, t, None))
    assert {"missing_word"} <= codes(submission(t, None, t))
    assert not {"missing_word", "missing_pdf"} & codes(submission(t, t, t))


# -- what `rules check` (and every command loading the rules) refuses -------------------------------
# Each case is one mistake a maintainer makes in a copy of the shipped file. Before, these loaded
# and then switched a rule off when an applicant was judged (or crashed with a traceback).

BASE = RULES.read_text(encoding="utf-8")
LATE_RULE = '[[rule]]\ncode = "late"\ncheck = "deadline"\n'
WORK_BASIS = '{ path = "work_basis", section = "三、工作基础", limit = 1500 }'


def edited(tmp_path: Path, old: str, new: str) -> Path:
    assert old in BASE, old
    path = tmp_path / "rules.toml"
    path.write_text(BASE.replace(old, new, 1), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def refused_naming(tmp_path: Path, old: str, new: str, needles: list[str]) -> None:
    """The shipped rules with `old` edited to `new` are refused with one line naming every needle."""
    message = refused(edited(tmp_path, old, new))
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    "old, new, needles",
    [
        (WORK_BASIS, WORK_BASIS.replace("1500", '"1500字"'), ["text_too_long", "sections 第 1 项（三、工作基础）", "limit", "1500字"]),
        (WORK_BASIS, WORK_BASIS.replace("limit", "limt"), ["text_too_long", "第 1 项", "limt", "是不是 limit"]),
        (WORK_BASIS, WORK_BASIS.replace('"work_basis"', '"workbasis"'), ["text_too_long", "workbasis", "是不是 work_basis"]),
        (WORK_BASIS, WORK_BASIS.replace('"work_basis"', '"address"'), ["text_too_long", "address", "plan"]),  # no word count
        ('{ path = "address", section', '{ path = "adress", section', ["field_missing", "第 14 项", "adress", "是不是 address"]),
        ('{ path = "contact.phone", kind = "mobile"', '{ path = "contact.phone", kind = "mobil"', ["contact_invalid", "第 4 项", "mobil", "mobile"]),
        ('{ path = "contact.phone", kind = "mobile"', '{ path = "plan", kind = "mobile"', ["contact_invalid", "第 4 项", "plan"]),
        ('{ path = "contact.phone", kind = "mobile"', '{ path = "contact.phone", kind = "mobile", sectoin = "x"', ["contact_invalid", "sectoin"]),
        ('unit = "个|项", min = 1 }', 'unit = "个|项", min = "1个" }', ["plan_below_minimum", "第 2 项", "min", "1个"]),
        (', example = "实施重点项目1个"', "", ["plan_below_minimum", "第 2 项", "缺少 example"]),
        ('anchors = ["重点项目"]', 'anchors = []', ["plan_below_minimum", "anchors", "不能为空"]),
        ('unit = "个|项"', 'unit = "个|(项"', ["plan_below_minimum", "unit", "正则"]),
        ('params.fields = [\n  { path = "cover_unit"', 'params.fields = [\n  "cover_unit",\n  { path = "cover_unit"', ["field_missing", "第 1 项", "应为表"]),
    ],
)
def test_mistakes_inside_list_params_are_refused(tmp_path, old, new, needles):
    refused_naming(tmp_path, old, new, needles)


@pytest.mark.parametrize(
    "old, new, needles",
    [
        ('codes = ["format_unreadable"]', 'codes = ["format_unreadabel"]', ["format_unreadabel", "是不是 format_unreadable"]),
        ('codes = ["attachment_too_large"]', 'codes = ["attachement_too_large"]', ["attachement_too_large"]),
        ('codes = ["pdf_not_a4"]', 'codes = []', ["codes", "不能为空"]),
        ('params = { kind = "pdf" }', 'params = { kind = "PDF" }', ["kind", "小写的 pdf"]),
        ('params = { kind = "pdf" }', 'params = { kind = "pfd" }', ["kind", "word、pdf"]),
        ("warn_below = 0.8", "warn_below = 0.2", ["error_below", "warn_below"]),
        ("limit = 4000,", "limit = -4000,", ["budget_over_limit", "limit"]),
        ('code = "budget_sum_mismatch"\ncheck = "budget_sum"\nparams = { section = "七、经费支出预算表" }',
         'code = "budget_sum_mismatch"\ncheck = "budget_sum"\nparams = "七、经费支出预算表"', ["budget_sum_mismatch", "params"]),
        ('code = "budget_sum_mismatch"', 'code = "预算不符"', ["预算不符", "小写英文"]),
    ],
)
def test_codes_enums_and_values_are_checked(tmp_path, old, new, needles):
    refused_naming(tmp_path, old, new, needles)


def test_every_code_a_reader_emits_can_be_mapped():
    """reader_problems only accepts codes the readers emit: this list must follow the source."""
    import re

    from pipeline.models import QUESTION_CODE
    from pipeline.ruleset import READER_CODES

    root = Path(__file__).resolve().parents[2] / "pipeline"
    emitted = {QUESTION_CODE}
    for path in root.rglob("*.py"):
        emitted |= set(re.findall(r'Finding\(\s*"([a-z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert emitted - {"staff_note", "check_failed"} == set(READER_CODES)


@pytest.mark.parametrize(
    "old, new, needles",
    [
        ("correction_window_days = 3", "correction_window = 5", ["correction_window", "是不是 correction_window_days"]),
        ('receipt_prefix = "2025-KJZY"', 'recipt_prefix = "2026-KJZY"', ["recipt_prefix", "是不是 receipt_prefix"]),
        ('contact = "郭明梅、赵津，电话 0373-3661812"', '"联系人" = "王丽"', ["联系人", "contact"]),
        ('contact = "郭明梅、赵津，电话 0373-3661812"', "", ["缺少 contact"]),
        ('mailbox = "kpzx350@163.com"\n', "", ["缺少 mailbox"]),
        ('organizer = "新乡市科学技术协会科普中心"\n', "", ["缺少 organizer"]),
        ('receipt_prefix = "2025-KJZY"\n', "", ["缺少 receipt_prefix"]),
        ('receipt_prefix = "2025-KJZY"', 'receipt_prefix = ""', ["receipt_prefix", "不能为空"]),
        ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"', ["timezone", "Asia/Beijing", "Asia/Shanghai"]),
        ('timezone = "Asia/Shanghai"', 'timezone = "北京时间"', ["timezone", "北京时间"]),
        ("correction_window_days = 3", 'correction_window_days = "5天"', ["correction_window_days", "5天", "数字"]),
        ("correction_window_days = 3", "correction_window_days = -3", ["correction_window_days", "负数"]),
        ("pairing_window_minutes = 30", 'pairing_window_minutes = "30分钟"', ["pairing_window_minutes", "30分钟"]),
        ('mailbox = "kpzx350@163.com"', 'mailbox = "科普中心邮箱"', ["mailbox", "邮箱地址"]),
        ("deadline = 2025-06-23T23:59:59+08:00", "deadline = 2026-05-15", ["deadline", "只写了日期"]),
        ("deadline = 2025-06-23T23:59:59+08:00", 'deadline = "2026-05-15"', ["deadline", "只写了日期"]),
        ('notice_date = "2025-06-18"', 'notice_date = "6月18日"', ["notice_date"]),
        ('notice_date = "2025-06-18"\n', "", ["缺少 notice_date"]),
        ('notice_date = "2025-06-18"', 'notice_date = "2025-07-18"', ["notice_date", "晚于"]),
        ('blank_form = "申报书.docx"', 'blank_form = "申报书2026.docx"', ["blank_form", "申报书2026.docx", "不存在"]),
        (LATE_RULE, LATE_RULE.replace("[[rule]]", "[[rules]]"), ["rules", "[[rule]]"]),
    ],
)
def test_call_mistakes_are_refused(tmp_path, old, new, needles):
    refused_naming(tmp_path, old, new, needles)


@pytest.mark.parametrize(
    "old, new, needles",
    [
        ('code = "late"', 'code = "overdue"', ["overdue", "必须是 late"]),
        (LATE_RULE, "", ["late", "deadline"]),
        (LATE_RULE, LATE_RULE + 'severity = "warning"\n', ["late", "severity"]),
        ('code = "missing_pdf"', 'code = "pdf_missing"', ["pdf_missing", "必须是 missing_pdf"]),
        ('code = "missing_stamp"', 'code = "no_seal"', ["no_seal", "必须是 missing_stamp"]),
        ('code = "wrong_form"', 'code = "not_the_form"', ["not_the_form", "必须是 wrong_form"]),
        ('[[rule]]\ncode = "format_unreadable"\ncheck = "reader_problems"\nparams = { codes = ["format_unreadable"] }\n', "",
         ["format_unreadable"]),
        ('codes = ["format_unreadable"]', 'codes = ["format_unreadable", "pdf_not_a4"]', ["format_unreadable", "只能是"]),
        ('code = "pilot_type_invalid"', 'code = "late"', ["重复"]),
        ('code = "budget_over_limit"', 'code = "missing_word"', ["重复"]),
    ],
)
def test_codes_the_program_acts_on_keep_their_meaning(tmp_path, old, new, needles):
    refused_naming(tmp_path, old, new, needles)


def test_code_with_a_fixed_meaning_on_another_check_is_refused(tmp_path):
    path = edited(tmp_path, 'code = "missing_word"\ncheck = "file_present"', 'code = "word_absent"\ncheck = "file_present"')
    path.write_text(path.read_text(encoding="utf-8").replace('code = "budget_over_limit"', 'code = "missing_word"'), encoding="utf-8")
    message = refused(path)
    assert "word_absent" in message and "missing_word" in message


def test_an_optional_fixed_code_left_out_is_a_warning(tmp_path):
    """A PDF-only call has no missing_word rule: allowed, but `rules check` says what is then not checked."""
    rs = load_rules(edited(tmp_path, '[[rule]]\ncode = "missing_word"\ncheck = "file_present"\nparams = { kind = "word" }\n', ""))
    assert [w for w in rs.warnings if "missing_word" in w and "Word" in w]
    assert load_rules(RULES).warnings == ()


@pytest.mark.parametrize(
    "message, needles",
    [
        ('"经费预算合计 {合计} 元，超过通知规定的 {上限} 元。"', ["{合计}", "{total}", "{limit}"]),
        ('{ over = "超过 {limit} 字", nearly = "接近" }', ["nearly", "near"]),
        ('{ over = "超过 {上限} 字" }', ["{上限}", "{limit}", "{chars}"]),
    ],
)
def test_message_overrides_are_checked(tmp_path, message, needles):
    rule = 'code = "budget_over_limit"\ncheck = "budget_limit"\n' if "合计" in message else 'code = "text_too_long"\ncheck = "section_length"\n'
    text = refused(edited(tmp_path, rule, rule + f"message = {message}\n"))
    for needle in needles:
        assert needle in text, text


def test_message_override_variants_and_braces(tmp_path):
    stamp = 'code = "missing_stamp"\ncheck = "seal_present"\n'
    text = refused(edited(tmp_path, stamp, stamp + 'message = { missing = "PDF 未加盖公章，请盖章后扫描重发。" }\n'))
    assert "missing" in text and "none" in text
    late = 'code = "late"\ncheck = "deadline"\n'
    text = refused(edited(tmp_path, late, late + 'message = "{received} 收到，晚于 {deadline}"\n'))
    assert "{deadline}" in text and "late" in text  # the after_cutoff variant has no {deadline}
    budget = 'code = "budget_over_limit"\ncheck = "budget_limit"\n'
    assert "花括号" in refused(edited(tmp_path, budget, budget + 'message = "合计 {total 元"\n'))


def test_valid_message_overrides_load_and_render(tmp_path):
    budget = 'code = "budget_over_limit"\ncheck = "budget_limit"\n'
    rs = load_rules(edited(tmp_path, budget, budget + 'message = "预算合计 {total} 元超过 {limit} 元（{{按通知}}）"\n'))
    assert next(r for r in rs.rules if r.code == "budget_over_limit").message.startswith("预算合计")
    late = 'code = "late"\ncheck = "deadline"\n'
    load_rules(edited(tmp_path, late, late + 'message = { late = "{received} 收到，晚于 {deadline}，不予受理。" }\n'))


def test_every_list_param_has_an_item_schema():
    """A check registered later with a list param must say what its items hold (PARAM_SCHEMAS)."""
    from pipeline import form_checks
    from pipeline.checks import REGISTRY
    from pipeline.ruleset import CONTACT_KINDS, PARAM_SCHEMAS

    for spec in REGISTRY.values():
        for name, (typ, _) in spec.params.items():
            if typ is list:
                assert PARAM_SCHEMAS[spec.name][name].each is not None, (spec.name, name)
        assert set(PARAM_SCHEMAS.get(spec.name, {})) <= set(spec.params), spec.name
    assert set(CONTACT_KINDS) == set(form_checks._KIND_HINTS)


def test_shipped_rules_run_on_a_sample_without_check_failed():
    from pipeline.samples.apps import sample_applications

    rs = load_rules(RULES)
    t = datetime(2025, 6, 20, 10, tzinfo=CST)
    found = rs.evaluate(Context(rs.call, submission(t, t, t), sample_applications()[0], None))
    assert "check_failed" not in {f.code for f in found}


def saved_by_notepad(tmp_path: Path, encoding: str, bom: bytes = b"") -> Path:
    """The shipped rules (Chinese names, contact and messages) as Windows Notepad saves them (CRLF)."""
    path = tmp_path / "rules.toml"
    path.write_bytes(bom + RULES.read_text(encoding="utf-8").replace("\n", "\r\n").encode(encoding))
    return path


def test_a_rules_file_saved_by_notepad_as_utf8_with_bom_loads(tmp_path, capsys):
    from pipeline.cli import main

    path = saved_by_notepad(tmp_path, "utf-8", b"\xef\xbb\xbf")
    assert load_rules(path).call == load_rules(RULES).call
    assert main(["rules", "check", str(path)]) == 0
    assert "规则文件有效" in capsys.readouterr().out


def test_a_rules_file_saved_by_notepad_as_ansi_is_refused_with_how_to_resave_it(tmp_path, capsys):
    """GBK (Notepad's "ANSI" on Chinese Windows): one Chinese line naming the file, not 'utf-8 codec … byte 0xb8'."""
    from pipeline.cli import main

    path = saved_by_notepad(tmp_path, "gb18030")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert str(path) in message and "UTF-8" in message and "另存为" in message and "记事本" in message, message
    assert "\n" not in message and "codec" not in message, message
    assert main(["rules", "check", str(path)]) == 1
    assert capsys.readouterr().err == f"错误：{message}\n"
