"""The SQLite database (sqlite-utils): the single record of what happened.

Every table is described in README.md ("数据库结构"). All writes that belong to
one mail or one verdict happen in one transaction, so a crash leaves either
all of it or none of it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import sqlite3
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .errors import StoreError

if TYPE_CHECKING:  # models load with the first mail, not on an idle poll
    from .models import Document, Finding

SCHEMA = """
CREATE TABLE IF NOT EXISTS mails (
    sha256 TEXT PRIMARY KEY,
    message_id TEXT,
    sender TEXT,
    sender_name TEXT,
    subject TEXT,
    sent_at TEXT,
    received_at TEXT,
    source TEXT,
    raw_path TEXT,
    size INTEGER,
    category TEXT,          -- application | no_reply | other | duplicate
    no_reply_reason TEXT,
    applicant TEXT,
    problems TEXT,          -- JSON list of findings about the mail itself
    links TEXT,             -- JSON list of cloud-attachment links
    processed_at TEXT,
    answered_at TEXT,       -- a question (mail_without_files) or a mail left for staff ('other') closed by `intake answered`
    answered_by TEXT
);
CREATE INDEX IF NOT EXISTS mails_message_id ON mails(message_id);
CREATE INDEX IF NOT EXISTS mails_applicant ON mails(applicant);
CREATE TABLE IF NOT EXISTS imap_seen (
    folder TEXT, uidvalidity INTEGER, uid INTEGER, sha256 TEXT, seen_at TEXT,
    PRIMARY KEY (folder, uidvalidity, uid)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    mail_sha256 TEXT,
    applicant TEXT,
    filename TEXT,
    kind TEXT,
    role TEXT,              -- word | pdf | other
    sha256 TEXT,
    size INTEGER,
    path TEXT,
    received_at TEXT,
    parsed TEXT,            -- JSON of the Application or PdfFacts read from it
    problems TEXT,
    UNIQUE (mail_sha256, sha256, filename)
);
CREATE INDEX IF NOT EXISTS files_applicant ON files(applicant);
CREATE TABLE IF NOT EXISTS applicants (
    key TEXT PRIMARY KEY,
    sender TEXT,
    receipt_no TEXT,
    unit TEXT,
    pilot_type TEXT,
    status TEXT,
    findings TEXT,
    first_received_at TEXT,
    last_received_at TEXT,
    complete_at TEXT,
    word_file_id INTEGER,
    pdf_file_id INTEGER,
    dirty INTEGER DEFAULT 1,
    pending_reply_mail TEXT, -- sha256 of the latest mail not yet answered
    decision_id INTEGER,     -- the staff decision in force (NULL: none)
    pdf_similarity REAL,     -- share of the Word text (三–五) found in the PDF
    updated_at TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    applicant TEXT, status TEXT, note TEXT, by TEXT, at TEXT
);
CREATE TABLE IF NOT EXISTS status_history (
    id INTEGER PRIMARY KEY,
    applicant TEXT, status TEXT, at TEXT, findings TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    applicant TEXT,
    kind TEXT,              -- receipt | correction | late | question (来信收到) | none | error
    to_addr TEXT,
    subject TEXT,
    message_id TEXT,
    in_reply_to TEXT,
    trigger_mail TEXT,
    eml_path TEXT,
    state TEXT,             -- rendered | sending | sent | failed | uncertain | held | bounced
    error TEXT,
    attempts INTEGER DEFAULT 0,
    created_at TEXT,
    updated_at TEXT,
    sent_at TEXT,
    filed INTEGER,          -- 1: a copy is in the mailbox's Sent folder
    basis TEXT,             -- what the reply said about which files (run.reply_basis)
    UNIQUE (applicant, trigger_mail)
);
CREATE TABLE IF NOT EXISTS retired_receipts (  -- numbers of applicants merged into another: never issued again
    receipt_no TEXT PRIMARY KEY, merged_into TEXT, at TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, kind TEXT, at TEXT, to_addrs TEXT
);
CREATE TABLE IF NOT EXISTS meta (      -- call_id, call_name: the call this database belongs to; older_mail: left before the notice date
    key TEXT PRIMARY KEY, value TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT, started_at TEXT, finished_at TEXT, ok INTEGER, error TEXT,
    fetched INTEGER DEFAULT 0, replies_sent INTEGER DEFAULT 0
);
"""

# The schema's own checksum: any edit to SCHEMA re-runs it (and the column
# migration) once on existing databases; an unchanged one skips both.
SCHEMA_VERSION = zlib.crc32(SCHEMA.encode("utf-8")) & 0x7FFFFFFF


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a database made by an older intake up to SCHEMA (new columns only)."""
    scratch = sqlite3.connect(":memory:")
    scratch.executescript(SCHEMA)
    for (table,) in scratch.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for _cid, name, type_, _nn, _default, _pk in scratch.execute(f"PRAGMA table_info({table})"):
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {type_}")
    scratch.close()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """A time as stored: UTC for an aware time, so that stored times sort as text in time
    order whatever zone they came in (IMAP's INTERNALDATE, an imported mail's +08:00 Date)."""
    if value is None:
        return None
    return (value.astimezone(timezone.utc) if value.tzinfo is not None else value).isoformat()


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, bytes):
        return None
    raise TypeError(type(obj).__name__)


def to_json(value: Any) -> str:
    """JSON of records: Decimals as strings, datetimes as ISO 8601."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, ensure_ascii=False, default=_default)


def findings_json(findings) -> str:
    return to_json([dataclasses.asdict(f) for f in findings])


def findings_from_json(text: str | None) -> tuple[Finding, ...]:
    if not text:
        return ()
    from .models import Finding

    return tuple(Finding(**f) for f in json.loads(text))


def open_question() -> tuple[str, tuple[str]]:
    """SQL condition (and its parameter) on `mails`: a question (mail without files) staff
    have not marked answered. The summary, the digest, status and `answered` share it."""
    from .models import QUESTION_CODE

    return "category='application' AND problems LIKE ? AND answered_at IS NULL", (f"%{QUESTION_CODE}%",)


ABORTED_RUN = "运行未正常结束（进程被终止，可能是内存不足或被强制结束）；已保存的邮件会在下次运行时继续处理"


def open_other() -> str:
    """SQL condition on `mails`: a mail left for staff (category 'other': forms on a mail marked
    bulk, a unit writing again without files, no usable From) that staff have not closed."""
    return "category='other' AND answered_at IS NULL"


def _receipt_order(number: str) -> tuple[int, str]:
    """Receipt numbers in the order they were issued (2025-KJZY-009 before 2025-KJZY-010)."""
    tail = number.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 1 << 30, number)


_RECEIPT_REF = re.compile(r"(?:(?P<prefix>[0-9A-Z]+(?:-[0-9A-Z]+)*)-)?(?P<n>[0-9]{1,9})")
# KJZY009, 2025KJZY009: the dash before the number left out (the prefix then ends in a letter).
_GLUED_RECEIPT_REF = re.compile(r"(?P<prefix>(?:[0-9A-Z]+-)*[0-9A-Z]*[A-Z])(?P<n>[0-9]{1,9})")
# What a reference copied from a chat or a document brings around it: 卫滨区科协。 “009” hq@163.com，
REFERENCE_TRIM = " \t\r\n\u3000。，、；：！？,.;:!?“”‘’\"'「」『』《》"


def receipt_reference(text: str) -> tuple[str, int] | None:
    """(prefix, number) when staff typed a receipt number as they may: lower case, full-width
    (２０２５－ＫＪＺＹ－００９), without the dash (KJZY009), or only its end (KJZY-009, 009);
    None for anything else."""
    import unicodedata

    plain = unicodedata.normalize("NFKC", text.strip(REFERENCE_TRIM)).upper().replace("—", "-").replace("–", "-")
    plain = re.sub(r"\s+", "", plain)
    m = _RECEIPT_REF.fullmatch(plain)
    if m:
        return m["prefix"] or "", int(m["n"])
    m = _GLUED_RECEIPT_REF.fullmatch(plain)
    if m:  # 2025KJZY → 2025-KJZY, as numbers are issued
        return re.sub(r"(?<=[0-9])(?=[A-Z])|(?<=[A-Z])(?=[0-9])", "-", m["prefix"]), int(m["n"])
    return None


def address_forms(addr: str) -> list[str]:
    """`addr` and the other spelling of its domain: kx@原阳.中国 as a bounce or some mail clients
    show it (kx@xn--8mr626m.xn--fiqs8s), and back. Only `addr` when the domain has no other form."""
    from encodings import idna

    local, at, domain = addr.rpartition("@")
    forms = [addr]
    if not at:
        return forms
    for spell in (lambda label: idna.ToASCII(label).decode("ascii"), idna.ToUnicode):
        try:
            forms.append(f"{local}@{'.'.join(spell(label) for label in domain.split('.'))}".lower())
        except UnicodeError:
            pass
    return list(dict.fromkeys(forms))


# The letters an applicant gets about the application (not staff mail, not `none` rows).
LETTER_KINDS = ("receipt", "correction", "late", "question")


def submitted_by(mails, when: datetime | None = None) -> bool:
    """Whether these mail rows (received_at, problems) include something to judge, by `when`:
    files, a cloud link or an over-limit mail, not only questions (`mail_without_files`)."""
    from .models import QUESTION_CODE

    return any(
        (when is None or parse_iso(m["received_at"]) <= when)
        and not any(f.code == QUESTION_CODE for f in findings_from_json(m["problems"]))
        for m in mails
    )


def access_hint(path: Path) -> str:
    """Who owns the data we may not write, and who we are (a first run as root, cron as another user).

    Empty when the path and its folders are ours to use.
    """
    import pwd

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    for place in (path, *path.absolute().parents):
        try:
            st = place.stat()
        except OSError:  # not there, or behind a folder we may not enter: that folder tells
            continue
        folder = stat.S_ISDIR(st.st_mode)
        if not os.access(place, os.W_OK | os.X_OK if folder else os.R_OK | os.W_OK):
            return (f"（没有权限：{place} 属于用户 {name(st.st_uid)}，当前用户是 {name(os.geteuid())}；"
                    "请用数据目录的所有者运行 intake，或由管理员改正目录的所有者）")
        if folder:
            return ""
    return ""


class Store:
    """The database. Use `Store.open`; `dry_run=True` works on a memory copy."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self._db = None

    @property
    def db(self):
        """The sqlite-utils view of the connection, for inserts and updates.

        Imported on first use: a poll with nothing new never needs it, and it
        is most of the start-up time cron pays every five minutes.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    @classmethod
    def open(cls, path: Path, *, dry_run: bool = False) -> "Store":
        try:
            if dry_run:
                conn = sqlite3.connect(":memory:")
                if Path(path).exists():
                    # As a URI, so a "#" or "?" in the folder name is part of the path, not the query.
                    src = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
                    src.backup(conn)
                    src.close()
            else:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                old_umask = os.umask(0o077)  # database readable by its owner only
                try:
                    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
                finally:
                    os.umask(old_umask)
                conn.execute("PRAGMA journal_mode=WAL")
            conn.isolation_level = None  # explicit transactions only
            # How long to wait for a lock held by someone else (staff browsing the DB).
            conn.execute(f"PRAGMA busy_timeout={int(os.environ.get('INTAKE_DB_BUSY_TIMEOUT_MS', '30000'))}")
            conn.execute("PRAGMA foreign_keys=ON")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # New or older database; a current one skips this (and its write) on every run.
                conn.executescript("BEGIN IMMEDIATE;\n" + SCHEMA + "\nCOMMIT;")  # all tables or none
                _add_missing_columns(conn)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StoreError(f"无法打开数据库 {path}：{exc}{access_hint(Path(path))}") from exc
        return cls(conn, str(path))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; IMMEDIATE so writers queue, not deadlock.

        A lock held by another program past the busy timeout ends the run with
        a StoreError (one line for staff); what was committed stays, the rest
        is done by the next run.
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"数据库 {self.path} 被其他程序占用（{exc}），本次未完成，下次运行会继续") from exc
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(f"数据库 {self.path} 写入失败（{exc}），本次未完成，下次运行会继续") from exc

    def rows(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    # -- mailbox bookkeeping -------------------------------------------------

    def seen_uids(self, folder: str, uidvalidity: int) -> set[int]:
        return {
            r["uid"]
            for r in self.rows("SELECT uid FROM imap_seen WHERE folder=? AND uidvalidity=?", (folder, uidvalidity))
        }

    def folder_known(self, folder: str) -> bool:
        return self.one("SELECT 1 AS x FROM imap_seen WHERE folder=? LIMIT 1", (folder,)) is not None

    def mark_seen(self, folder: str, uidvalidity: int, uid: int, sha256: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO imap_seen (folder, uidvalidity, uid, sha256, seen_at) VALUES (?,?,?,?,?)",
            (folder, uidvalidity, uid, sha256, iso(now_utc())),
        )

    def has_mail(self, sha256: str) -> bool:
        return self.one("SELECT 1 AS x FROM mails WHERE sha256=?", (sha256,)) is not None

    def known_message_ids(self, message_ids: list[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(message_ids), 500):
            chunk = message_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                r["message_id"] for r in self.rows(f"SELECT message_id FROM mails WHERE message_id IN ({marks})", tuple(chunk))
            )
        return out

    # -- applicants -----------------------------------------------------------

    def ensure_applicant(self, key: str, sender: str, prefix: str, *, numbered: bool = True) -> None:
        """Create the applicant; give it a receipt number, which never changes, once it
        submits something (`numbered`): someone who only asked takes none, so the
        register has no gaps for questions."""
        row = self.one("SELECT receipt_no FROM applicants WHERE key=?", (key,))
        if row is not None and (row["receipt_no"] or not numbered):
            return
        number = None
        if numbered:
            # Numbers are never reused, also after two applicants were merged.
            numbers = [
                int(r["n"])
                for r in self.rows(
                    "SELECT substr(receipt_no, ?) AS n FROM applicants UNION ALL SELECT substr(receipt_no, ?) FROM retired_receipts",
                    (len(prefix) + 2, len(prefix) + 2),
                )
                if str(r["n"]).isdigit()
            ]
            number = f"{prefix}-{max(numbers, default=0) + 1:03d}"
        if row is not None:
            self.conn.execute("UPDATE applicants SET receipt_no=? WHERE key=?", (number, key))
            return
        self.db["applicants"].insert(
            {"key": key, "sender": sender, "receipt_no": number, "dirty": 1, "updated_at": iso(now_utc())}
        )

    def documents(self, applicant: str) -> list[tuple[int, str, Document]]:
        """(file id, role, Document) of an applicant, oldest first."""
        from .models import Document

        out = []
        for r in self.rows(
            "SELECT * FROM files WHERE applicant=? AND role IN ('word','pdf') ORDER BY received_at, id", (applicant,)
        ):
            doc = Document(r["sha256"], r["filename"], r["kind"], r["size"], parse_iso(r["received_at"]), r["mail_sha256"])
            out.append((r["id"], r["role"], doc))
        return out

    def images(self, applicant: str) -> list["Document"]:
        """What the applicant sent in place of a PDF or Word file, oldest first: pictures and OFD
        files (photos of stamped pages, an OFD export), and files named .pdf/.docx/.doc/.wps that
        are something else (the Word renamed .pdf, an empty upload, a PDF renamed .docx)."""
        from .models import QUESTION_CODE, Document
        from .pairing import NAMED_AS, WORD_KINDS

        kinds = {"pdf": ("pdf",), "word": tuple(sorted(WORD_KINDS))}
        misnamed, params = [], []
        for role, endings in NAMED_AS.items():
            misnamed.append(
                f"(({' OR '.join('lower(filename) LIKE ?' for _ in endings)}) AND kind NOT IN ({','.join('?' * len(kinds[role]))}))"
            )
            params += [f"%{e}" for e in endings] + list(kinds[role])
        # Not the screenshots of a question (a mail filed as one: see run._question_with_pictures).
        rows = self.rows(
            f"SELECT * FROM files WHERE applicant=? AND (kind IN ('image', 'ofd') OR {' OR '.join(misnamed)})"
            " AND mail_sha256 NOT IN (SELECT sha256 FROM mails WHERE problems LIKE ?) ORDER BY received_at, id",
            (applicant, *params, f"%{QUESTION_CODE}%"),
        )
        return [Document(r["sha256"], r["filename"], r["kind"], r["size"], parse_iso(r["received_at"]), r["mail_sha256"]) for r in rows]

    def latest_mail(self, applicant: str) -> str | None:
        """sha256 of the applicant's most recent mail (what a new reply answers)."""
        row = self.one("SELECT sha256 FROM mails WHERE applicant=? ORDER BY received_at DESC LIMIT 1", (applicant,))
        return row["sha256"] if row else None

    def applicant_mails(self, applicant: str) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM mails WHERE applicant=? ORDER BY received_at", (applicant,))

    def unit_addresses(self, key: str) -> set[str]:
        """Addresses (lower case) that speak for an applicant: those that wrote for it or were
        answered for it, and the 试点负责人/联系人 e-mail its current Word form gives."""
        rows = self.rows(
            "SELECT sender AS a FROM applicants WHERE key=? UNION SELECT sender FROM mails WHERE applicant=?"
            " UNION SELECT m.sender FROM files f JOIN mails m ON m.sha256 = f.mail_sha256 WHERE f.applicant=?",
            (key, key, key),
        )
        found = {r["a"].lower() for r in rows if r["a"]}
        word = self.one("SELECT f.parsed FROM applicants a JOIN files f ON f.id = a.word_file_id WHERE a.key=?", (key,))
        try:
            form = json.loads(word["parsed"]) if word and word["parsed"] else {}
        except ValueError:
            form = {}
        for person in ("leader", "contact"):
            value = form.get(person) if isinstance(form, dict) else None
            email = value.get("email") if isinstance(value, dict) else None
            if isinstance(email, str):
                # One cell may give two (a@x.cn、b@qq.com, … 或 …), as contact_format reads it.
                found |= {part.lower() for part in re.split(r"[\s/、,，;；]+|或", email) if "@" in part}
        return found

    def dirty_applicants(self) -> list[str]:
        return [r["key"] for r in self.rows("SELECT key FROM applicants WHERE dirty=1 ORDER BY key")]

    def sender_units(self, sender: str) -> list[tuple[str, str]]:
        """(key, unit) of the units this address has written for, oldest first: a mail's own
        applicant and the units of every file it carried (one mail may bring two units' forms)."""
        rows = self.rows(
            "SELECT a.key, a.unit, MAX(x.t) AS last FROM ("
            " SELECT m.applicant AS k, m.received_at AS t FROM mails m WHERE m.sender=?"
            " UNION ALL SELECT f.applicant AS k, m.received_at AS t FROM files f JOIN mails m ON m.sha256 = f.mail_sha256"
            " WHERE m.sender=?) x JOIN applicants a ON a.key = x.k WHERE a.key LIKE 'unit:%' GROUP BY a.key ORDER BY last",
            (sender, sender),
        )
        return [(r["key"], r["unit"] or r["key"][5:]) for r in rows]

    def known_units(self) -> list[tuple[str, str]]:
        return [(r["key"], r["unit"] or r["key"][5:]) for r in self.rows("SELECT key, unit FROM applicants WHERE key LIKE 'unit:%'")]

    def waiting_for_word(self, unit: str) -> list[str]:
        """Address-keyed applicants with a PDF and no Word whose PDF names `unit`: the office
        sent the stamped scan before the contact (another address) sent the Word."""
        from .units import probably_same_unit

        rows = self.rows(
            "SELECT a.key, a.unit FROM applicants a WHERE a.key NOT LIKE 'unit:%' AND a.unit IS NOT NULL AND a.unit != ''"
            " AND EXISTS (SELECT 1 FROM files f WHERE f.applicant = a.key AND f.role = 'pdf')"
            " AND NOT EXISTS (SELECT 1 FROM files f WHERE f.applicant = a.key AND f.role = 'word')"
        )
        return [r["key"] for r in rows if probably_same_unit(r["unit"], unit)]

    def merge_applicant(self, old: str, new: str) -> None:
        """Fold an address-keyed applicant into its unit (once the form says who it is).

        The unit keeps the older receipt number; every mail, file, reply and
        decision follows. Call inside a transaction.
        """
        gone = self.one("SELECT receipt_no FROM applicants WHERE key=?", (old,))
        if old == new or gone is None:
            return
        kept = self.one("SELECT receipt_no FROM applicants WHERE key=?", (new,))
        if kept is None:
            self.conn.execute("UPDATE applicants SET key=? WHERE key=?", (new, old))
        else:
            self.conn.execute("DELETE FROM applicants WHERE key=?", (old,))
            numbers = sorted((n for n in (gone["receipt_no"], kept["receipt_no"]) if n), key=_receipt_order)
            if numbers:
                # The first number told stays; the other is retired, never to be issued again.
                self.conn.execute("UPDATE applicants SET receipt_no=? WHERE key=?", (numbers[0], new))
                for number in numbers[1:]:
                    self.conn.execute(
                        "INSERT OR IGNORE INTO retired_receipts (receipt_no, merged_into, at) VALUES (?, ?, ?)",
                        (number, numbers[0], iso(now_utc())),
                    )
        for table in ("mails", "files", "outbox", "status_history", "decisions"):
            self.conn.execute(f"UPDATE {table} SET applicant=? WHERE applicant=?", (new, old))

    def active_decision(self, applicant: str) -> dict[str, Any] | None:
        return self.one(
            "SELECT d.* FROM decisions d JOIN applicants a ON a.decision_id = d.id WHERE a.key=?", (applicant,)
        )

    def find_applicant(self, ref: str) -> str | None:
        """The one applicant `ref` names; None when it names nobody, or several (`match_applicants`)."""
        keys = self.match_applicants(ref)
        return keys[0] if len(keys) == 1 else None

    def match_applicants(self, ref: str) -> list[str]:
        """The applicants a staff reference names, in receipt-number order: several when it is
        ambiguous (an office address that sent two units' forms, a name two senders share), none
        for nobody or an empty reference (an empty unit name is every inquiry's).

        `ref` is an address (also as a mail client shows it: 李主任 <li.office@qq.com>), a receipt
        number (any case, full-width, a retired one, without its dash or only its end: 009, KJZY009,
        KJZY-009), a unit's name (with or without the places before it: 卫滨区科协) or the name a
        sender's mail gave (张伟); the full stop or quotes a copy from a chat brings are dropped.
        """
        from .pairing import unit_key

        text = ref.strip(REFERENCE_TRIM)
        if not text:
            return []
        if "@" in text:
            from email.utils import parseaddr

            keys = []
            for addr in address_forms((parseaddr(text)[1] or text).strip().lower()):  # kx@原阳.中国 = kx@xn--…
                # The applicant keyed or answered at the address, and every one its mail was filed under or
                # its files went to (a shared mailbox whose Reply-To we answer, the address before a
                # `resend --to`, an office sending for two units).
                keys += self._keys("SELECT key FROM applicants WHERE key=? OR sender=?", (addr, addr))
                keys += self._keys("SELECT DISTINCT applicant AS key FROM mails WHERE sender=? AND applicant IS NOT NULL", (addr,))
                keys += [key for key, _ in self.sender_units(addr)]
            return self._in_receipt_order(keys)
        number = receipt_reference(text)
        if number is not None:
            keys = self._by_receipt(*number)
            if keys or not re.search(r"[A-Za-z]", text):
                return keys  # else a name that looks like a number (Li3) may still be someone's
        keys = self._keys("SELECT key FROM applicants WHERE key=? OR unit=? OR key=?", (text.lower(), text, unit_key(text)))
        if not keys:
            keys = self._keys("SELECT DISTINCT applicant AS key FROM mails WHERE sender_name=? AND applicant IS NOT NULL", (text,))
        if not keys:
            from .units import probably_same_unit

            rows = self.rows("SELECT key, unit FROM applicants WHERE unit IS NOT NULL AND unit != ''")
            keys = [r["key"] for r in rows if probably_same_unit(r["unit"], text)]
        return self._in_receipt_order(keys)

    def _keys(self, sql: str, params: tuple) -> list[str]:
        return [r["key"] for r in self.rows(sql, params)]

    def _in_receipt_order(self, keys: list[str]) -> list[str]:
        """`keys` once each, numbered applicants in the order of their numbers, then the rest."""
        unique = list(dict.fromkeys(keys))
        numbers = {r["key"]: r["receipt_no"] for r in self.rows(
            f"SELECT key, receipt_no FROM applicants WHERE key IN ({','.join('?' * len(unique))})", tuple(unique)
        )} if unique else {}
        return sorted(
            (k for k in unique if k in numbers),
            key=lambda k: (numbers[k] is None, _receipt_order(numbers[k]) if numbers[k] else (0, k)),
        )

    def _by_receipt(self, prefix: str, n: int) -> list[str]:
        """Applicants whose number (or a number retired into theirs) ends in `n`, under `prefix` or a
        prefix ending in it (KJZY for 2025-KJZY; "" for any)."""

        def fits(number: str | None) -> bool:
            head, _, tail = (number or "").upper().rpartition("-")
            return tail.isdigit() and int(tail) == n and (not prefix or head == prefix or head.endswith("-" + prefix))

        rows = self.rows("SELECT key, receipt_no FROM applicants WHERE receipt_no IS NOT NULL")
        merged = {r["merged_into"] for r in self.rows("SELECT * FROM retired_receipts") if fits(r["receipt_no"])}
        return self._in_receipt_order([r["key"] for r in rows if fits(r["receipt_no"]) or r["receipt_no"] in merged])

    def meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key=?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Write only a changed value: an idle poll must not commit (and fsync) every five minutes."""
        if self.meta(key) != value:
            with self.transaction():
                self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def bind_call(self, call_id: str, name: str) -> tuple[str, str] | None:
        """Tie the database to the call on first use; (id, name) of the call it belongs to when
        that is another one (last year's database under next year's rules would mix both)."""
        bound = self.meta("call_id")
        if bound is None:
            with self.transaction():
                self.conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [("call_id", call_id), ("call_name", name)]
                )
            return None
        return None if bound == call_id else (bound, self.meta("call_name") or "")

    def mark_questions_answered(self, applicant: str | None, by: str, at: datetime, address: str = "") -> int:
        """Staff answered this applicant's open questions (mail without files) and dealt with the
        mails left for them from its addresses (or from `address`, who need be no applicant):
        they leave the summary's to-do, the digest and the status count. How many were marked."""
        condition, params = open_question()
        addresses = {address.lower()} - {""}
        with self.transaction():
            n = 0
            if applicant is not None:
                n = self.conn.execute(
                    f"UPDATE mails SET answered_at=?, answered_by=? WHERE applicant=? AND {condition}",
                    (iso(at), by, applicant, *params),
                ).rowcount
                addresses |= {r["sender"] for r in self.rows("SELECT sender FROM mails WHERE applicant=? AND sender IS NOT NULL", (applicant,))}
                addresses |= {r["sender"] for r in self.rows("SELECT sender FROM applicants WHERE key=? AND sender IS NOT NULL", (applicant,))}
            for addr in sorted(addresses):
                n += self.conn.execute(
                    f"UPDATE mails SET answered_at=?, answered_by=? WHERE sender=? AND {open_other()}", (iso(at), by, addr)
                ).rowcount
            return n

    def last_correction_at(self, applicant: str) -> datetime | None:
        """When our latest correction notice was written: each notice names the end of its own window."""
        row = self.one(
            "SELECT MAX(created_at) AS t FROM outbox WHERE applicant=? AND kind='correction' AND state NOT IN ('failed', 'superseded')",
            (applicant,),
        )
        return parse_iso(row["t"]) if row and row["t"] else None

    def sent_since(self, since: datetime) -> int:
        return self.one("SELECT COUNT(*) AS n FROM outbox WHERE state='sent' AND sent_at>=?", (iso(since),))["n"]

    def has_file(self, applicant: str, sha256: str) -> bool:
        return self.one("SELECT 1 AS x FROM files WHERE applicant=? AND sha256=? LIMIT 1", (applicant, sha256)) is not None

    def answers_our_reply(self, references: tuple[str, ...]) -> bool:
        """Whether a mail's In-Reply-To/References name one of our replies."""
        marks = ",".join("?" * len(references[:50]))
        return self.one(f"SELECT 1 AS x FROM outbox WHERE message_id IN ({marks}) LIMIT 1", tuple(references[:50])) is not None

    def last_reply_basis(self, applicant: str) -> str | None:
        """`basis` of the newest reply to the applicant that was not a failure."""
        row = self.one(
            f"SELECT basis FROM outbox WHERE applicant=? AND kind IN ({','.join('?' * len(LETTER_KINDS))})"
            " AND state NOT IN ('failed', 'superseded') ORDER BY id DESC LIMIT 1",
            (applicant, *LETTER_KINDS),
        )
        return row["basis"] if row else None

    def replies_since(self, to_addr: str, since: datetime) -> int:
        """Replies to this address since `since` that went out or will: a letter held by the daily
        limit, withdrawn for a newer one, or refused by the server reached no one."""
        row = self.one(
            "SELECT COUNT(*) AS n FROM outbox WHERE to_addr=? AND created_at>=?"
            " AND state NOT IN ('held', 'superseded', 'failed')",
            (to_addr, iso(since)),
        )
        return row["n"]

    def drop_held(self, applicant: str, trigger: str) -> None:
        """Forget the held placeholder of a reply about to be queued for the same trigger."""
        self.conn.execute("DELETE FROM outbox WHERE applicant=? AND trigger_mail=? AND state='held'", (applicant, trigger))

    # -- outbox ---------------------------------------------------------------

    def queue_reply(self, row: dict[str, Any]) -> bool:
        """Queue a reply (False: this trigger was answered already). An older letter to the same
        applicant still waiting to go out (SMTP down, 163 throttling) is withdrawn: a 补正通知
        must not arrive after, or beside, the 受理回执 that answers the corrected files.
        Call inside a transaction."""
        before = self.conn.total_changes
        self.db["outbox"].insert(row, ignore=True)
        if self.conn.total_changes == before:
            return False
        if row.get("state") == "rendered" and row.get("applicant") and row.get("kind") in LETTER_KINDS:
            marks = ",".join("?" * len(LETTER_KINDS))
            self.conn.execute(
                f"UPDATE outbox SET state='superseded', error=?, updated_at=? WHERE applicant=? AND state='rendered'"
                f" AND kind IN ({marks}) AND id < (SELECT MAX(id) FROM outbox WHERE applicant=?)",
                ("未发送：发送前已有更新的回复（以最新一封为准）", iso(now_utc()), row["applicant"], *LETTER_KINDS, row["applicant"]),
            )
            # Letters the daily limit held are answered by this one (they promised a letter later).
            self.conn.execute(
                "UPDATE outbox SET state='superseded', error=?, updated_at=? WHERE applicant=? AND state='held'",
                ("未发送：已有更新的回复（以最新一封为准）", iso(now_utc()), row["applicant"]),
            )
        return True

    def outbox(self, states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        if states:
            marks = ",".join("?" * len(states))
            return self.rows(f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY id", states)
        return self.rows("SELECT * FROM outbox ORDER BY id")

    def set_reply_state(self, reply_id: int, state: str, error: str | None = None) -> None:
        now = iso(now_utc())
        sent_at = now if state == "sent" else None
        with self.transaction():
            self.conn.execute(
                "UPDATE outbox SET state=?, error=?, updated_at=?, sent_at=COALESCE(?, sent_at),"
                " attempts=attempts + (CASE WHEN ?='sending' THEN 1 ELSE 0 END) WHERE id=?",
                (state, error, now, sent_at, state, reply_id),
            )

    def mark_bounced(self, message_ids: tuple[str, ...], reason: str, recipients: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Our replies with these ids came back: 'bounced' (never sent again by itself; staff
        phone the unit or resend). With the report's `recipients`, only the copies sent to
        them (a resend to a corrected address keeps the Message-ID). Call inside a
        transaction; returns the rows marked."""
        marks = ",".join("?" * len(message_ids[:50]))
        rows = [
            r for r in self.rows(
                f"SELECT o.id, o.to_addr, o.kind, a.receipt_no, a.unit FROM outbox o LEFT JOIN applicants a ON a.key = o.applicant"
                f" WHERE o.message_id IN ({marks}) AND o.state IN ('sent', 'uncertain', 'bounced')",
                tuple(message_ids[:50]),
            )
            if not recipients or (r["to_addr"] or "").lower() in recipients
        ]
        for r in rows:
            self.conn.execute(
                "UPDATE outbox SET state='bounced', error=?, updated_at=? WHERE id=?",
                (f"被退回：{reason}" if reason else "被退回", iso(now_utc()), r["id"]),
            )
        return rows

    def requeue_reply(self, reply_id: int, *, to: str | None = None, eml_path: str | None = None) -> int | None:
        """Queue an existing reply again, on purpose (staff asked for it); with `to` (and the
        message rewritten for it at `eml_path`) to a corrected address, which the unit's
        later replies use too."""
        row = self.one("SELECT * FROM outbox WHERE id=?", (reply_id,))
        if row is None or not row["eml_path"]:
            return None
        n = self.one("SELECT COUNT(*) AS n FROM outbox WHERE trigger_mail LIKE ?", (f"resend:{reply_id}:%",))["n"]
        copy = {k: v for k, v in row.items() if k != "id"}
        copy.update(
            trigger_mail=f"resend:{reply_id}:{n + 1}",
            state="rendered",
            error=None,
            attempts=0,
            sent_at=None,
            created_at=iso(now_utc()),
            updated_at=iso(now_utc()),
        )
        if to:
            copy.update(to_addr=to, eml_path=eml_path or row["eml_path"])
        with self.transaction():
            if to and row["applicant"]:
                self.conn.execute("UPDATE applicants SET sender=? WHERE key=?", (to, row["applicant"]))
            return self.db["outbox"].insert(copy).last_pk

    def recover_interrupted_sends(self) -> int:
        """A reply left 'sending' by a crash may or may not have gone out.

        It is never sent again automatically: staff see it as 'uncertain'.
        """
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE outbox SET state='uncertain', error=?, updated_at=? WHERE state='sending'",
                ("发送过程中断，无法确认对方是否已收到；如需重发请使用 intake replies resend", iso(now_utc())),
            )
        return cur.rowcount

    # -- runs -----------------------------------------------------------------

    def close_aborted_runs(self) -> int:
        """Runs that never finished (the process was killed: out of memory, kill -9) while no
        other run can be going on (the caller holds the run lock): recorded as failed, so
        `status` and the staff alert count them. How many there were."""
        with self.transaction():
            return self.conn.execute(
                "UPDATE runs SET finished_at=started_at, ok=0, error=? WHERE finished_at IS NULL", (ABORTED_RUN,)
            ).rowcount

    def start_run(self, command: str) -> int:
        with self.transaction():
            cur = self.conn.execute("INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, iso(now_utc())))
            return cur.lastrowid

    def finish_run(self, run_id: int, *, ok: bool, error: str | None = None, fetched: int = 0, sent: int = 0) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_at=?, ok=?, error=?, fetched=?, replies_sent=? WHERE id=?",
                (iso(now_utc()), int(ok), error, fetched, sent, run_id),
            )

    # The mailbox poll is what cron runs and what must work: `status` and the staff alerts
    # look at polls only (an import or reprocess by hand says nothing about the mailbox).
    def finished_polls(self, limit: int) -> list[dict[str, Any]]:
        """The latest finished polls, newest first."""
        return self.rows(
            "SELECT * FROM runs WHERE command='poll' AND finished_at IS NOT NULL ORDER BY id DESC LIMIT ?", (limit,)
        )

    def last_good_poll(self) -> str | None:
        """When the last successful poll finished (ISO), None if none ever did."""
        row = self.one("SELECT finished_at FROM runs WHERE command='poll' AND ok=1 ORDER BY id DESC LIMIT 1")
        return row["finished_at"] if row else None


def failed_in_a_row(runs: list[dict[str, Any]]) -> int:
    """How many of `runs` (newest first) failed since the last that worked."""
    return next((i for i, r in enumerate(runs) if r["ok"]), len(runs))


def day_ago() -> datetime:
    return now_utc() - timedelta(days=1)
