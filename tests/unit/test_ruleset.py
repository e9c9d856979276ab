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
deadline = 2025-06-23T23:59:59+08:00
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
    path.write_text('[call]\nid="t"\nname="t"\ndeadline=2025-06-23T23:59:59\n[[rule]]\ncode="late"\ncheck="deadline"\n')
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
