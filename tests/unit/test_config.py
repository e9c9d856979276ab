"""Config: secrets only through the environment; clear errors for bad files."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError

GOOD = """
[mailbox]
host = "imap.163.com"
port = 993
user = "kpzx350@163.com"
password_env = "T_IMAP"

[smtp]
host = "smtp.163.com"
port = 465
user = "kpzx350@163.com"
password_env = "T_SMTP"
sender = "科普中心 <kpzx350@163.com>"

[storage]
dir = "store"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intake.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_storage(tmp_path, monkeypatch):
    monkeypatch.delenv("INTAKE_STORAGE_DIR", raising=False)
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.mailbox.ssl is True and cfg.mailbox.starttls is False and cfg.mailbox.folder == "INBOX"
    assert cfg.storage_dir == tmp_path / "store"
    assert cfg.rules_path.name == "xinxiang-2025-kjzyfw.toml" and cfg.rules_path.exists()
    assert cfg.own_addresses() == {"kpzx350@163.com"}


def test_pdf_section(tmp_path):
    assert load_config(write(tmp_path, GOOD)).pdf.ocr is True
    cfg = load_config(write(tmp_path, GOOD + "\n[pdf]\nocr = false\nworkers = 1\n"))
    assert cfg.pdf.ocr is False and cfg.pdf.workers == 1


def test_password_comes_from_environment(tmp_path, monkeypatch):
    cfg = load_config(write(tmp_path, GOOD))
    monkeypatch.delenv("T_IMAP", raising=False)
    with pytest.raises(ConfigError, match="T_IMAP"):
        cfg.mailbox.password()
    monkeypatch.setenv("T_IMAP", "code123")
    assert cfg.mailbox.password() == "code123"
    secret_file = tmp_path / "secret"
    secret_file.write_text("fromfile\n")
    monkeypatch.delenv("T_SMTP", raising=False)
    monkeypatch.setenv("T_SMTP_FILE", str(secret_file))
    assert cfg.smtp.password() == "fromfile"


def test_password_in_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="password_env"):
        load_config(write(tmp_path, GOOD.replace('password_env = "T_IMAP"', 'password_env = "T_IMAP"\npassword = "x"')))


@pytest.mark.parametrize(
    "text, needle",
    [
        ("[mailbox]\nhost='x'\n", "port"),
        (GOOD.replace('port = 993', 'port = 993\nbogus = 1'), "bogus"),
        ("not toml [", "TOML"),
        (GOOD + "\n[pdf]\nocr = \"no\"\n", "ocr"),
        (GOOD + "\n[pdf]\nworkers = -1\n", "workers"),
        (GOOD + "\n[pdf]\nthreads = 2\n", "threads"),
    ],
)
def test_bad_config(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="不存在"):
        load_config(tmp_path / "nope.toml")


def test_a_missing_authorization_code_is_named_before_any_connection(monkeypatch):
    """Not 'cannot connect to imap.163.com' (or a DNS error) when the real problem is an unset variable."""
    from pipeline.config import ConfigError, MailboxConfig
    from pipeline.mailbox import Mailbox

    monkeypatch.delenv("INTAKE_TEST_UNSET_CODE", raising=False)
    monkeypatch.delenv("INTAKE_TEST_UNSET_CODE_FILE", raising=False)
    cfg = MailboxConfig("imap.invalid", 993, "kpzx350@163.com", "INTAKE_TEST_UNSET_CODE")
    with pytest.raises(ConfigError, match="INTAKE_TEST_UNSET_CODE 未设置"):
        Mailbox(cfg).connect()


def test_an_empty_authorization_code_is_named_as_empty(monkeypatch):
    """`export INTAKE_IMAP_PASSWORD=$CODE` with CODE unset sent "" and staff read 'wrong 授权码'."""
    from pipeline.config import ConfigError, MailboxConfig
    from pipeline.mailbox import Mailbox

    monkeypatch.setenv("INTAKE_TEST_EMPTY_CODE", "  ")
    with pytest.raises(ConfigError, match="INTAKE_TEST_EMPTY_CODE 是空的"):
        Mailbox(MailboxConfig("imap.invalid", 993, "kpzx350@163.com", "INTAKE_TEST_EMPTY_CODE")).connect()


def test_a_server_answer_in_bytes_is_shown_as_its_words():
    from imapclient.exceptions import LoginError

    from pipeline.errors import connection_reason

    assert connection_reason(LoginError(b"[AUTHENTICATIONFAILED] Authentication failed.")) == "[AUTHENTICATIONFAILED] Authentication failed."
    assert connection_reason(LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'")) == "[AUTHENTICATIONFAILED] Authentication failed."


EXAMPLE = Path(__file__).resolve().parents[2] / "intake.example.toml"


def notepad(tmp_path: Path, encoding: str, bom: bytes = b"") -> Path:
    """intake.example.toml with a Chinese operator, saved the way Windows Notepad saves it (CRLF)."""
    text = EXAMPLE.read_text(encoding="utf-8").replace('operator = "科普中心"', 'operator = "王晓明"')
    path = tmp_path / "intake.toml"
    path.write_bytes(bom + text.replace("\n", "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize("encoding, bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe")], ids=["utf-8-bom", "utf-16"])
def test_a_config_saved_by_notepad_as_utf8_with_bom_or_unicode_loads(tmp_path, encoding, bom):
    """Notepad's "UTF-8 with BOM" (its "UTF-8" before Windows 10 1903) and its "Unicode" both say what they are."""
    cfg = load_config(notepad(tmp_path, encoding, bom))
    assert cfg.operator == "王晓明" and cfg.mailbox.host == "imap.163.com"


def test_a_config_saved_by_notepad_as_ansi_is_refused_with_how_to_resave_it(tmp_path):
    """Notepad's "ANSI" on Chinese Windows is GBK: one Chinese line naming the file and the fix, no codec words."""
    path = notepad(tmp_path, "gbk")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and "UTF-8" in message and "另存为" in message and "记事本" in message, message
    assert "\n" not in message and "codec" not in message and "byte" not in message, message


def test_a_config_that_cannot_be_read_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="无法读取"):
        load_config(tmp_path)  # a folder given as --config


STAFF = GOOD + '\n[staff]\noperator = "科普中心"\n'


def test_one_staff_address_written_as_text_is_one_address(tmp_path):
    """`addresses = "zhang@…"` is the natural way to write one value: not 17 one-letter recipients."""
    assert load_config(write(tmp_path, STAFF + 'addresses = "zhang@xxkx.gov.cn"\n')).staff == ("zhang@xxkx.gov.cn",)
    named = STAFF + 'addresses = ["张老师 <zhang@xxkx.gov.cn>", "guo@xxkx.gov.cn"]\n'
    assert load_config(write(tmp_path, named)).staff == ("张老师 <zhang@xxkx.gov.cn>", "guo@xxkx.gov.cn")


@pytest.mark.parametrize(
    "value, needles",
    [
        ('"zhang"', ["zhang", "邮箱地址"]),
        ('["zhang@xxkx.gov.cn", "guo@xxkx"]', ["guo@xxkx", "邮箱地址"]),
        ('"zhang@xxkx.gov.cn, guo@xxkx.gov.cn"', ["addresses = [", "邮箱地址"]),
        ('["zhang@xxkx.gov.cn；guo@xxkx.gov.cn"]', ["addresses = [", "邮箱地址"]),
        ("[3]", ["3", "邮箱地址"]),
        ("true", ["true", "邮箱地址"]),
    ],
    ids=["no-at", "no-dot", "two-in-one-text", "two-in-one-item", "number", "bool"],
)
def test_a_staff_address_that_is_no_address_is_refused(tmp_path, value, needles):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, STAFF + f"addresses = {value}\n"))
    message = str(err.value)
    assert "[staff]" in message and "\n" not in message and all(n in message for n in needles), message


@pytest.mark.parametrize(
    "text, needles",
    [
        (STAFF + 'adresses = ["zhang@xxkx.gov.cn"]\n', ["[staff]", "adresses", "是不是 addresses"]),
        (GOOD.replace('dir = "store"', 'path = "/srv/intake-data"'), ["[storage]", "path", "dir"]),
        (GOOD.replace('dir = "store"', 'dri = "/srv/intake-data"'), ["[storage]", "dri", "是不是 dir"]),
        (GOOD + '\n[stafff]\naddresses = ["zhang@xxkx.gov.cn"]\n', ["stafff", "是不是 staff"]),
        ('operator = "科普中心"\n' + GOOD, ["operator", "[staff]"]),
        (GOOD.replace("port = 993", "prot = 993"), ["[mailbox]", "prot", "是不是 port"]),
    ],
    ids=["staff", "storage-path", "storage-typo", "table", "top-level-key", "mailbox"],
)
def test_unknown_settings_are_refused_with_a_suggestion(tmp_path, text, needles):
    """A typo must not silently move the storage to data/ or turn the staff alerts off."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and all(n in message for n in needles), message


@pytest.mark.parametrize(
    "text, needle",
    [
        (STAFF + 'alert_after_failures = "three"\n', "alert_after_failures"),
        (STAFF + "alert_after_hours = 0\n", "alert_after_hours"),
        (GOOD + "\n[staff]\noperator = 3\n", "operator"),
        (GOOD.replace('dir = "store"', "dir = 5"), "dir"),
        (GOOD + "\nstaff = 3\n", "staff"),
    ],
    ids=["failures", "hours", "operator", "dir", "staff-not-a-table"],
)
def test_bad_staff_and_storage_values_are_one_line(tmp_path, text, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        load_config(write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_the_example_config_loads(tmp_path):
    cfg = load_config(EXAMPLE)
    assert cfg.staff == () and cfg.operator == "科普中心" and cfg.storage_dir == EXAMPLE.parent / "data"


@pytest.mark.parametrize("value", ["ABCDEFGHIJKLMNOP\r", "ABCDEFGHIJKLMNOP\r\n", " ABCDEFGHIJKLMNOP  "], ids=["cr", "crlf", "spaces"])
def test_a_code_from_a_secrets_env_with_windows_line_ends_is_stripped(monkeypatch, value):
    """`. ./secrets.env` of a CRLF file leaves '\\r' on the value: 163 then reads a wrong 授权码."""
    from pipeline.config import secret

    monkeypatch.setenv("T_CRLF_CODE", value)
    assert secret("T_CRLF_CODE") == "ABCDEFGHIJKLMNOP"


def test_a_code_file_saved_by_notepad_is_read_without_its_bom(tmp_path, monkeypatch):
    """INTAKE_IMAP_PASSWORD_FILE written with Notepad: BOM and CRLF; str.strip() keeps the BOM."""
    from pipeline.config import secret

    code = tmp_path / "imap-code.txt"
    code.write_bytes(b"\xef\xbb\xbfABCDEFGHIJKLMNOP\r\n")
    monkeypatch.delenv("T_BOM_CODE", raising=False)
    monkeypatch.setenv("T_BOM_CODE_FILE", str(code))
    assert secret("T_BOM_CODE") == "ABCDEFGHIJKLMNOP"


def test_a_server_answer_quoted_inside_the_error_text_is_shown_as_its_words():
    """imaplib words a BAD answer as '%s command error: %s %s' % (name, typ, data): data is a list of bytes."""
    import imaplib

    from imapclient.exceptions import LoginError

    from pipeline.errors import connection_reason

    bad = imaplib.IMAP4.error("%s command error: %s %s" % ("LOGIN", "BAD", [b"Missing '\"'"]))
    assert connection_reason(LoginError(str(bad))) == "LOGIN command error: BAD Missing '\"'"
    two = imaplib.IMAP4.error("%s command error: %s %s" % ("LOGIN", "NO", [b"[UNAVAILABLE] \xe6\x9c\x8d\xe5\x8a\xa1\xe4\xb8\x8d\xe5\x8f\xaf\xe7\x94\xa8", b"x"]))
    assert connection_reason(two) == "LOGIN command error: NO [UNAVAILABLE] 服务不可用 x"
    odd = imaplib.IMAP4.abort("unexpected response: %r" % b"* BYE bye\r\n")
    assert connection_reason(odd) == "unexpected response: * BYE bye"
    for exc in (bad, two, odd):
        assert "b'" not in connection_reason(exc) and 'b"' not in connection_reason(exc)


@pytest.mark.parametrize(
    "text, needles",
    [
        (GOOD + '\n[replies]\nmax_per_address_per_day = "5"\n',
         ["[replies] max_per_address_per_day", "整数", "不要加引号", '"5"']),
        (GOOD + '\n[replies]\nmax_attachment_mb = "30MB"\n', ["[replies] max_attachment_mb", "不带单位", '"30MB"']),
        (GOOD.replace("port = 993", 'port = 993\ntimeout = "20秒"'), ["[mailbox] timeout", "秒", "不带单位", '"20秒"']),
        (GOOD.replace("port = 993", 'port = 993\nssl = "false"'), ["[mailbox] ssl", "true 或 false", "不要加引号", '"false"']),
        (GOOD.replace("port = 993", 'port = "993"'), ["[mailbox] port", "整数", '"993"']),
        (GOOD.replace("port = 465", "port = 0"), ["[smtp] port", "1 到 65535", "0"]),
        (GOOD.replace('sender = "科普中心 <kpzx350@163.com>"', "sender = 3"), ["[smtp] sender", "加引号的文本"]),
        (GOOD.replace('host = "imap.163.com"', 'host = ""'), ["[mailbox] host", "不能为空"]),
        (GOOD + "\n[replies]\nper_minute = 0\n", ["[replies] per_minute", "不小于 1"]),
        (GOOD + "\n[replies]\nper_day = 2.5\n", ["[replies] per_day", "整数", "2.5"]),
        (GOOD + "\n[pdf]\nworkers = 1.5\n", ["[pdf] workers", "不小于 0 的整数"]),
        (GOOD.replace("port = 993", "port = 993\nfolders = [1]"), ["[mailbox] folders", "文本列表"]),
        (GOOD.replace("port = 993", "port = 993\ntimeout = nan"), ["[mailbox] timeout", "大于 0"]),
        (STAFF + 'alert_after_hours = "6小时"\n', ["[staff] alert_after_hours", "小时", "不带单位", '"6小时"']),
    ],
    ids=["quoted-int", "mb-with-unit", "seconds-with-unit", "quoted-bool", "quoted-port", "port-0", "sender-number",
         "empty-host", "per-minute-0", "fraction-per-day", "fraction-workers", "folder-number", "nan-timeout",
         "hours-with-unit"],
)
def test_a_value_of_the_wrong_type_is_refused_when_the_config_loads(tmp_path, text, needles):
    """`max_per_address_per_day = "5"` left every application unjudged (TypeError in the log, exit 0) and
    `ssl = "false"` was read as true: one line naming the table, the key, the value and what to write."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and all(n in message for n in needles), message


def _wrong_value(hint) -> str:
    """A TOML value of another type than the field's: a list for a scalar, a number for a list."""
    return "3" if hint not in (bool, int, float, str) else "[true]"


@pytest.mark.parametrize("table, cls", [("mailbox", "MailboxConfig"), ("smtp", "SmtpConfig"),
                                        ("replies", "RepliesConfig"), ("pdf", "PdfConfig")])
def test_every_key_of_every_table_is_type_checked(tmp_path, table, cls):
    """The dataclass field types are the one source: a key added later is checked without more code."""
    from typing import get_type_hints

    import pipeline.config as config

    good = tomllib.loads(GOOD)
    for key, hint in get_type_hints(getattr(config, cls)).items():
        values = {k: json.dumps(v, ensure_ascii=False) for k, v in good.get(table, {}).items()}
        values[key] = _wrong_value(hint)
        text = f"[{table}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
        with pytest.raises(ConfigError) as err:
            load_config(write(tmp_path, text))
        assert f"[{table}] {key} 应为" in str(err.value), (key, str(err.value))


def test_right_values_are_taken_as_the_fields_want_them(tmp_path):
    """A whole number where seconds are asked is fine; one folder written as text is a list of one,
    not one folder per character."""
    cfg = load_config(write(tmp_path, GOOD.replace("port = 993", 'port = 993\ntimeout = 20\nfolders = "已处理"')
                            + "\n[replies]\nmax_attachment_mb = 20\n"))
    assert cfg.mailbox.timeout == 20.0 and isinstance(cfg.mailbox.timeout, float)
    assert cfg.mailbox.folders == ("已处理",)
    assert cfg.replies.max_attachment_mb == 20.0
    assert load_config(write(tmp_path, GOOD.replace("port = 993", "port = 993\nssl = false"))).mailbox.ssl is False


OPERATOR = 'operator = "科普中心"'


@pytest.mark.parametrize(
    "old, new, needles",
    [
        (OPERATOR, 'operator ＝ "科普中心"', ["全角等号", "「＝」", "="]),
        (OPERATOR, "operator = “科普中心”", ["中文引号", "「“」", '"']),
        (OPERATOR, 'operator\u3000= "科普中心"', ["全角空格", "普通空格"]),
        (OPERATOR, 'operator = "科普中心”', ["中文引号", "「”」", '"']),  # only the closing one (QA round 11)
        ('addresses = ["zhang@xxkx.gov.cn", "guo@xxkx.gov.cn"]', 'addresses = ["zhang@xxkx.gov.cn"，"guo@xxkx.gov.cn"]',
         ["中文逗号", "「，」", ","]),
        (OPERATOR, OPERATOR + "\nalert_after_hours = ３０", ["全角数字", "「３」「０」", "0-9"]),  # QA round 11
    ],
    ids=["equals", "quotes", "space", "closing-quote", "comma", "digits"],
)
def test_a_config_typed_with_a_chinese_input_method_names_the_character_and_the_line(tmp_path, old, new, needles):
    """tomllib says "Invalid value (at line 30, column 12)": staff need the character and what to type."""
    good = STAFF + 'addresses = ["zhang@xxkx.gov.cn", "guo@xxkx.gov.cn"]\n'
    text = good.replace(old, new)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row != good.splitlines()[n - 1])
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert f"第 {line} 行" in message and "英文输入法" in message, message
    assert all(n in message for n in needles), message
    assert "\n" not in message and "Invalid" not in message and "Expected" not in message, message


@pytest.mark.parametrize("written", ["True", "False", "TRUE"])
def test_a_capitalised_true_or_false_is_told_to_be_lower_case(tmp_path, written):
    """`ssl = True` (as in Python) read "不符合 TOML 格式（Invalid value）：文本要加英文引号…" (QA round 11)."""
    text = GOOD.replace("port = 993", f"port = 993\nssl = {written}")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "第 5 行" in message and written in message and f"小写的 {written.lower()}" in message, message
    assert "\n" not in message and "Invalid" not in message and "英文引号" not in message, message


@pytest.mark.parametrize(
    "text, needles",
    [
        (GOOD.replace("port = 993", "port = 993\nport = 995"), ["第 5 行", "第 4 行", "[mailbox] port", "只能写一次"]),
        (STAFF + 'operator = "王"', ["第 20 行", "第 19 行", "[staff] operator", "只能写一次"]),  # "at end of document"
        (GOOD + '\n[smtp]\ntimeout = 30\n', ["第 18 行", "第 8 行", "[smtp]", "只能写一次"]),
    ],
    ids=["key", "key-on-the-last-line", "table"],
)
def test_a_setting_written_twice_is_named_with_its_lines(tmp_path, text, needles):
    """"不符合 TOML 格式（Cannot overwrite a value）：文本要加英文引号…", without a line at the end of
    the file: staff need the key and where it is written twice (QA round 11)."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert all(n in message for n in needles), message
    assert "\n" not in message and "Cannot" not in message and "英文引号" not in message, message


def test_a_yes_in_chinese_for_a_switch_is_not_told_about_units(tmp_path):
    """`ssl = "是"` was told 不加引号、不带单位: a switch has no unit."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, GOOD.replace("port = 993", 'port = 993\nssl = "是"')))
    message = str(err.value)
    assert "[mailbox] ssl" in message and "true 或 false" in message and "单位" not in message, message


def test_chinese_punctuation_inside_a_text_or_a_comment_is_no_mistake(tmp_path):
    text = STAFF.replace(OPERATOR, 'operator = "科普中心，办公室“一”"  # 操作人，写在回复里') + "# 说明：“中文”，　全角\n"
    assert load_config(write(tmp_path, text)).operator == "科普中心，办公室“一”"
    broken = text + "[replies]\nper_day = 5 5\n"  # a TOML mistake elsewhere: the comment's ， is not blamed
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, broken))
    message = str(err.value)
    lines = len(broken.splitlines())
    assert f"第 {lines} 行" in message and "TOML" in message and "中文输入法" not in message, message


def test_a_rules_file_typed_with_a_chinese_input_method_is_named_as_a_rules_file(tmp_path):
    from pipeline.config import read_toml
    from pipeline.errors import RulesError

    path = tmp_path / "rules.toml"
    path.write_text("[call]\ncorrection_window_days = “3”\n", encoding="utf-8")
    with pytest.raises(RulesError, match="规则文件第 2 行有中文输入法打出的符号：中文引号"):
        read_toml(path, "规则文件", RulesError)
