"""Config: secrets only through the environment; clear errors for bad files."""
from __future__ import annotations

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
