"""Files the IT person and staff write on Windows: Notepad's UTF-8 with BOM and CRLF secrets.env."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

from test_poll import CST, ON_TIME, ROOT, corpus, db, load, poll, subjects, write_config  # noqa: F401,F811  (corpus is a fixture)


def test_rules_saved_by_notepad_with_a_bom_still_leave_mail_from_before_the_notice_alone(tmp_path, dovecot, smtp_sink, corpus):
    """The rules load through the BOM; the poll's cheap notice-date read must too, or the first
    poll of a new call fetches, judges and answers last year's applications."""
    shipped = (ROOT / "rules" / "xinxiang-2025-kjzyfw.toml").read_text(encoding="utf-8")
    (tmp_path / "rules.toml").write_bytes(b"\xef\xbb\xbf" + shipped.replace("\n", "\r\n").encode("utf-8"))
    before = datetime(2025, 6, 10, 9, 0, tzinfo=CST)  # the notice is of 2025-06-18
    load(dovecot, corpus, [("01-complete.eml", before), ("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink, extra='\n[campaign]\nrules = "rules.toml"\n')
    result = poll(cfg, dovecot)
    assert result.returncode == 0, result.stderr
    assert [r["sender"] for r in db(tmp_path)["mails"].rows] == ["whkx_yf@163.com"]
    assert len(smtp_sink.messages) == 1 and "补正通知" in subjects(smtp_sink)[0]


def test_an_authorization_code_from_a_crlf_secrets_env_logs_in(tmp_path, dovecot, smtp_sink, corpus):
    """`. ./secrets.env` of a file saved with Windows line ends: the code ends in '\\r'."""
    load(dovecot, corpus, [("04-missing-pdf.eml", ON_TIME)])
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    env = dict(os.environ, TEST_IMAP_PASSWORD=dovecot.password + "\r", TEST_SMTP_PASSWORD="x\r")
    env.pop("INTAKE_FAILPOINT", None)
    result = subprocess.run([sys.executable, "-m", "pipeline", "poll", "--config", str(cfg)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert db(tmp_path)["mails"].count == 1 and len(smtp_sink.messages) == 1
