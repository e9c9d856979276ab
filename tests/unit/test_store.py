"""Opening the database: an older one is brought up to the schema, a current one is left alone."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("first", ["unit", "address"])
def test_a_merge_keeps_the_first_number_told_and_never_issues_the_other_again(tmp_path, first):
    """Merging an office's address-keyed applicant into its unit deleted one number and kept the
    newer: the next new unit was then issued that number again (two units, one 受理编号)."""
    store = Store.open(tmp_path / "intake.db")
    try:
        order = ["unit:红旗区科协", "office@163.com"] if first == "unit" else ["office@163.com", "unit:红旗区科协"]
        with store.transaction():
            for key in order:
                store.ensure_applicant(key, "x@qq.com", "2025-KJZY")
            store.merge_applicant("office@163.com", "unit:红旗区科协")
            store.ensure_applicant("unit:卫辉市科协", "y@qq.com", "2025-KJZY")
        numbers = {r["key"]: r["receipt_no"] for r in store.rows("SELECT key, receipt_no FROM applicants")}
        assert numbers == {"unit:红旗区科协": "2025-KJZY-001", "unit:卫辉市科协": "2025-KJZY-003"}
        # Staff quoting the retired number (from a letter the office got) still reach the unit.
        assert store.find_applicant("2025-KJZY-002") == "unit:红旗区科协"
    finally:
        store.close()


def test_a_database_belongs_to_one_call(tmp_path):
    """Last year's database under next year's rules mixed both calls (old units listed as 已受理,
    a 2026 receipt with a 2025 number): a Runner with another call's rules refuses to start."""
    from pipeline.config import default_config
    from pipeline.errors import ConfigError
    from pipeline.files import FileStore
    from pipeline.run import Runner

    rules = Path(__file__).resolve().parents[2] / "rules"
    store = Store.open(tmp_path / "intake.db")
    files = FileStore(tmp_path)
    Runner(default_config(tmp_path), store, files).close()
    Runner(default_config(tmp_path), store, files).close()  # the same call again: fine
    with pytest.raises(ConfigError, match="新的数据目录") as err:
        Runner(default_config(tmp_path, rules / "example-2026-kjzyfw.toml"), store, files)
    assert "新乡市科技志愿服务试点建设" in str(err.value) and "example-2026-kjzyfw" in str(err.value)
    store.close()
    other = Store.open(tmp_path / "new" / "intake.db")  # a new storage dir takes the new call
    Runner(default_config(tmp_path / "new", rules / "example-2026-kjzyfw.toml"), other, FileStore(tmp_path / "new")).close()
    other.close()


@pytest.mark.parametrize("folder", ["科普#2025", "data?old", "有 空格 %20"])
def test_dry_run_reads_the_database_in_a_folder_named_with_uri_characters(tmp_path, folder):
    """--dry-run copies the real database: a "#" in the path must not cut it off and leave a fresh one."""
    path = tmp_path / folder / "intake.db"
    store = Store.open(path)
    store.db["applicants"].insert({"key": "a@x.cn", "unit": "新乡市红旗区科学技术协会"}, pk="key")
    store.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    preview = Store.open(path, dry_run=True)
    try:
        assert [r["unit"] for r in preview.rows("SELECT unit FROM applicants")] == ["新乡市红旗区科学技术协会"]
    finally:
        preview.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no stray file beside the folder


@pytest.fixture
def register(tmp_path):
    """Two units whose contacts are both 张伟, an office that sent for two units, one who only asked."""
    store = Store.open(tmp_path / "intake.db")
    units = [
        ("unit:新乡市牧野区科协", "新乡市牧野区科学技术协会", "2025-KJZY-008", "zhangwei@163.com", "张伟"),
        ("unit:新乡市卫滨区科协", "新乡市卫滨区科学技术协会", "2025-KJZY-009", "zhangwei_wb@126.com", "张伟"),
        ("unit:新乡市红旗区老科技工作者协会", "新乡市红旗区老科技工作者协会", "2025-KJZY-013", "hqkx_office@163.com", "办公室"),
        ("unit:新乡市红旗区青少年科技教育协会", "新乡市红旗区青少年科技教育协会", "2025-KJZY-014", "hqkx_office@163.com", "办公室"),
        ("zhangwei.q@qq.com", "", None, "zhangwei.q@qq.com", "张伟"),
    ]
    with store.transaction():
        for i, (key, unit, number, sender, name) in enumerate(units):
            store.db["applicants"].insert({"key": key, "unit": unit, "receipt_no": number, "sender": sender}, pk="key")
            store.db["mails"].insert({"sha256": f"m{i}", "sender": sender, "sender_name": name, "applicant": key}, pk="sha256")
    yield store
    store.close()


@pytest.mark.parametrize("ref", [
    "新乡市卫滨区科学技术协会", "卫滨区科学技术协会", "卫滨区科协",  # README: the places before a name may be left out
    "2025-KJZY-009", "2025-kjzy-009", "２０２５－ＫＪＺＹ－００９", "KJZY-009", "009", "9", " 2025-KJZY-009 ",
    "zhangwei_wb@126.com", "张伟 <ZhangWei_wb@126.com>",
])
def test_staff_name_a_unit_as_they_write_it(register, ref):
    """卫滨区科协 without 新乡市, a receipt number in lower case, full-width or only its end: 找不到."""
    assert register.find_applicant(ref) == "unit:新乡市卫滨区科协"


@pytest.mark.parametrize("ref, expected", [
    ("张伟", ["unit:新乡市牧野区科协", "unit:新乡市卫滨区科协", "zhangwei.q@qq.com"]),
    ("hqkx_office@163.com", ["unit:新乡市红旗区老科技工作者协会", "unit:新乡市红旗区青少年科技教育协会"]),
])
def test_a_reference_to_several_applicants_names_none_of_them(register, ref, expected):
    """`decide hqkx_office@163.com` changed one of the office's two units (ORDER BY key LIMIT 1);
    `decide 张伟` said 找不到 though three senders are called so."""
    assert register.match_applicants(ref) == expected
    assert register.find_applicant(ref) is None


@pytest.mark.parametrize("ref", [
    "KJZY009", "kjzy009", "2025KJZY009", "2025-KJZY009", "ＫＪＺＹ００９",  # no dash (QA round 11)
    "zhangwei_wb@126.com。", "卫滨区科协。", "2025-KJZY-009。", "KJZY-009，", "“卫滨区科协”", "「009」",  # pasted from a chat
])
def test_staff_name_a_unit_as_they_paste_it(register, ref):
    """`KJZY004` and `hq@163.com。` (copied from a chat with its full stop) were 找不到."""
    assert register.find_applicant(ref) == "unit:新乡市卫滨区科协"


def test_a_name_with_a_full_stop_is_the_name(register):
    assert register.match_applicants("张伟。") == register.match_applicants("张伟") != []


def test_an_address_is_found_in_either_spelling_of_its_chinese_domain(register):
    """`kx@xn--8mr626m.xn--fiqs8s` copied from a bounce did not find the unit that wrote from
    kx@原阳.中国, nor the other way round (QA round 11)."""
    with register.transaction():
        for key, number, sender in (("unit:原阳县科协", "2025-KJZY-015", "kx@原阳.中国"),
                                    ("unit:长垣市科协", "2025-KJZY-016", "cy@xn--mhs925l.xn--fiqs8s")):
            register.db["applicants"].insert({"key": key, "unit": key[5:], "receipt_no": number, "sender": sender}, pk="key")
            register.db["mails"].insert({"sha256": f"m{number}", "sender": sender, "sender_name": "刘芳", "applicant": key}, pk="sha256")
    assert register.find_applicant("kx@xn--8mr626m.xn--fiqs8s") == "unit:原阳县科协"
    assert register.find_applicant("刘芳 <KX@XN--8MR626M.XN--FIQS8S>") == "unit:原阳县科协"
    assert register.find_applicant("cy@长垣.中国") == "unit:长垣市科协"


def test_nobody_and_an_unknown_number_match_nothing(register):
    assert register.match_applicants("2026-KJZY-009") == [] and register.match_applicants("010") == []
    assert register.match_applicants("科协") == [] and register.match_applicants("  ") == []


def test_an_outage_after_a_success_stamped_by_a_clock_running_ahead_is_still_alerted(tmp_path):
    """The last success was stamped a day ahead; the clock was corrected and the mailbox failed
    from then on (QA round 10): the hours rule waited for the future stamp, and `status` showed a
    future time without a word. The outage counts from its first failure."""
    from datetime import datetime, timedelta, timezone

    from pipeline.alerts import health
    from pipeline.store import Store, iso
    from pipeline.summary import status_lines

    store = Store.open(tmp_path / "intake.db")
    now = datetime.now(timezone.utc)
    runs = [(now + timedelta(days=1), 1)] + [(now - timedelta(hours=h), 0) for h in (7, 6)]
    for at, ok in runs:
        store.db["runs"].insert({"command": "poll", "started_at": iso(at), "finished_at": iso(at), "ok": ok, "error": None if ok else "登录失败"})
    assert health(store, now, failures=3, hours=6) == "failing"  # two failures, but 7 hours without success
    assert health(store, now, failures=3, hours=8) is None
    assert "本机时钟可能被往回调整过" in status_lines(store)[0]
    store.close()
