"""The `intake` command as staff meet it: usage mistakes, help and `--out` in Chinese, one line each."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.store import Store

ENGLISH = ("Usage:", "Error:", "Missing", "Invalid value", "No such", "requires an argument", "Try ", "Options:",
           "Show this message", "does not", "unexpected", "Traceback")


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("INTAKE_STORAGE_DIR", raising=False)
    path = tmp_path / "intake.toml"
    path.write_text('[storage]\ndir = "data"\n[staff]\noperator = "科普中心"\n', encoding="utf-8")
    return path


def with_one_mail(config: Path) -> Path:
    store = Store.open(config.parent / "data" / "intake.db")
    store.db["mails"].insert({"sha256": "0" * 64, "sender": "a@b.cn", "category": "other"})
    store.close()
    return config


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["status"], ["缺少选项 --config", "intake status --config intake.toml"]),
        (["decide", "--config", "CFG", "2025-KJZY-001", "通过"], ["accept、needs-correction", "“通过”"]),
        (["decide", "--config", "CFG", "2025-KJZY-001", "accept", "--by"], ["--by 后面要写一个值"]),
        (["decide", "--config", "CFG", "2025-KJZY-001", "accept", "--note", "请补充", "盖章页"], ["多余的参数：盖章页", "引号"]),
        (["decide", "--config", "CFG", "2025-KJZY-001"], ["缺少参数", "accept、needs-correction"]),
        (["pol", "--config", "CFG"], ["没有 pol 这个命令", "是不是 poll"]),
        (["--config", "CFG", "status"], ["--config 要写在命令名之后", "intake status --config"]),
        (["status", "-v", "--config", "CFG"], ["-v 要写在命令名之前"]),
        (["replies", "resend", "3", "--config", "CFG", "-v"], ["如 intake -v replies resend …"]),  # the whole command (QA round 11)
        (["rules", "check", "--config", "CFG"], ["没有 --config 这个选项"]),
        (["poll", "--dry-run=yes", "--config", "CFG"], ["--dry-run 后面不带值"]),
        (["summary", "--config", "CFG", "--format", "xml"], ["--format 只能写 html、xlsx、csv、json 之一", "“xml”"]),
        (["import", "--config", "CFG", "nope.eml"], ["找不到文件 nope.eml"]),
        (["replies", "resend", "abc", "--config", "CFG"], ["应为整数", "“abc”"]),
        (["answered", "--config", "CFG", ""], ["没有写", "受理编号"]),  # was 找不到申报单位或发件人：  (QA round 11)
        (["decide", "--config", "CFG", " 。", "accept"], ["没有写", "受理编号"]),
    ],
    ids=["missing-config", "bad-choice", "option-without-value", "extra-argument", "missing-argument", "no-such-command",
         "config-before-command", "verbose-after-command", "verbose-after-subcommand", "no-such-option", "flag-with-value", "bad-format",
         "missing-file", "not-an-integer", "empty-applicant", "blank-applicant"],
)
def test_a_usage_mistake_is_one_chinese_line_and_the_usage(config, capsys, argv, needles):
    """click's "Missing option '--config'" / "Invalid value for '{accept|needs-correction}'" were English."""
    code, out, err = run([config if a == "CFG" else a for a in argv], capsys)
    lines = err.splitlines()
    assert code == 2 and out == "", err
    assert len(lines) == 2 and lines[0].startswith("错误：") and lines[1].startswith("用法：intake"), err
    assert all(n in lines[0] for n in needles), err
    assert not any(e in err for e in ENGLISH), err


@pytest.mark.parametrize("argv", [["-h"], ["summary", "--help"], ["replies", "-h"]])
def test_the_help_page_speaks_chinese(capsys, argv):
    code, out, err = run(argv, capsys)
    assert code == 0 and "用法：intake" in out and "选项：" in out and "显示这段说明后退出" in out, out
    assert not any(e in out for e in ENGLISH), out


@pytest.mark.parametrize("name, magic", [("汇总.xlsx", b"PK"), ("汇总.csv", "\ufeff受理编号".encode()),
                                         ("汇总.json", b"["), ("汇总.htm", b"<!")], ids=["xlsx", "csv", "json", "htm"])
def test_summary_takes_the_format_from_the_out_file_name(config, tmp_path, capsys, name, magic):
    """`--out 汇总.xlsx` without --format wrote HTML into the .xlsx, which Excel refuses to open."""
    out = tmp_path / "out" / name
    code, _, err = run(["summary", "--config", with_one_mail(config), "--out", out], capsys)
    assert code == 0, err
    assert out.read_bytes().lstrip().startswith(magic), out.read_bytes()[:40]


def test_summary_format_is_case_blind_and_a_contradiction_is_refused(config, tmp_path, capsys):
    config = with_one_mail(config)
    code, _, err = run(["summary", "--config", config, "--format", "XLSX", "--out", tmp_path / "a.xlsx"], capsys)
    assert code == 0 and (tmp_path / "a.xlsx").read_bytes().startswith(b"PK"), err
    code, _, err = run(["summary", "--config", config, "--format", "csv", "--out", tmp_path / "b.xlsx"], capsys)
    assert code == 2 and "--format csv" in err and "b.xlsx" in err and not (tmp_path / "b.xlsx").exists(), err
    code, _, err = run(["summary", "--config", config, "--out", tmp_path / "c.xls"], capsys)
    assert code == 2 and ".xls" in err and ".xlsx" in err and not (tmp_path / "c.xls").exists(), err


@pytest.mark.parametrize("command, name", [(["summary", "--format", "csv"], "新.csv"), (["summary"], "新.html"),
                                           (["digest"], "汇总.eml")], ids=["summary-csv", "summary-html", "digest"])
def test_an_out_under_a_file_is_one_chinese_line(config, tmp_path, capsys, command, name):
    """`--out 汇总.csv/新.csv` where 汇总.csv is a file was a FileExistsError traceback."""
    (tmp_path / "汇总.csv").write_text("x")
    target = tmp_path / "汇总.csv" / "子文件夹" / name
    code, _, err = run([*command, "--config", with_one_mail(config), "--out", target], capsys)
    lines = err.splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("错误：无法写入") and f"{tmp_path / '汇总.csv'} 是一个文件，不是文件夹" in lines[0], err


@pytest.mark.parametrize("command, name", [(["summary"], "汇总.html"), (["summary", "--format", "csv"], "导出"),
                                           (["digest"], "汇总.eml")], ids=["summary", "summary-csv", "digest"])
def test_an_out_that_is_a_folder_is_a_writing_problem(config, tmp_path, capsys, command, name):
    """`--out 汇总.html` naming an existing folder exited 2 with the usage line; the README says
    an --out that cannot be written exits 1 (QA round 11)."""
    folder = tmp_path / name
    folder.mkdir()
    code, _, err = run([*command, "--config", with_one_mail(config), "--out", folder], capsys)
    lines = err.splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"错误：无法写入 {folder}：") and "文件夹" in lines[0] and "文件名" in lines[0], err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command, name, needles", [
    (["summary"], ".xlsx", ["只写了扩展名", "汇总.xlsx"]),
    (["summary", "--format", "csv"], ".csv", ["只写了扩展名"]),
    (["digest"], "汇总.xlsx", [".eml", "intake summary --out 汇总.xlsx"]),
    (["digest"], "汇总", [".eml"]),
    (["digest"], ".eml", [".eml"]),
], ids=["summary-only-extension", "summary-csv-only-extension", "digest-xlsx", "digest-no-extension", "digest-only-extension"])
def test_an_out_name_that_would_surprise_is_refused(config, tmp_path, capsys, command, name, needles):
    """`summary --out .xlsx` wrote HTML into a hidden file named .xlsx; `digest --out x.xlsx` wrote
    a mail into x.xlsx, which Excel refuses to open (QA round 11)."""
    code, out, err = run([*command, "--config", with_one_mail(config), "--out", tmp_path / name], capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 2 and lines[1].startswith("用法：intake"), err
    assert all(n in lines[0] for n in needles), err
    assert not (tmp_path / name).exists() and not any(p.name.endswith("_文件") for p in tmp_path.iterdir())


@pytest.mark.parametrize("command", [["summary", "--format", "csv"], ["digest", "--out", "preview.eml"]])
def test_an_empty_data_folder_is_named_on_stderr(config, tmp_path, capsys, monkeypatch, command):
    """A wrong [storage] dir gave an empty table with exit 0 and no word about it."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run([*command, "--config", config], capsys)
    assert code == 0 and "还没有收到过任何邮件" in err and str(tmp_path / "data") in err, err
    assert not (tmp_path / "data").exists()  # looking made no data folder
    code, _, err = run([*command, "--config", with_one_mail(config)], capsys)
    assert code == 0 and "还没有" not in err, err
