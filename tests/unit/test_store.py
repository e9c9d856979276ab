"""Opening the database: an older one is brought up to the schema, a current one is left alone."""
from __future__ import annotations

import os
import sqlite3

from pipeline.store import SCHEMA_VERSION, Store


def test_older_database_gets_new_tables_and_columns_once(tmp_path):
    path = tmp_path / "intake.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, command TEXT, started_at TEXT);"
        "INSERT INTO runs (command, started_at) VALUES ('poll', '2025-06-20T02:00:00+00:00');"
        "PRAGMA user_version=1;"
    )
    old.close()
    store = Store.open(path)
    cols = {r[1] for r in store.conn.execute("PRAGMA table_info(runs)")}
    assert {"finished_at", "ok", "fetched", "replies_sent"} <= cols
    assert store.conn.execute("SELECT command FROM runs").fetchone()[0] == "poll"
    assert store.conn.execute("SELECT count(*) FROM sqlite_master WHERE name='outbox'").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_reopening_a_current_database_needs_no_write_lock(tmp_path, monkeypatch):
    """Every poll opens the database; with a current schema that is read-only work,
    so another program holding the write lock does not hold up the open."""
    path = tmp_path / "intake.db"
    Store.open(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a staff tool in the middle of an edit
    monkeypatch.setenv("INTAKE_DB_BUSY_TIMEOUT_MS", "200")
    try:
        store = Store.open(path)
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        store.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
