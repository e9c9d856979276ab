"""The real pipeline on a temp store, without a mailbox: feed raw mail, judge, look at the rows."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mail_corpus import OWN
from pipeline.config import MailboxConfig, default_config
from pipeline.files import FileStore
from pipeline.models import RawMail
from pipeline.run import Runner
from pipeline.store import Store

ON_TIME = datetime(2025, 6, 20, 10, tzinfo=timezone(timedelta(hours=8)))


class Pipeline:
    def __init__(self, root: Path):
        # The mailbox is only there so our own address is known (mail from it is never answered).
        cfg = dataclasses.replace(default_config(root), mailbox=MailboxConfig("imap.163.com", 993, OWN, "UNUSED"))
        self.store = Store.open(cfg.db_path)
        files = FileStore(root)
        files.ensure()
        self.runner = Runner(cfg, self.store, files)

    def feed(self, data: bytes, when: datetime = ON_TIME) -> str:
        raw = RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import", received_at=when)
        return self.runner.ingest(raw)

    def judge(self):
        self.runner.judge_all()

    def rows(self, sql, params=()):
        return self.store.rows(sql, params)

    def close(self) -> None:
        """Stop the PDF workers the run started, then the database."""
        self.runner.close()
        self.store.close()
