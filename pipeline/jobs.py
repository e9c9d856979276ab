"""One function per intake command: lock, database, mailbox, delivery, alerts.

What a run does with each mail and applicant is `run.Runner`; this module
is the frame around it. It imports the stages only when there is work, so
a poll that finds nothing new (every few minutes under cron) stays as cheap
as a login and a SEARCH.
"""
from __future__ import annotations

import fcntl
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
    replies_queued: int = 0
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


def answered(cfg: Config, ref: str, *, by: str = "", now: Callable[[], datetime] = now_utc) -> int:
    """Staff answered an applicant's questions, or dealt with the mails left for them, by hand:
    how many mails were closed. `ref` may also be the address of a sender who is no applicant."""
    from email.utils import parseaddr

    with open_run(cfg, "answered") as (store, _files):
        key = store.find_applicant(ref)
        address = (parseaddr(ref)[1] if "@" in ref else "").strip().lower()
        if key is None and not (address and store.one("SELECT 1 AS x FROM mails WHERE sender=? LIMIT 1", (address,))):
            raise IntakeError(f"找不到申报单位或发件人：{ref}（可用发件地址、受理编号、单位全称或发件人姓名）")
        return store.mark_questions_answered(key, by or cfg.operator or "工作人员", now(), address=address)


def decide(cfg: Config, ref: str, status: str, *, note: str = "", by: str = "", reply: bool = False) -> RunStats:
    """Staff overrule the automatic verdict of one applicant."""
    from .run import Runner

    with open_run(cfg, "decide") as (store, files):
        key = store.find_applicant(ref)
        if key is None:
            raise IntakeError(f"找不到申报单位：{ref}（可用发件地址、受理编号、单位全称或发件人姓名）")
        if not submitted_by(store.applicant_mails(key)):
            # Only questions so far: no application to accept or to correct (a receipt would
            # tell a person who asked something that materials arrived and were accepted).
            raise IntakeError(f"{ref} 只来信咨询、尚未报送材料，无法改判；答复咨询后可用 intake answered 标记")
        with Runner(cfg, store, files) as runner:
            runner.decide(key, status, note=note, by=by or cfg.operator or "工作人员", reply=reply)
        runner.stats.error = _deliver(cfg, store, runner.stats, not reply)
        return runner.stats
