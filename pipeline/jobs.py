"""One function per intake command: lock, database, mailbox, delivery, alerts.

What a run does with each mail and applicant is `run.Runner`; this module
is the frame around it. It imports the stages only when there is work, so
a poll that finds nothing new (every few minutes under cron) stays as cheap
as a login and a SEARCH.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from .config import Config
from .errors import ConfigError, IntakeError, LockedError, MailboxError
from .files import FileStore, OverlayFileStore
from .store import Store, now_utc, submitted_by

if TYPE_CHECKING:
    from .run import Runner

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    fetched: int = 0
    applications: int = 0
    no_reply: int = 0
    other: int = 0
    duplicates: int = 0
    replies_queued: int = 0  # rendered to go out
    replies_held: int = 0  # not sent for now: the per-address daily limit ([replies] max_per_address_per_day)
    replies_sent: int = 0
    rendered: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


@contextmanager
def run_lock(storage_dir: Path) -> Iterator[None]:
    """One intake run per storage directory (cron may start the next too early)."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    path = storage_dir / "intake.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockedError(f"另一个 intake 进程正在处理 {storage_dir}（锁文件 {path}），本次不运行") from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


@contextmanager
def open_run(cfg: Config, command: str, *, dry_run: bool = False) -> Iterator[tuple[Store, FileStore]]:
    """Lock, open the store and file store; in dry-run both are throwaway copies."""
    with run_lock(cfg.storage_dir):
        store = Store.open(cfg.db_path, dry_run=dry_run)
        tmp = tempfile.TemporaryDirectory(prefix="intake-dry-") if dry_run else None
        files = OverlayFileStore(Path(tmp.name), cfg.storage_dir) if tmp else FileStore(cfg.storage_dir)
        files.ensure()
        try:
            yield store, files
        finally:
            store.close()
            if tmp:
                tmp.cleanup()


def return_big_buffers_to_the_os() -> None:
    """Keep the run's memory flat however many mails it reads.

    glibc raises its mmap threshold each time a big block is freed, after
    which megabyte-sized mails and attachments come from the heap and leave
    it fragmented: the parent grew ~30 MB from N=100 to N=1000 mails. A
    fixed threshold sends them to mmap, which gives them back when freed.
    Only the parent: the PDF workers' numpy arrays are faster from the heap.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def poll(cfg: Config, *, dry_run: bool = False, now: Callable[[], datetime] = now_utc, progress: bool = False) -> RunStats:
    """One pass over the mailbox. Raises IntakeError subclasses for run-level failure."""
    from .mailbox import Mailbox

    if cfg.mailbox is None:
        raise MailboxError("配置中没有 [mailbox]，无法收信")
    with open_run(cfg, "poll", dry_run=dry_run) as (store, files):
        if not dry_run:
            store.recover_interrupted_sends()
            if store.close_aborted_runs():
                # Polls that were killed never reached their own alert check: a poll that dies
                # every time (the same huge backlog) must still reach staff.
                from .alerts import notify

                notify(cfg, store, now())
        run_id = store.start_run("poll")
        runner: Runner | None = None

        def get_runner() -> Runner:
            """The stages, loaded on first need; a broken rules file raises RulesError here."""
            nonlocal runner
            if runner is None:
                from .run import Runner

                runner = Runner(cfg, store, files, now=now, progress=progress)
            return runner

        error: str | None = None
        try:
            try:
                with Mailbox(cfg.mailbox) as box:
                    since = call_published(cfg)
                    folders = box.folders()
                    junk = frozenset(f for f, is_junk in folders if is_junk)
                    older = []
                    for folder, _ in folders:
                        state = box.state(since=since, folder=folder)
                        older += [f"{folder} {state.older} 封"] if state.older else []
                        seen = store.seen_uids(state.folder, state.uidvalidity)
                        new = [u for u in state.uids if u not in seen]
                        if new and not seen and store.folder_known(state.folder):
                            new = _skip_known_after_uidvalidity_change(store, box, state, new)
                        if new:
                            return_big_buffers_to_the_os()
                            get_runner().junk_folders = junk
                            ingest = get_runner().ingest
                            for raw in _progress(box.fetch(state, new), len(new), progress):
                                ingest(raw)
                    if not dry_run:
                        # Shown by `status`: mail the poll leaves alone is not mail nobody knows of.
                        store.set_meta("older_mail", f"{since}|{'、'.join(older)}" if older else "")
            except (MailboxError, ConfigError) as exc:  # e.g. cron's environment lacks the code
                error = str(exc)
            except IntakeError:
                raise  # the database itself (locked past the busy timeout): one line, nothing recorded
            except Exception as exc:  # a bug or exhaustion: what was committed is judged and answered below
                log.exception("poll failed while reading the mailbox")
                error = unexpected_error(exc)
            if runner is not None or store.dirty_applicants():  # new mail, or files waiting for a partner
                try:
                    get_runner().judge_all()
                except ConfigError as exc:  # the rules file
                    error = error or str(exc)
                else:
                    get_runner().close()  # the PDF workers are not needed for sending
            stats = runner.stats if runner is not None else RunStats()
            error = error or _deliver(cfg, store, stats, dry_run)
            if not dry_run and error is None:
                from .sentfolder import file_sent_copies

                file_sent_copies(cfg, store)
            store.finish_run(run_id, ok=error is None, error=error, fetched=stats.fetched, sent=stats.replies_sent)
            if not dry_run:
                from .alerts import notify

                notify(cfg, store, now())
            stats.error = error
            return stats
        finally:
            if runner is not None:
                runner.close()


def unexpected_error(exc: BaseException) -> str:
    """One line for staff about an error no one foresaw (the traceback goes to the log)."""
    what = "内存不足" if isinstance(exc, MemoryError) else f"程序错误（{type(exc).__name__}）"
    return f"收信过程中出现{what}，本次未处理完；已保存的邮件不受影响，下次运行会继续。请维护人员查看运行日志"


def call_published(cfg: Config) -> date | None:
    """The call's notice date from the rules file, read cheaply (every idle poll asks): mail
    received before it belongs to an earlier call. None when the file or the date cannot be
    read; the rules loader then says what is wrong when there is work to do."""
    from .config import read_toml  # as the rules loader reads it: Notepad's BOM included

    try:
        raw = read_toml(cfg.rules_path, "规则文件")["call"]["notice_date"]
        return raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(str(raw))
    except (ConfigError, ValueError, KeyError, TypeError):
        return None


def _skip_known_after_uidvalidity_change(store: Store, box, state, uids: list[int]) -> list[int]:
    """After a UIDVALIDITY change, don't refetch mail we already have (same Message-ID and
    size; anything else is fetched, and ingest still knows a copy by its bytes)."""
    ids = box.message_ids(uids)
    known = store.known_message_ids([mid for mid, _ in ids.values()])
    rest = []
    with store.transaction():
        for uid in uids:
            mid, size = ids.get(uid, ("", -1))
            row = store.one("SELECT sha256 FROM mails WHERE message_id=? AND size=?", (mid, size)) if mid in known else None
            if row is not None:
                store.mark_seen(state.folder, state.uidvalidity, uid, row["sha256"])
            else:
                rest.append(uid)
    return rest


def _progress(items, total: int, enabled: bool):
    """A progress line on a terminal; silent under cron."""
    if not enabled or total == 0:
        yield from items
        return
    for i, item in enumerate(items, 1):
        yield item
        sys.stderr.write(f"\r处理邮件 {i}/{total}")
        sys.stderr.flush()
    sys.stderr.write("\n")


def _deliver(cfg: Config, store: Store, stats: RunStats, dry_run: bool) -> str | None:
    """Send the queued replies when SMTP is configured; return the run error."""
    if dry_run or not store.rows("SELECT 1 FROM outbox WHERE state='rendered' LIMIT 1"):
        return None  # nothing queued: no SMTP code loaded, no connection
    from .outbox import SmtpTransport, deliver

    if cfg.smtp is None:
        log.warning("no [smtp] configured: replies stay queued in the outbox")
        return None
    stats.replies_sent, error = deliver(
        store, SmtpTransport(cfg.smtp), cfg.smtp.sender, throttle=cfg.replies.throttle()
    )
    return error


def import_files(
    cfg: Config,
    paths: list[Path],
    *,
    received_at: datetime | None = None,
    dry_run: bool = False,
    send: bool = True,
    now: Callable[[], datetime] | None = None,
) -> RunStats:
    """Process saved .eml files like polled mail (deadline from Date unless --received).

    `now`: the run's clock (the demo replays its samples on a day of the call).
    """
    from .run import Runner, raw_from_file

    with open_run(cfg, "import", dry_run=dry_run) as (store, files):
        run_id = store.start_run("import")
        with Runner(cfg, store, files, **({"now": now} if now else {})) as runner:
            for path in paths:
                runner.ingest(raw_from_file(path, received_at))
            runner.judge_all()
        error = _deliver(cfg, store, runner.stats, dry_run or not send)
        store.finish_run(run_id, ok=error is None, error=error, fetched=runner.stats.fetched, sent=runner.stats.replies_sent)
        runner.stats.error = error
        return runner.stats


def reprocess(cfg: Config, *, dry_run: bool = False) -> RunStats:
    """Re-judge every stored application (rules or parser changed); reply where the verdict changed."""
    from .run import Runner

    with open_run(cfg, "reprocess", dry_run=dry_run) as (store, files):
        run_id = store.start_run("reprocess")
        with Runner(cfg, store, files) as runner:
            runner.reprocess(run_id)
        error = _deliver(cfg, store, runner.stats, dry_run)
        store.finish_run(run_id, ok=error is None, error=error, sent=runner.stats.replies_sent)
        runner.stats.error = error
        return runner.stats


def applicant_label(row: dict) -> str:
    """How staff read an applicant back: 新乡市红旗区科学技术协会（2025-KJZY-001）, or the address
    of someone who only asked."""
    if row["receipt_no"]:
        return f"{row['unit'] or row['sender'] or row['key']}（{row['receipt_no']}）"
    return f"{row['sender'] or row['key']}（仅来信咨询）"


def _one_applicant(store: Store, ref: str, keys: list[str]) -> dict:
    """The applicant row of `keys` (what `ref` matched); IntakeError naming every candidate when
    there are several, and the expected forms (and near names) when there is none."""
    rows = [store.one("SELECT * FROM applicants WHERE key=?", (k,)) for k in keys]
    if len(rows) == 1:
        return rows[0]
    if rows:
        by_address = "@" in ref  # then the address is the same for all: not worth repeating
        listed = "；".join(
            (f"{r['unit'] or r['sender']}（{r['receipt_no']}）" if by_address else f"{r['unit'] or r['sender']}（{r['receipt_no']}，{r['sender']}）")
            if r["receipt_no"] else f"{r['sender'] or r['key']}（仅来信咨询）"
            for r in rows
        )
        how = "受理编号" if by_address else "受理编号或发件地址"
        raise IntakeError(f"“{ref}”对应 {len(rows)} 个申报单位或发件人，未做改动；请改用{how}指明是哪一个：{listed}")
    from .store import receipt_reference

    if receipt_reference(ref) is not None:
        numbers = [r["receipt_no"] for r in store.rows("SELECT receipt_no FROM applicants WHERE receipt_no IS NOT NULL ORDER BY receipt_no LIMIT 1")]
        example = numbers[0] if numbers else "2025-KJZY-001"
        raise IntakeError(f"找不到受理编号 {ref}：受理编号形如 {example}，也可只写末尾的序号（如 {example.rsplit('-', 1)[-1]}）")
    raise IntakeError(f"找不到申报单位或发件人：{ref}（可用发件地址、受理编号、单位名称或发件人姓名）{_near_units(store, ref)}")


def _near_units(store: Store, ref: str) -> str:
    """Units whose name contains what staff typed (卫滨区 → 新乡市卫滨区科学技术协会), as a hint."""
    from .units import normalize_unit

    needle = normalize_unit(ref)
    if len(needle) < 2:
        return ""
    near = [
        f"{r['unit']}（{r['receipt_no']}）"
        for r in store.rows("SELECT unit, receipt_no FROM applicants WHERE receipt_no IS NOT NULL AND unit != '' ORDER BY receipt_no")
        if needle in normalize_unit(r["unit"] or "")
    ]
    return f"；名称相近的有：{'、'.join(near[:5])}" if near else ""


def answered(cfg: Config, ref: str, *, by: str = "", now: Callable[[], datetime] = now_utc) -> tuple[int, str]:
    """Staff answered an applicant's questions, or dealt with the mails left for them, by hand:
    (how many mails were closed, whose). `ref` may also be the address of a sender who is no applicant."""
    from email.utils import parseaddr

    from .store import REFERENCE_TRIM, address_forms

    by, at = by or cfg.operator or "工作人员", now()
    with open_run(cfg, "answered") as (store, _files):
        text = ref.strip(REFERENCE_TRIM)
        address = (parseaddr(text)[1] if "@" in text else "").strip().lower()
        forms = address_forms(address) if address else []  # kx@原阳.中国 and kx@xn--…
        keys = store.match_applicants(ref)
        own = next((a for a in forms if a in keys), None)
        if len(keys) > 1 and own:
            keys = [own]  # the sender keyed by the address itself (it asked before its unit sent files)
        marks = ",".join("?" * len(forms))
        if not keys and forms and store.one(f"SELECT 1 AS x FROM mails WHERE sender IN ({marks}) LIMIT 1", tuple(forms)):
            return sum(store.mark_questions_answered(None, by, at, address=a) for a in forms), address
        if len(keys) > 1 and forms and _only_mail_from(store, keys, forms):
            # An office that sent for several units: what staff answered is its own mail, whichever unit.
            n = sum(store.mark_questions_answered(k, by, at, address=address) for k in keys)
            return n + sum(store.mark_questions_answered(None, by, at, address=a) for a in forms if a != address), address
        row = _one_applicant(store, ref, keys)
        n = store.mark_questions_answered(row["key"], by, at, address=address)
        return n, applicant_label(row)


def _only_mail_from(store: Store, keys: list[str], forms: list[str]) -> bool:
    """Whether everything `answered` would close for any of `keys` (the applicants' open questions,
    the mails left for staff from their addresses) was sent from `forms` (one address): then
    closing them is no choice between the units. Mirrors `Store.mark_questions_answered`."""
    from .store import open_other, open_question

    condition, params = open_question()
    for key in keys:
        senders = {r["sender"] for r in store.rows("SELECT sender FROM mails WHERE applicant=? AND sender IS NOT NULL", (key,))}
        senders |= {r["sender"] for r in store.rows("SELECT sender FROM applicants WHERE key=? AND sender IS NOT NULL", (key,))}
        senders |= set(forms)
        marks = ",".join("?" * len(senders))
        closing = store.rows(
            f"SELECT sender FROM mails WHERE (applicant=? AND {condition}) OR (sender IN ({marks}) AND {open_other()})",
            (key, *params, *sorted(senders)),
        )
        if any(r["sender"] not in forms for r in closing):
            return False
    return True


def admit(cfg: Config, ref: str, *, by: str = "", now: Callable[[], datetime] = now_utc) -> tuple[int, RunStats, str]:
    """Staff checked the mail set aside from address `ref` (files for a unit from an address new to
    it, or a From our server found forged) and have it recorded as the application it is: each mail
    is read again and filed, the units judged and answered. (how many mails, the run's stats, the address)"""
    from email.utils import parseaddr

    from .mime import auth_failed
    from .models import RawMail
    from .run import ADMITTED, SET_ASIDE, Runner
    from .store import REFERENCE_TRIM, iso, parse_iso
    from .summary import minute_text

    address = parseaddr(ref.strip(REFERENCE_TRIM))[1].strip().lower()
    if "@" not in address:
        raise IntakeError(f"请写发件地址（如 intake admit zhang@xxkx.cn）：{ref}")
    by, at = by or cfg.operator or "工作人员", now()
    with open_run(cfg, "admit") as (store, files):
        # Also what `answered` closed: staff checking again may find it was the unit's after all.
        rows = [
            r for r in store.rows("SELECT * FROM mails WHERE category='other' AND lower(sender)=? ORDER BY received_at", (address,))
            if (r["no_reply_reason"] or "").startswith(SET_ASIDE) or auth_failed(r["no_reply_reason"])
        ]
        if not rows:
            done = store.one("SELECT no_reply_reason FROM mails WHERE lower(sender)=? AND no_reply_reason LIKE ? ORDER BY processed_at DESC LIMIT 1",
                             (address, f"%{ADMITTED}%"))
            if done:
                raise IntakeError(f"来自 {address} 的邮件已由{done['no_reply_reason'].split(ADMITTED)[0]}{ADMITTED}，没有其他等待核实的申报邮件")
            raise IntakeError(f"没有来自 {address}、等待核实的申报邮件（intake admit 只处理因“陌生地址”或“发件地址未通过身份验证”留给人工的邮件）")
        stamp = f"{by}于 {minute_text(iso(at))} "
        with Runner(cfg, store, files) as runner:
            for r in rows:
                raw = RawMail(Path(r["raw_path"]).read_bytes(), r["sha256"], r["source"] or "imap", parse_iso(r["received_at"]))
                runner.ingest(raw, admitted=stamp)
            runner.judge_all()
        runner.stats.error = _deliver(cfg, store, runner.stats, False)
        return len(rows), runner.stats, address


@dataclass
class Decided:
    """What `decide` did, for the line staff read."""

    stats: RunStats
    label: str  # the applicant changed, as applicant_label names it
    unchanged: str = ""  # why nothing new was recorded or sent: the same decision again


def decide(cfg: Config, ref: str, status: str, *, note: str = "", by: str = "", reply: bool = False) -> Decided:
    """Staff overrule the automatic verdict of one applicant."""
    from .run import Runner

    with open_run(cfg, "decide") as (store, files):
        keys = store.match_applicants(ref)
        # Someone who only asked cannot be decided on: an office address that asked, then sent its unit's files, is the unit.
        numbered = [k for k in keys if (store.one("SELECT receipt_no FROM applicants WHERE key=?", (k,)) or {}).get("receipt_no")]
        row = _one_applicant(store, ref, numbered if len(keys) > 1 and numbered else keys)
        key, label = row["key"], applicant_label(row)
        if not submitted_by(store.applicant_mails(key)):
            # Only questions so far: no application to accept or to correct (a receipt would
            # tell a person who asked something that materials arrived and were accepted).
            raise IntakeError(f"{label} 只来信咨询、尚未报送材料，无法改判；答复咨询后可用 intake answered 标记")
        by = by or cfg.operator or "工作人员"
        unchanged, record = _repeated_decision(store, key, label, status, note, reply)
        if unchanged and not record:
            return Decided(RunStats(), label, unchanged)
        with Runner(cfg, store, files) as runner:
            runner.decide(key, status, note=note, by=by, reply=reply and not unchanged)
        runner.stats.error = _deliver(cfg, store, runner.stats, not reply or bool(unchanged))
        return Decided(runner.stats, label, unchanged)


def _repeated_decision(store: Store, key: str, label: str, status: str, note: str, reply: bool) -> tuple[str, bool]:
    """(why not, whether to record anyway) when `decide` repeats the decision in force: staff unsure
    whether the first one worked must not send the unit the same letter twice. ("", True) otherwise."""
    from .replies import SUBJECT_TAG
    from .store import LETTER_KINDS
    from .summary import minute_text

    prior = store.active_decision(key)
    if prior is None or prior["status"] != status:
        return "", True
    same_note = (prior["note"] or "").strip() == note.strip()
    word = "受理" if status == "accepted" else "需补正"
    if not reply:
        if same_note:
            return f"{label}已是“{word}”（{prior['by']}于 {minute_text(prior['at'])} 改判），未重复记录", False
        return "", True
    # The letter the latest decision that wrote one sent: the same again unless a 补正通知's note changed
    # (no new files came since, or the decision in force would have been lifted).
    letter = store.one(
        "SELECT o.*, d.status AS decided, d.note AS decided_note FROM outbox o JOIN decisions d ON o.trigger_mail = 'decision:' || d.id"
        " WHERE o.applicant=? ORDER BY o.id DESC LIMIT 1",
        (key,),
    )
    if letter is None or letter["decided"] != status or (
        status != "accepted" and (letter["decided_note"] or "").strip() != note.strip()
    ):
        return "", True
    marks = ",".join("?" * len(LETTER_KINDS))
    newest = store.one(
        f"SELECT * FROM outbox WHERE applicant=? AND kind IN ({marks}) AND state NOT IN ('failed', 'superseded', 'held')"
        " ORDER BY id DESC LIMIT 1",
        (key, *LETTER_KINDS),
    )
    if newest is None or (newest["kind"], newest["basis"]) != (letter["kind"], letter["basis"]):
        return "", True
    what = SUBJECT_TAG.get(newest["kind"], "回复")
    if newest["state"] == "sent":
        how = f"{what}已于 {minute_text(newest['sent_at'])} 发送给 {newest['to_addr']}，未重复发送"
    elif newest["state"] == "bounced":
        how = f"{what}（编号 {newest['id']}）被退回，未重复发送；请电话核对邮箱后用 intake replies resend {newest['id']} --to 正确地址 重发"
    elif newest["state"] == "uncertain":
        how = f"{what}（编号 {newest['id']}）不确定是否送达，未重复发送；核实后如需重发请用 intake replies resend {newest['id']}"
    else:
        how = f"{what}（编号 {newest['id']}）正在等待发送，未重复生成"
    return ("" if same_note else "已记录新的改判意见；") + f"{label}已是“{word}”，{how}", not same_note


@dataclass
class Resent:
    """What `replies resend` did, for the line staff read."""

    new_id: int
    what: str  # 受理回执, 补正通知, …
    to: str
    label: str  # whose letter (applicant_label), "" for none
    state: str  # the copy's outbox state after delivery ('rendered' without [smtp])
    error: str  # the copy's error, if any
    sent: int  # every reply this delivery sent (others queued go out too)


def resend(cfg: Config, reply_id: int, *, to: str | None = None, force: bool = False) -> Resent:
    """Staff send reply `reply_id` again on purpose, to `to` if given (the unit's address from
    now on). A letter that no longer matches the unit's status is refused without `force`."""
    from .outbox import SmtpTransport, address_refusal, deliver, readdressed, usable_address
    from .replies import SUBJECT_TAG

    if to is not None and usable_address(to) is None:
        raise IntakeError(address_refusal(to))  # before anything is stored
    with open_run(cfg, "resend") as (store, files):
        row = store.one("SELECT * FROM outbox WHERE id=?", (reply_id,))
        if row is None:
            raise IntakeError(f"没有编号为 {reply_id} 的回复（intake replies 列出所有回复及编号）")
        if not row["eml_path"]:
            raise IntakeError(f"编号 {reply_id} 没有生成回复邮件，无法重发（{row['error'] or row['state']}）")
        applicant = store.one("SELECT * FROM applicants WHERE key=?", (row["applicant"],)) if row["applicant"] else None
        label = applicant_label(applicant) if applicant else ""
        outdated = _outdated_letter(store, row, applicant, label)
        if outdated and not force:
            raise IntakeError(outdated)
        eml_path = None
        if to is not None:
            moved = readdressed(Path(row["eml_path"]).read_bytes(), to)
            assert moved is not None  # checked above
            to, data = moved
            eml_path = str(files.put_outgoing(hashlib.sha256(data).hexdigest(), data))
        # A copy still waiting (the server was down when staff last asked) is the one to send:
        # each retry queued another, and the unit later got them all (QA round 11).
        waiting = store.one(
            "SELECT id, to_addr FROM outbox WHERE trigger_mail LIKE ? AND state IN ('rendered', 'sending') ORDER BY id DESC LIMIT 1",
            (f"resend:{reply_id}:%",),
        )
        if waiting is not None and (to is None or to.lower() == waiting["to_addr"].lower()):
            new_id = waiting["id"]
        else:
            new_id = store.requeue_reply(reply_id, to=to, eml_path=eml_path)
        assert new_id is not None  # the row and its mail exist (above)
        sent, error = 0, None
        if cfg.smtp is not None:
            sent, error = deliver(store, SmtpTransport(cfg.smtp), cfg.smtp.sender, throttle=cfg.replies.throttle())
        copy = store.one("SELECT * FROM outbox WHERE id=?", (new_id,))
    if error and copy["state"] != "sent":
        what = SUBJECT_TAG.get(row["kind"], "回复")
        raise IntakeError(f"{error}。编号 {reply_id} 的{what}已排队（新编号 {new_id}），发信恢复后的下一次收信运行会发送，不必再次重发")
    return Resent(new_id, SUBJECT_TAG.get(row["kind"], "回复"), copy["to_addr"], label, copy["state"], copy["error"] or "", sent)


def _outdated_letter(store: Store, row: dict, applicant: dict | None, label: str) -> str:
    """Why resending `row` would tell the unit something no longer true (a 受理回执 to a unit staff
    have since found 需补正), or "" when it matches the unit's status."""
    from .judge import REPLY_KIND
    from .replies import SUBJECT_TAG
    from .summary import STATUS_ZH, minute_text

    if applicant is None or not applicant["receipt_no"] or row["kind"] not in REPLY_KIND.values():
        return ""
    current = REPLY_KIND.get(applicant["status"])
    if current is None or current == row["kind"]:
        return ""
    decision = store.active_decision(applicant["key"])
    since = f"（{decision['by']}于 {minute_text(decision['at'])} 改判）" if decision else ""
    return (
        f"编号 {row['id']} 是{SUBJECT_TAG[row['kind']]}，而{label}现在的状态是“{STATUS_ZH.get(applicant['status'], applicant['status'])}”{since}："
        f"重发会让对方收到与现状不符的通知，未重发；确需重发这一封请加 --force"
    )
