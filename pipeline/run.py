"""Wire the stages together: ingest mails, judge applicants, queue replies.

`Runner` is one run's work on mails and applicants; the frame around it
(lock, database, mailbox, delivery, alerts) is `jobs`. The order inside one mail is fixed and is what makes crashes harmless:
raw bytes to disk first, then parse, then one transaction that records the
mail, its files and the IMAP key. Judging and replying happen per applicant
after the mails are in, so a Word and a PDF that arrive in two mails of one
poll are judged together.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import math
import re
from email.utils import parseaddr
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .archives import ARCHIVE_KINDS
from .config import Config
from . import deadline, failpoints
from .errors import ConfigError, IntakeError
from .files import FileStore
from .jobs import RunStats
from .models import FULL_TEXT_SOURCES, LATE, OCR_SOURCES, QUESTION_CODE, TOPIC_WORDS, UNOPENED_CODES, WARNING, Application, Attachment, Document, Finding, Mail, PdfFacts, RawMail, Submission, Verdict
from .pairing import APPLICATION_KINDS, assign_files, build_submission, current, role_of
from .store import Store, findings_from_json, findings_json, iso, now_utc, parse_iso, submitted_by, to_json
from .units import visible

if TYPE_CHECKING:  # checks and templates load only when an applicant is judged or answered
    from .ruleset import Ruleset

log = logging.getLogger(__name__)

ARCHIVE_OR_IMAGE = ARCHIVE_KINDS | {"image", "ofd"}  # winmail.dat too: Outlook hides the files in it


NOT_DOCX = Finding(
    "format_unreadable",
    "error",
    "Word 版申报书不是可以读取的 .docx 格式（收到的是旧版 Word/WPS 或其他格式，且无法自动转换）。请在 Word 或 WPS 中“另存为 .docx”后重新发送。",
    "Word 版申报书",
)
# Which file a problem of a file we could not open stands for (by where it is filed).
UNOPENED_ROLE = {"Word 版申报书": "word", "盖章 PDF 版": "pdf"}

# Pure-Python parsing of one file or mail in the poll's own process (`deadline`): a normal
# form reads in ~15 ms and a 50 MB mail parses in a few seconds.
WORD_SECONDS = 20.0
MAIL_SECONDS = 60.0
SET_ASIDE = "此地址首次为"  # how the note on a stranger's files begins (`_stranger_files`; `jobs.admit` finds them by it)
ADMITTED = "核实后按申报处理"  # the note on a mail staff admitted (`jobs.admit`)
CLOCK_BEHIND = timedelta(minutes=5)  # a host clock further behind the mail server is logged
HELD = "24 小时内已向该地址回复过多，暂未自动回复（防止与对方自动回复形成循环）；满 24 小时后的下一次运行会补发"
WORD_TOO_COMPLEX = Finding(
    "format_unreadable",
    "error",
    "Word 版申报书结构过于复杂，系统无法在限定时间内读取（可能含有大量嵌套的内容控件或表格）。"
    "请在 Word 或 WPS 中将申报书“另存为”一份新的 .docx（或复制正文到空白申报书模板中）后重新发送。",
    "Word 版申报书",
)
ENCRYPTED_WORD = Finding(
    "format_unreadable",
    "error",
    "Word 版申报书设置了打开密码，无法读取。请在 Word 或 WPS 中取消密码（文件→信息→保护文档→用密码进行加密，清空密码；"
    "WPS：文件→文档加密→密码加密，清空密码）后保存，重新发送。",
    "Word 版申报书",
)


@functools.lru_cache(maxsize=8)
def _hints(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, words)))


def _has_forms(mail: Mail) -> bool:
    """Whether the mail carries a Word or PDF file."""
    return any(role_of(a.kind) in ("word", "pdf") for a in mail.attachments)


def classify(mail: Mail, topic_words: tuple[str, ...] = TOPIC_WORDS) -> str:
    """'application', 'no_reply' or 'other' for one parsed mail (`topic_words`: the call's, [call] topic_words)."""
    if mail.no_reply_reason:
        return "no_reply"
    if _has_forms(mail):
        return "application"
    if any(f.code == "attachment_link_only" for f in mail.problems):
        return "application"
    if _mentions(mail, topic_words) or any(a.kind in ARCHIVE_OR_IMAGE for a in mail.attachments):
        return "application"
    return "other"


def _mentions(mail: Mail, topic_words: tuple[str, ...], *, names: bool = False) -> bool:
    """Whether the subject or the text (and, with `names`, a file name) speaks of the call (申报、试点…)."""
    texts = [mail.subject or "", (mail.body_text or "")[:5000], *(a.filename for a in mail.attachments if names)]
    return any(_hints(topic_words).search(t) for t in texts)


class Runner:
    """One run's state: the store, the file store, the rules and the clock."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        files: FileStore,
        *,
        ruleset: Ruleset | None = None,
        now: Callable[[], datetime] = now_utc,
        progress: bool = False,
    ):
        self.cfg = cfg
        self.store = store
        self.files = files
        if ruleset is None:
            from .ruleset import load_rules

            ruleset = load_rules(cfg.rules_path)  # a broken rules file stops the command here
        self.ruleset = ruleset
        if (other := store.bind_call(ruleset.call.id, ruleset.call.name)) is not None:
            raise ConfigError(
                f"数据目录 {cfg.storage_dir} 属于征集“{other[1] or other[0]}”（id = {other[0]}），而规则文件 {cfg.rules_path} "
                f"是征集“{ruleset.call.name}”（id = {ruleset.call.id}）。新的征集请在配置 [storage] dir 中换一个新的数据目录；"
                "如只是修改本次征集的规则，请保持 [call] id 不变。"
            )
        self.sender = cfg.smtp.sender if cfg.smtp else f"{ruleset.call.organizer} <{ruleset.call.mailbox}>"
        self._env = None
        self.now = now
        self.stats = RunStats()
        self._parsed: dict[str, Any] = {}
        self._pdf_futures: dict[str, Any] = {}
        self._blank_sha: str | None = None  # sha256 of the call's blank form (see _words_first)
        self.junk_folders: frozenset[str] = frozenset()  # read too; only mail about the call is answered there
        self._pdf_threads = None
        self._pdf_pool = None
        self.progress = progress

    @property
    def env(self):
        """Templates are loaded only when a reply is rendered."""
        if self._env is None:
            from .replies import environment

            self._env = environment()
        return self._env

    # -- stage 1: ingest -----------------------------------------------------

    def ingest(self, raw: RawMail, *, admitted: str | None = None) -> str:
        """Store, parse and record one mail; never raises for bad mail.

        `admitted` (who checked it, when): staff have checked a mail set aside for them (a stranger's
        files for a unit, a From our server found forged) and have it recorded again as an
        application, replacing its row in the same transaction (`jobs.admit`)."""
        raw_path = self.files.put_raw(raw.sha256, raw.data)  # before anything else
        self.stats.fetched += 1
        if admitted is None and self.store.has_mail(raw.sha256):
            self._mark_duplicate(raw)
            return "duplicate"
        from .mime import auth_failed, call_opened, find_cloud_links, parse_mail

        too_big = len(raw.data) > self.cfg.replies.max_mail_mb * 1024 * 1024
        call = self.ruleset.call
        try:
            # An over-limit mail is stored raw (above) and answered, but only its header is read.
            # A saved mail's times are bounded by the run's clock and the call's notice date.
            mail = parse_mail(_header_only(raw) if too_big else raw, own_addresses=self.cfg.own_addresses(), seconds=MAIL_SECONDS,
                              now=self.now(), not_before=call_opened(call.notice_date, call.timezone))
        except Exception as exc:  # parse_mail promises not to raise; belt and braces
            log.exception("parse_mail failed on %s", raw.sha256)
            mail = _unparsed(raw, exc)
        if self._same_mail_seen(mail):
            # Admitted: another copy of it already was: its set-aside row becomes the copy's record.
            return self._record_copy(raw, mail, raw_path, replace=admitted is not None)
        if too_big:
            mail = dataclasses.replace(
                mail,
                sha256=raw.sha256,
                problems=mail.problems + (_mail_too_large(raw.data, self.cfg.replies.max_mail_mb),),
            )
        if admitted is not None and auth_failed(mail.no_reply_reason):
            mail = dataclasses.replace(mail, no_reply_reason=None)  # staff vouch for the sender
        category = "no_reply" if mail.no_reply_reason else ("application" if too_big else classify(mail, self.ruleset.call.topic_words))
        staff_note = mail.no_reply_reason
        if category == "no_reply" and _has_forms(mail):
            # A machine's mark (Precedence: bulk from an OA system, a no-reply platform)
            # on a mail carrying forms: not answered, but listed for staff to look at.
            category = "other"
        elif category == "application" and not mail.sender:
            # No address to answer or to file the files under: staff must look.
            category, staff_note = "other", "无法识别发件地址（From），未能自动登记和回复，请工作人员查看原邮件"
        elif category == "application" and not too_big and (note := self._follow_up(mail)):
            # Written without files by a unit that already sent some, or in answer
            # to our own reply (an auto-reply, "好的，马上补发"): a matter for
            # staff, not a new submission to answer automatically (a loop, else).
            category, staff_note = "other", note
        if category == "application" and self._from_staff(mail) and _has_forms(mail):
            # A colleague forwarding what a unit sent to their own mailbox: answering would tell
            # the colleague, file the unit under them and date it by the forward.
            category, staff_note = "other", (
                f"工作人员（{mail.sender}）转发的申报材料，未自动登记和回复：请让申报单位直接发送到本邮箱，"
                "或把单位的原邮件另存为 .eml 后用 intake import 导入"
            )
        if category == "application" and raw.folder in self.junk_folders and not _mentions(mail, self.ruleset.call.topic_words, names=True):
            # The junk folder is read for applications the filter misfiled; the spam beside them
            # (an invoice.pdf from a stranger) is not an applicant to answer.
            category, staff_note = "no_reply", "垃圾邮件文件夹中与申报无关的邮件（未处理、未回复）"
        bounce = None
        if category == "no_reply" and not too_big:
            from .bounces import read_bounce

            bounce = read_bounce(raw.data)
        limit = int(self.cfg.replies.max_attachment_mb * 1024 * 1024)
        file_rows = []
        problems = list(mail.problems)
        if category == "application" and not too_big and not mail.attachments and all(f.staff_only for f in mail.problems):
            problems.append(_without_files(mail))
        elif category == "application" and not too_big and self._question_with_pictures(mail):
            # "请问截图中这一栏怎么填？" with a screenshot: a question, not an application made of pictures.
            problems.append(_without_files(mail, pictures=len(mail.attachments)))
        attachments = list(mail.attachments)
        from collections import Counter

        from .archives import Budget, expand

        budget = Budget(member_limit=limit)  # one for all the mail's archives: members over the limit stay packed
        for att in mail.attachments:
            if att.kind in ARCHIVE_KINDS and category == "application":
                members, archive_problems = expand(att, budget=budget)
                attachments.extend(members)
                problems.extend(archive_problems)
        too_large: list[tuple[str, str, str]] = []  # (name, role, archive it came in)
        for att in attachments:
            role = role_of(att.kind)
            if att.size > limit:
                if not (att.kind in ARCHIVE_KINDS and category == "application"):
                    too_large.append((att.filename, role, ""))  # an archive was unpacked: its members answer for it
                continue
            path = self.files.put_file(att.sha256, att.kind, att.data)
            file_rows.append(_file_row(mail, att, role, path))
            if role == "pdf" and category == "application":
                self._read_ahead(att.sha256)
        too_large += [(s.filename, "archive" if s.kind in ARCHIVE_KINDS else role_of(s.kind), s.archive) for s in budget.skipped]
        # Sixteen 申报书.pdf in sixteen inner zips are one line with a count, not sixteen.
        problems += [_attachment_too_large(name, limit, role, count, archive) for (name, role, archive), count in Counter(too_large).items()]
        owners: dict[str, str] = {}
        applicant = None
        if category == "application" and mail.sender:
            owners = self._assign(mail.sender, file_rows)
            if admitted is None and (note := self._stranger_files(mail.sender, owners, file_rows)):
                category, staff_note, owners = "other", note, {}
            else:
                applicant = next(iter(owners.values()), None) or self._sender_default(mail.sender)
        links = find_cloud_links(mail.body_text) if category == "application" else []
        # The unit each Word of the mail names (read before the transaction: a .doc is converted first).
        word_units = {
            owners.get(r["sha256"], applicant): self.read_word(r["sha256"], r["kind"]).unit
            for r in file_rows if r["role"] == "word" and category == "application"
        }
        failpoints.hit("mail.stored")
        with self.store.transaction():
            if bounce is not None and (returned := self.store.mark_bounced(bounce.message_ids, bounce.reason, bounce.recipients)):
                staff_note = f"{staff_note or '退信'}；{_bounced_note(returned, bounce.reason)}"
            if admitted is not None:
                self.store.conn.execute("DELETE FROM files WHERE mail_sha256=?", (raw.sha256,))
                self.store.conn.execute("DELETE FROM mails WHERE sha256=?", (raw.sha256,))
                staff_note = f"{admitted}{ADMITTED}" if category == "application" else staff_note
            self.store.db["mails"].insert(
                _mail_row(raw, mail, raw_path, category, staff_note, applicant=applicant, problems=problems, links=links)
            )
            keys = list(dict.fromkeys([applicant, *owners.values()])) if applicant else []
            submits = not any(f.code == QUESTION_CODE for f in problems)
            answer_to = mail.reply_to or mail.sender
            # A unit with files on record is answered at a Reply-To only if that address already
            # speaks for it: a From forged as the unit's, with the attacker's Reply-To, took the
            # unit's letters (QA round 11).
            answer_for = {
                key: mail.sender if answer_to != mail.sender and self.store.documents(key)
                and answer_to.lower() not in self.store.unit_addresses(key) else answer_to
                for key in keys
            }
            for row in file_rows:
                row["applicant"] = owners.get(row["sha256"], applicant)
            # Only a Word or PDF version not on record re-opens a staff decision: the
            # same files sent again must not undo it (nor draw an automatic reply).
            new_versions = {
                key: any(
                    row["applicant"] == key and row["role"] in ("word", "pdf") and not self.store.has_file(key, row["sha256"])
                    for row in file_rows
                )
                for key in keys
            }
            for row in file_rows:
                self.store.db["files"].insert(row, ignore=True)
            for key in keys:
                if key != mail.sender:
                    self.store.merge_applicant(mail.sender, key)
                if key.startswith("unit:") and word_units.get(key):
                    # The unit's stamped PDF filed earlier under another address (the office's)
                    # joins the Word that names it: one applicant, one number, one reply.
                    for orphan in self.store.waiting_for_word(word_units[key]):
                        if orphan != key:
                            self.store.merge_applicant(orphan, key)
                self.store.ensure_applicant(key, answer_for[key], self.ruleset.call.receipt_prefix, numbered=submits)
                # Replies go to whoever wrote last for the unit (to the Reply-To they gave); an
                # admitted mail older than the unit's latest one neither answers nor redirects it.
                if admitted is not None and self._newer_files(key, mail, raw.sha256):
                    self.store.conn.execute("UPDATE applicants SET dirty=1 WHERE key=?", (key,))
                else:
                    self.store.conn.execute(
                        "UPDATE applicants SET dirty=1, pending_reply_mail=?, sender=? WHERE key=?",
                        (raw.sha256, answer_for[key], key),
                    )
                if new_versions[key]:
                    self.store.conn.execute("UPDATE applicants SET decision_id=NULL WHERE key=?", (key,))
            if raw.uid is not None:
                self.store.mark_seen(raw.folder, raw.uidvalidity, raw.uid, raw.sha256)
        failpoints.hit("mail.committed")
        attr = {"application": "applications", "no_reply": "no_reply"}.get(category, "other")
        setattr(self.stats, attr, getattr(self.stats, attr) + 1)
        return category

    def _stranger_files(self, sender: str, owners: dict[str, str], file_rows: list[dict[str, Any]]) -> str | None:
        """Why this mail's files are left for staff, not filed for the units they name: an address
        that never wrote for a unit with files on record, and that its form does not give, may
        only bring the file the unit still lacks (the office's stamped PDF for the contact's Word).
        Anyone can name any unit; filed, a stranger's broken form replaced an accepted unit's
        files, made it 需补正 and took its letters with receipt number and file list (QA rounds
        10 and 11). None: file them."""
        roles = {r["sha256"]: r["role"] for r in file_rows}
        units = list(dict.fromkeys(owners.values()))
        for key in units:
            if not key.startswith("unit:"):
                continue
            row = self.store.one("SELECT unit, status, receipt_no FROM applicants WHERE key=?", (key,))
            held = {role for _, role, _ in self.store.documents(key)}
            if row is None or not held or sender.lower() in self.store.unit_addresses(key):
                continue
            brings = {roles[sha] for sha, k in owners.items() if k == key}
            if row["status"] != "accepted" and not brings & held:
                continue  # the partner the unit is waiting for
            first = self.store.one(
                "SELECT m.sender FROM files f JOIN mails m ON m.sha256 = f.mail_sha256 WHERE f.applicant=?"
                " AND f.role IN ('word', 'pdf') ORDER BY m.received_at LIMIT 1", (key,))
            state = "已受理" if row["status"] == "accepted" else "已报送材料"
            others = "、".join(f"“{self._unit_name_of(k, owners, file_rows)}”" for k in units if k != key)
            return (
                f"{SET_ASIDE}{state}的“{row['unit']}”（受理编号 {row['receipt_no']}，由 {first['sender'] if first else '其他地址'} 报送）"
                "发来材料，未替换该单位已有的材料，也未自动回复：请与该单位电话核实；确为该单位所发时可用 intake admit 发件地址"
                " 按申报处理，否则用 intake answered 发件地址 关闭" + (f"。本邮件另带有{others}的材料，也未登记，请一并核实" if others else "")
            )
        return None

    def _newer_files(self, key: str, mail: Mail, sha256: str) -> bool:
        """Whether the unit has files from a mail that came after this one."""
        return self.store.one(
            "SELECT 1 AS x FROM files f JOIN mails m ON m.sha256 = f.mail_sha256 WHERE f.applicant=? AND m.sha256 != ?"
            " AND m.received_at > ? LIMIT 1", (key, sha256, iso(mail.received_at))) is not None

    def _arrival_guessed(self, mail_sha: str) -> bool:
        """Whether this mail's arrival is the import's time for want of any possible time of its own."""
        from .mime import GUESSED_ARRIVAL

        row = self.store.one("SELECT problems FROM mails WHERE sha256=?", (mail_sha,))
        return any(f.code == "arrival_doubt" and f.location == GUESSED_ARRIVAL for f in findings_from_json(row and row["problems"]))

    def _unit_name_of(self, key: str, owners: dict[str, str], file_rows: list[dict[str, Any]]) -> str:
        """A unit of this mail as staff read it: as registered, else as its Word here names it."""
        row = self.store.one("SELECT unit FROM applicants WHERE key=?", (key,))
        if row and row["unit"]:
            return row["unit"]
        words = [r for r in file_rows if r["role"] == "word" and owners.get(r["sha256"]) == key]
        return next((u for r in words if (u := self.read_word(r["sha256"], r["kind"]).unit)), key.removeprefix("unit:"))

    def _assign(self, sender: str, file_rows: list[dict[str, Any]]) -> dict[str, str]:
        """Applicant of each Word/PDF file of one mail, by what the documents say."""
        docs = [(r["sha256"], r["role"]) for r in file_rows if r["role"] in ("word", "pdf")]
        kinds = {r["sha256"]: r["kind"] for r in file_rows}
        if not docs:
            return {}
        history = self.store.sender_units(sender)
        return assign_files(
            sender,
            docs,
            word_unit=lambda sha: self.read_word(sha, kinds[sha]).unit,
            pdf_text=lambda sha: self.read_pdf(sha).text,
            sender_units=history,
            known_units=self.store.known_units(),
            pdf_ocr=lambda sha: self.read_pdf(sha).text_source in OCR_SOURCES,
            # The sender's units that have a Word and no PDF yet: a PDF alone is theirs.
            waiting=frozenset(key for key, _ in history if {role for _, role, _ in self.store.documents(key)} == {"word"}),
        )

    def _question_with_pictures(self, mail: Mail) -> bool:
        """Only pictures, none of them a page (screenshots), from a sender with nothing on
        record: someone asking about the form, not sending it."""
        from .mime import not_a_page

        if not mail.attachments or any(a.kind != "image" or not not_a_page(a.data) for a in mail.attachments):
            return False
        return not self._has_files(mail.sender)

    def _from_staff(self, mail: Mail) -> bool:
        """Whether the mail comes from one of the staff addresses of the config ([staff] addresses)."""
        staff = {parseaddr(a)[1].lower() for a in self.cfg.staff}
        return bool(mail.sender) and mail.sender.lower() in staff

    def _has_files(self, sender: str) -> bool:
        """Whether this address, or a unit it wrote for, has a Word or PDF on record."""
        return bool(self.store.documents(sender)) or any(self.store.documents(k) for k, _ in self.store.sender_units(sender))

    def _follow_up(self, mail: Mail) -> str | None:
        """The staff note for a mail with no files and no link that follows up on earlier
        mail: from a sender whose unit has files on record, or answering one of our replies."""
        if any(a.kind in APPLICATION_KINDS for a in mail.attachments):
            return None  # files (photos of stamped pages too) are answered
        if any(f.code == "attachment_link_only" for f in mail.problems):
            return None
        if self._has_files(mail.sender):
            return "已报送材料的单位来信（无附件），请工作人员阅处"
        if mail.references and self.store.answers_our_reply(mail.references):
            return "对本系统回复邮件的回信（无附件，可能是自动回复或咨询），未自动回复，请工作人员阅处"
        return None

    def _sender_default(self, sender: str) -> str:
        """A mail without forms belongs to the unit its sender wrote for last."""
        units = self.store.sender_units(sender)
        return units[-1][0] if units else sender

    def _same_mail_seen(self, mail: Mail) -> bool:
        """Another copy of a mail already on record: same Message-ID, sender, subject and Date,
        other bytes (a webmail export of a polled mail, a relay that rewrote line ends),
        and nothing in it that the earlier copy did not bring. A copy whose first one was
        set aside (machine mail, a forward marked auto-forwarded: left for staff) is processed;
        so is a later mail of a system that reuses one Message-ID (another subject or date)."""
        if not mail.message_id or mail.message_id.endswith("@intake.invalid>"):
            return False
        mine = {a.sha256 for a in mail.attachments}
        for row in self.store.rows(
            "SELECT sha256, subject, sent_at FROM mails WHERE message_id=? AND sender=? AND category='application'",
            (mail.message_id, mail.sender),
        ):
            if (row["subject"] or "") != (mail.subject or "") or row["sent_at"] != iso(mail.sent_at):
                continue
            theirs = {r["sha256"] for r in self.store.rows("SELECT sha256 FROM files WHERE mail_sha256=?", (row["sha256"],))}
            if mine <= theirs:
                return True
        return False

    def _record_copy(self, raw: RawMail, mail: Mail, raw_path: Path, *, replace: bool = False) -> str:
        """Keep the copy on record (its raw file is stored) without processing it again."""
        self.stats.duplicates += 1
        with self.store.transaction():
            if replace:
                self.store.conn.execute("DELETE FROM files WHERE mail_sha256=?", (raw.sha256,))
                self.store.conn.execute("DELETE FROM mails WHERE sha256=?", (raw.sha256,))
            self.store.db["mails"].insert(
                _mail_row(raw, mail, raw_path, "duplicate", "同一封邮件的另一份副本（Message-ID 与已收到的邮件相同），未重复处理")
            )
            if raw.uid is not None:
                self.store.mark_seen(raw.folder, raw.uidvalidity, raw.uid, raw.sha256)
        return "duplicate"

    def _mark_duplicate(self, raw: RawMail) -> None:
        self.stats.duplicates += 1
        if raw.uid is not None:
            with self.store.transaction():
                self.store.mark_seen(raw.folder, raw.uidvalidity, raw.uid, raw.sha256)

    # -- stage 2: judge and queue replies --------------------------------------

    def judge_all(self) -> None:
        keys = self.store.dirty_applicants()
        self._prefetch_pdfs(keys)
        for key in keys:
            try:
                self.judge_one(key)
            except Exception:  # one applicant's bug must not stop the others
                log.exception("judging %s failed", key)

    def read_word(self, sha256: str, kind: str) -> Application:
        """Read the Word form; legacy formats go through LibreOffice first."""
        if sha256 not in self._parsed:
            from .convert import to_docx
            from .forms.docx import read_form

            data = self.files.file_path(sha256, kind).read_bytes()
            if kind == "office_encrypted":
                data = None  # no password to open it with, and LibreOffice would only fail
            elif kind != "docx":
                data = to_docx(data, kind)
            if data is None:
                self._parsed[sha256] = Application(problems=(ENCRYPTED_WORD if kind == "office_encrypted" else NOT_DOCX,))
            else:
                app, timed_out = deadline.call(WORD_SECONDS, read_form, data)
                if timed_out:
                    log.warning("reading Word file %s took over %s s", sha256[:12], WORD_SECONDS)
                    app = Application(problems=(WORD_TOO_COMPLEX,))
                self._parsed[sha256] = app
        return self._parsed[sha256]

    def _prefetch_pdfs(self, keys: list[str]) -> None:
        """Start reading the PDFs these applicants will be judged on (not read ahead at ingest)."""
        for key in keys:
            pdf = current([(role, d) for _, role, d in self.store.documents(key)], "pdf")
            if pdf is not None:
                self._read_ahead(pdf.sha256)

    def _read_ahead(self, sha256: str) -> None:
        """Queue a PDF for the warm workers; `read_pdf` collects the result.

        Called as each PDF is stored, so the PDFs of a poll are read on the
        other cores while the parent goes on fetching and parsing mail.
        """
        if sha256 in self._parsed or sha256 in self._pdf_futures:
            return
        if self._pdf_threads is None:
            from concurrent.futures import ThreadPoolExecutor

            from .forms.pdf import default_workers, worker_pool

            workers = self.cfg.pdf.workers or default_workers()
            self._pdf_pool = worker_pool(workers, ocr=self.cfg.pdf.ocr)
            self._pdf_threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pdf")
        self._pdf_futures[sha256] = self._pdf_threads.submit(self._read_pdf_now, sha256)

    def read_pdf(self, sha256: str) -> PdfFacts:
        if sha256 not in self._parsed:
            future = self._pdf_futures.pop(sha256, None)
            self._parsed[sha256] = future.result() if future is not None else self._read_pdf_now(sha256)
        return self._parsed[sha256]

    def _read_pdf_now(self, sha256: str) -> PdfFacts:
        from .forms.pdf import read_pdf

        return read_pdf(self.files.file_path(sha256, "pdf").read_bytes(), pool=self._pdf_pool, ocr=self.cfg.pdf.ocr)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the PDF workers (unread PDFs are read again next time they are needed)."""
        if self._pdf_threads is not None:
            self._pdf_threads.shutdown(wait=True, cancel_futures=True)
            self._pdf_pool.close()
            self._pdf_threads = self._pdf_pool = None
            self._pdf_futures.clear()

    def _forms_first(self, docs: list) -> list:
        """An applicant's documents without PDFs that plainly are not the form (an appendix,
        a certificate: a readable text layer of its own with no heading or title of the form)
        once another PDF is: sent alone later, such a file must not replace the stamped form
        (the stamped page alone still does). Kept on record. A scan whose only text is a scan
        app's watermark or an OCR layer that could not read Chinese has no layer of its own
        (`forms.pdf`), and an export whose layer cannot be read (a print-to-PDF without a
        Unicode map) says nothing about what it is: both stay candidates for the form."""
        from .consistency import looks_like_form, readable_text

        pdfs = [d for _, role, d in docs if role == "pdf"]
        if len(pdfs) < 2:
            return docs

        def other(d: Document) -> bool:
            facts = self.read_pdf(d.sha256)
            return (facts.has_text_layer and facts.text_source not in OCR_SOURCES and readable_text(facts.text)
                    and not looks_like_form(facts.text, least=1))

        extra = {d.sha256 for d in pdfs if other(d)}
        return docs if len(extra) == len(pdfs) else [x for x in docs if x[1] != "pdf" or x[2].sha256 not in extra]

    def _blank_form_sha(self) -> str:
        from .replies import blank_form_attachment

        if self._blank_sha is None:
            form = blank_form_attachment(self.ruleset.call)
            self._blank_sha = hashlib.sha256(form[1]).hexdigest() if form else ""
        return self._blank_sha

    def _words_first(self, docs: list) -> list:
        """An applicant's documents without Word files that are not the form (our blank
        template, an unreadable file) when the same mail brought one that is: an applicant
        who forwards our 补正通知 or 来信收到 with the filled form keeps our template in the
        mail, and the order of attachments must not make the template the answer. Kept on record."""
        from collections import Counter

        # Our own blank form (attached to 来信收到 and wrong-form notices) is never an applicant's
        # Word version once they have another: a unit forwarding our letter with a question keeps it.
        ours = self._blank_form_sha()
        if ours and any(role == "word" and d.sha256 != ours for _, role, d in docs):
            docs = [x for x in docs if x[1] != "word" or x[2].sha256 != ours]
        per_mail = Counter(d.mail_sha256 for _, role, d in docs if role == "word")
        # Only mails with two Word files or more (a single version is never read here: an old
        # .doc would cost a LibreOffice conversion on every re-judgement).
        words = [d for _, role, d in docs if role == "word" and per_mail[d.mail_sha256] > 1]
        if not words:
            return docs

        def not_form(d: Document) -> bool:
            problems = self.read_word(d.sha256, d.kind).problems
            return any(p.code in ("wrong_form", "format_unreadable") for p in problems)

        unread = {d.sha256 for d in words if not_form(d)}
        read_mails = {d.mail_sha256 for d in words if d.sha256 not in unread}
        extra = {d.sha256 for d in words if d.sha256 in unread and d.mail_sha256 in read_mails}
        return [x for x in docs if x[1] != "word" or x[2].sha256 not in extra] if extra else docs

    def assess(self, key: str) -> "Assessment":
        """Pair the applicant's files, read them and run the rules (no writes)."""
        store, call = self.store, self.ruleset.call
        row = store.one("SELECT * FROM applicants WHERE key=?", (key,))
        mails = store.applicant_mails(key)
        docs = self._words_first(self._forms_first(store.documents(key)))
        last_doc_time = max((d.received_at for _, _, d in docs), default=None)
        last_of = {role: max((d.received_at for _, r, d in docs if r == role), default=None) for role in ("word", "pdf")}
        mail_problems: list[Finding] = []
        for m in mails:
            at = parse_iso(m["received_at"])
            for f in findings_from_json(m["problems"]):
                # A link-only mail stops mattering once real files came after it. A file that came
                # too large (or locked in an archive) stops mattering only once that file came after
                # it: a PDF arriving later does not make "the Word was too large" untrue.
                if f.code in UNOPENED_CODES:
                    roles = [UNOPENED_ROLE[f.location]] if f.location in UNOPENED_ROLE else ["word", "pdf"]
                    if any(last_of[r] is None or at >= last_of[r] for r in roles):
                        mail_problems.append(f)
                elif last_doc_time is None or at >= last_doc_time:
                    mail_problems.append(f)
        sub = build_submission(
            key,
            row["sender"],
            [(role, doc) for _, role, doc in docs],
            # A question is no submission: its date makes no later file on time (nor 首次收到).
            [parse_iso(m["received_at"]) for m in (_submitting(mails) or mails)],
            mail_problems=tuple(mail_problems),
            correction_notice_at=(notice := _window_notice(store.last_correction_at(key), mails)),
            images=tuple(store.images(key)),
            cutoff=call.cutoff(notice),
        )
        app = self.read_word(sub.word.sha256, sub.word.kind) if sub.word else None
        pdf = self.read_pdf(sub.pdf.sha256) if sub.pdf else None
        from .checks import Context
        from .judge import judge

        verdict = judge(key, self.ruleset.evaluate(Context(call, sub, app, pdf)))
        ids = {id(d): fid for fid, _, d in docs}
        return Assessment(
            row=row,
            sub=sub,
            app=app,
            pdf=pdf,
            verdict=verdict,
            # What the register and every summary show: no bidi or zero-width marks (QA round 10).
            unit=visible((app.unit if app else "") or row["unit"] or _pdf_unit_name(pdf)),
            pilot="、".join(app.pilot_types) if app else "",
            word_id=ids.get(id(sub.word)),
            pdf_id=ids.get(id(sub.pdf)),
            similarity=_similarity(app, pdf),
        )

    def clock(self, sub: Submission, *arrivals: datetime | None) -> datetime:
        """The run's clock, never before the arrival of the applicant's latest mail. Arrival is
        the mail server's stamp: a host clock running behind it (QA: 20 s) dated our answer
        before the mail it answers, so the mail did not count as submitted, and the 补正期限
        became the deadline a minute later; hours behind, the pairing wait ran on for hours."""
        now = self.now()
        last = max((t for t in (sub.last_received_at, *arrivals) if t is not None), default=None)
        if last is not None and last > now:
            if last - now > CLOCK_BEHIND:
                log.warning("this machine's clock is %s behind the mail server's arrival time; check its time sync", last - now)
            return last
        return now

    def judge_one(self, key: str, *, reprocess_run: int | None = None) -> None:
        """Judge one applicant and queue the reply its latest mail calls for.

        With `reprocess_run`, a reply goes out only when the verdict changed.
        """
        from .judge import waiting_for_partner

        a = self.assess(key)
        row, verdict, sub = a.row, a.verdict, a.sub
        decision = self.store.active_decision(key)
        status = decision["status"] if decision else verdict.status
        pending = row["pending_reply_mail"]
        trigger_key = pending
        if reprocess_run is not None:
            changed = status != row["status"] or _error_codes(verdict) != _error_codes_json(row["findings"])
            latest = self.store.latest_mail(key)
            if changed and latest and not decision:
                pending, trigger_key = latest, f"reprocess:{reprocess_run}:{latest}"
        # The file that is here waits up to the pairing window for its partner.
        present = sub.word or sub.pdf
        hold = (
            bool(pending)
            and present is not None
            and waiting_for_partner(verdict)
            and self.clock(sub) < present.received_at + self.ruleset.call.pairing_window
        )
        outbox_row = repeat = None
        if pending and not hold:
            if decision and reprocess_run is None:
                # Staff decided and no new version came since: their word stands, no automatic reply.
                repeat = "工作人员已改判，且未收到新版本文件，未自动回复"
            elif verdict.status == LATE and self._arrival_guessed(pending):
                # Imported with no possible time of its own (a 1970 Date, no Received): late only by
                # the import's clock. An automatic 逾期通知 on a guess cannot be taken back (QA round 11).
                repeat = "收到时间无法确定（已按导入时间判为逾期），未自动发送逾期通知：请工作人员核实实际收到时间后用 intake decide 处理"
            elif reprocess_run is None and self.store.last_reply_basis(key) == reply_basis(verdict, sub):
                # The same files again (a resend, a copy from another address): the
                # answer would be word for word the last one. Never send it twice.
                repeat = (
                    "截止（或补正期限）后收到的新版本未采用，审核结果不变，未再次自动回复"
                    if any(d.mail_sha256 == pending for d in sub.late_files)
                    else "与上次回复的内容相同（文件和审核结果均未变化），未再次自动回复"
                )
                if self.store.one(
                    "SELECT 1 AS x FROM files WHERE mail_sha256=? AND role NOT IN ('word','pdf') LIMIT 1", (pending,)
                ):
                    repeat += "；邮件另附有其他文件（图片、压缩包等），请工作人员查看"
            else:
                outbox_row = self.render_row(a, verdict, pending, trigger_key)
        # Held by the daily limit: the applicant stays waiting, and the letter goes out on the
        # first run after the 24 hours (a loop gets one more a day, the unit its latest answer).
        held = outbox_row is not None and outbox_row["state"] == "held"
        with self.store.transaction():
            self._record(a, status, hold=hold or held, pending=pending)
            if repeat:  # after the note of staff who admitted the mail, if any (`jobs.admit`)
                self.store.conn.execute(
                    "UPDATE mails SET no_reply_reason = CASE WHEN no_reply_reason LIKE ? THEN no_reply_reason || '；' || ? ELSE ? END"
                    " WHERE sha256=?", (f"%{ADMITTED}%", repeat, repeat, pending))
            if outbox_row is not None:
                if not held:
                    self.store.drop_held(key, outbox_row["trigger_mail"])
                if self.store.queue_reply(outbox_row) and not held:
                    self.stats.replies_queued += 1
                self.stats.replies_held += held  # the run's line tells these apart from the queued

    def _record(self, a: "Assessment", status: str, *, hold: bool, pending: str | None) -> None:
        store, key, findings = self.store, a.row["key"], a.verdict.findings
        if a.row["status"] != status:
            store.db["status_history"].insert(
                {"applicant": key, "status": status, "at": iso(now_utc()), "findings": findings_json(findings)}
            )
        store.db["applicants"].update(
            key,
            {
                "unit": a.unit,
                "pilot_type": a.pilot,
                "status": status,
                "findings": findings_json(findings),
                "first_received_at": iso(a.sub.first_received_at),
                "last_received_at": iso(a.sub.last_received_at),
                "complete_at": iso(a.sub.complete_at),
                "word_file_id": a.word_id,
                "pdf_file_id": a.pdf_id,
                "pdf_similarity": a.similarity,
                "dirty": 1 if hold else 0,
                "pending_reply_mail": pending if hold else None,
                "updated_at": iso(now_utc()),
            },
        )
        for doc, parsed in ((a.sub.word, a.app), (a.sub.pdf, a.pdf)):
            if doc is not None and parsed is not None:
                store.conn.execute(
                    "UPDATE files SET parsed=?, problems=? WHERE sha256=? AND applicant=?",
                    (to_json(parsed), findings_json(parsed.problems), doc.sha256, key),
                )

    def reprocess(self, run_id: int) -> None:
        """Re-judge every applicant from stored files under the current rules."""
        for key in [r["key"] for r in self.store.rows("SELECT key FROM applicants ORDER BY key")]:
            try:
                self.judge_one(key, reprocess_run=run_id)
            except Exception:
                log.exception("reprocessing %s failed", key)

    def decide(self, key: str, status: str, *, note: str, by: str, reply: bool) -> dict[str, Any] | None:
        """Record a staff decision that overrules the automatic verdict."""
        a = self.assess(key)
        verdict = a.verdict
        if status == "accepted":
            verdict = Verdict(key, status, verdict.warnings)
        else:
            # Each line typed into --note is an item of the letter's numbered list, without the
            # number staff gave it (the letter numbers them: "1. 1. …") and ending as a sentence
            # (QA rounds 10 and 12: a second line stood unindented outside the list).
            extra = tuple(Finding("staff_note", "error", line, "审核意见") for line in note_items(note))
            # Staff letting a late unit correct: lateness is not a thing the unit can correct,
            # and the notice's 补正期限 is the window they give (`checks._deadline`).
            errors = tuple(f for f in verdict.errors if f.code != "late")  # the deadline rule's code, as judge.py keys it
            verdict = Verdict(key, status, errors + extra + verdict.warnings)
            if reply and not verdict.errors:
                # A 补正通知 listing nothing to correct: the applicant could do nothing with it.
                raise IntakeError("改判为需补正并回复时，请用 --note 写明需要补正的内容（系统没有发现可列出的问题）")
        with self.store.transaction():
            decision_id = self.store.db["decisions"].insert(
                {"applicant": key, "status": status, "note": note, "by": by, "at": iso(now_utc())}
            ).last_pk
            self.store.conn.execute("UPDATE applicants SET decision_id=? WHERE key=?", (decision_id, key))
            self._record(a, status, hold=False, pending=None)
        if not reply:
            return None
        latest = self.store.latest_mail(key)
        if latest is None:
            return None
        row = self.render_row(a, verdict, latest, f"decision:{decision_id}", limit=False)
        with self.store.transaction():
            self.store.queue_reply(row)
        return row

    def render_row(self, a: "Assessment", verdict: Verdict, mail_sha: str, trigger_key: str, *, limit: bool = True) -> dict[str, Any]:
        """Render the reply to the applicant's mail `mail_sha` into an outbox row. `limit=False`:
        a letter staff asked for (`decide --reply`), which the per-address limit against loops
        does not hold (it held it for good, and repeating the decide held another)."""
        from .replies import WIRE_POLICY, ReplyInput, build_message, render_reply

        row, sub, key = a.row, a.sub, a.row["key"]
        trigger = self.store.one("SELECT * FROM mails WHERE sha256=?", (mail_sha,))
        now = self.clock(sub, parse_iso(trigger["received_at"]))
        base = {
            "applicant": key,
            "basis": reply_basis(verdict, sub),
            "to_addr": row["sender"],
            "trigger_mail": trigger_key,
            "in_reply_to": trigger["message_id"],
            "created_at": iso(now),  # the run's clock: the correction window counts from it
            "updated_at": iso(now_utc()),
        }
        # The run's clock, as `created_at` is written with it.
        if limit and self.store.replies_since(row["sender"], now - timedelta(days=1)) >= self.cfg.replies.max_per_address_per_day:
            return {**base, "kind": "none", "state": "held", "error": HELD}
        mails = self.store.applicant_mails(key)
        refs = tuple(m["message_id"] for m in mails if m["message_id"])
        inp = ReplyInput(
            verdict=verdict,
            to=row["sender"],
            sender_name=trigger["sender_name"] or "",
            unit=a.unit,
            pilot_type=a.pilot,
            receipt_no=row["receipt_no"],
            files=reply_files(sub),
            # A late correction is late when it came, not when the first pair did.
            received_at=(min(d.received_at for d in sub.late_files) if verdict.status == "late" and sub.late_files
                         else sub.complete_at or sub.last_received_at),
            in_reply_to=trigger["message_id"],
            references=refs,
            # Late after one of our correction notices: the window was missed, not only the deadline.
            correction_until=(self.ruleset.call.cutoff(sub.correction_notice_at)
                              if verdict.status == "late" and sub.correction_notice_at else None),
            opens_window=submitted_by(mails, now),
            # What the letter dates and says: the mail answered, the first and the complete
            # submission, a staff decision, whether a form was read, screenshots with a question.
            mail_received_at=parse_iso(trigger["received_at"]),
            first_received_at=sub.first_received_at,
            complete_at=sub.complete_at,
            staff_decision=trigger_key.startswith("decision:"),
            lifts_late=trigger_key.startswith("decision:") and verdict.status == "needs_correction" and self.store.one(
                "SELECT 1 AS x FROM outbox WHERE applicant=? AND kind='late' AND state NOT IN ('failed', 'superseded', 'held') LIMIT 1",
                (key,)) is not None,
            form_read=a.app is not None and not a.app.problems,
            pictures=self.store.one("SELECT COUNT(*) AS n FROM files WHERE mail_sha256=? AND kind='image'", (mail_sha,))["n"],
        )
        try:
            reply = render_reply(inp, self.ruleset.call, self.sender, self.env, now)
            data = build_message(reply, self.sender, now).as_bytes(policy=WIRE_POLICY)
        except Exception as exc:  # template or header error: record, don't crash
            log.exception("rendering reply for %s failed", key)
            return {**base, "kind": "error", "state": "failed", "error": f"回复生成失败：{type(exc).__name__}: {exc}"[:300]}
        path = self.files.put_outgoing(hashlib.sha256(data).hexdigest(), data)
        self.stats.rendered.append({"to": reply.to, "kind": reply.kind, "subject": reply.subject, "eml": str(path)})
        return {
            **base,
            "kind": reply.kind,
            "subject": reply.subject,
            "message_id": reply.message_id,
            "eml_path": str(path),
            "state": "rendered",
        }


@dataclass(frozen=True)
class Assessment:
    """One applicant as judged now: the row, the pair, what the files say."""

    row: dict[str, Any]
    sub: Submission
    app: Application | None
    pdf: PdfFacts | None
    verdict: Verdict
    unit: str
    pilot: str
    word_id: int | None
    pdf_id: int | None
    similarity: float | None = None


def _window_notice(notice_at: datetime | None, mails: list[dict[str, Any]]) -> datetime | None:
    """The correction notice whose window counts: one written after the applicant had
    submitted something. A notice that only answered questions opens no window, or a
    question would buy its sender days past the deadline that others did not get."""
    return notice_at if notice_at is not None and submitted_by(mails, notice_at) else None


def _submitting(mails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mails that submitted something (files, a link, an over-limit mail), not only asked."""
    return [m for m in mails if submitted_by([m])]


def _similarity(app: Application | None, pdf: PdfFacts | None) -> float | None:
    """How much of the Word form's own text the PDF carries (stored for staff)."""
    from .consistency import containment, form_text

    if app is None or pdf is None or pdf.text_source not in FULL_TEXT_SOURCES:
        return None
    value = containment(form_text(app), pdf.text)
    return round(value, 3) if value is not None else None


def reply_files(sub: Submission) -> tuple[Document, ...]:
    """The files a reply lists: the pair, and the pictures while there is no PDF (the applicant sees we got them)."""
    pair = tuple(d for d in (sub.word, sub.pdf) if d is not None)
    if sub.pdf is not None:
        return pair
    listed = {d.sha256 for d in pair}  # the Word renamed .pdf is the Word and one of the images
    return pair + tuple(d for d in sub.images if d.sha256 not in listed)


def reply_basis(verdict: Verdict, sub: Submission) -> str:
    """What a reply says: its kind, the files it answers and every point it makes to the applicant."""
    from .judge import REPLY_KIND

    files = [d.sha256 for d in reply_files(sub)]
    points = sorted(f"{f.code}|{f.location}|{f.message}" for f in verdict.errors + verdict.applicant_warnings)
    text = "\n".join([REPLY_KIND.get(verdict.status, verdict.status), *files, *points])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _error_codes(verdict: Verdict) -> set[str]:
    return {f.code for f in verdict.errors}


def _error_codes_json(text: str | None) -> set[str]:
    return {f.code for f in findings_from_json(text) if f.severity == "error"}


def _pdf_unit_name(pdf: PdfFacts | None) -> str:
    """The 申报单位 a PDF names, for an applicant that has sent no Word yet."""
    from .consistency import pdf_units

    return next(iter(pdf_units(pdf.text, ocr=pdf.text_source in OCR_SOURCES)), "") if pdf else ""


def _bounced_note(returned: list[dict[str, Any]], reason: str) -> str:
    """What staff read beside the report: whose reply did not arrive, and what to do."""
    from .replies import reply_name, reply_owner

    whom = "、".join(
        f"发给 {r['to_addr']} 的{reply_name(r['kind'])}" + (f"（{owner}）" if (owner := reply_owner(r)) else "") for r in returned[:5]
    )
    who = "发信人" if all(r["kind"] == "question" for r in returned) else "该单位"
    return f"退回的是本系统{whom}，未送达{('（' + reason + '）') if reason else ''}，已标为“被退回”，请电话联系{who}"


_ITEM_NUMBER = re.compile(r"^\s*(?:[(（]?(?:\d{1,2}|[一二三四五六七八九十]{1,3})[)）]|(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[.、．:：])\s*")


def note_items(note: str) -> list[str]:
    """The items of a staff note as the letter lists them: one per line, staff's own numbering
    dropped, each ending with a full stop."""
    items = []
    for line in note.splitlines():
        text = _ITEM_NUMBER.sub("", line.strip()).strip().rstrip("；;，,")
        if text:
            items.append(text if text[-1] in "。！？.!?）)" else text + "。")
    return items


def _mail_row(
    raw: RawMail, mail: Mail, raw_path: Path, category: str, note: str | None, *,
    applicant: str | None = None, problems: list[Finding] | tuple[Finding, ...] = (), links: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The `mails` row of one mail as recorded."""
    return {
        "sha256": raw.sha256,
        "message_id": mail.message_id,
        "sender": mail.sender,
        "sender_name": mail.sender_name,
        "subject": mail.subject,
        "sent_at": iso(mail.sent_at),
        "received_at": iso(mail.received_at),
        "source": raw.source,
        "raw_path": str(raw_path),
        "size": len(raw.data),
        "category": category,
        "no_reply_reason": note,
        "applicant": applicant,
        "problems": findings_json(problems),
        "links": to_json(list(links)),
        "processed_at": iso(now_utc()),
    }


def _file_row(mail: Mail, att: Attachment, role: str, path: Path) -> dict[str, Any]:
    return {
        "mail_sha256": mail.sha256,
        "filename": att.filename,
        "kind": att.kind,
        "role": role,
        "sha256": att.sha256,
        "size": att.size,
        "path": str(path),
        "received_at": iso(mail.received_at),
        "parsed": None,
        "problems": "[]",
    }


def _header_only(raw: RawMail) -> RawMail:
    data = raw.data
    cut = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=min(len(data), 65536))
    return dataclasses.replace(raw, data=data[: min(cut, 262144)] + b"\r\n\r\n")


def _attachment_too_large(filename: str, limit: int, role: str = "other", count: int = 1, archive: str = "") -> Finding:
    """Filed under the file it is (the reply then says the Word or PDF came but was too large,
    not that it never came), with advice that fits it: a Word form is large for its photos.
    `count` files of one name, inside `archive` (压缩包“材料.zip”) when they came in one."""
    size = f"{limit / 1048576:g} MB"
    where = f"{archive}中的" if archive else ""
    many = f"（共 {count} 个同名文件）" if count > 1 else ""
    if role == "word":
        return Finding(
            "attachment_too_large", WARNING,
            f"{where}Word 版申报书“{filename}”{many}超过 {size}，未能处理。请压缩其中的图片（Word：图片格式→压缩图片；WPS：图片工具→压缩）"
            "或删去部分照片后重新发送。", "Word 版申报书",
        )
    if role == "pdf":
        return Finding(
            "attachment_too_large", WARNING,
            f"{where}盖章 PDF 版“{filename}”{many}超过 {size}，未能处理。请降低扫描分辨率（200 dpi 即可）或压缩 PDF 后重新发送。", "盖章 PDF 版",
        )
    if role == "archive":  # a zip inside a zip: compressing it again helps nobody, and it may hold either file
        from .checks import ARCHIVE_PLACE

        return Finding(
            "attachment_too_large", WARNING,
            f"{where}压缩包“{filename}”{many}超过 {size}，未能打开。请不要把材料放在多层压缩包里，直接将 Word 版申报书和盖章 PDF 版"
            "作为附件发送（扫描件可改用 200 dpi）。", ARCHIVE_PLACE,
        )
    return Finding(
        "attachment_too_large", WARNING,
        f"{where}{'文件' if archive else '附件'}“{filename}”{many}超过 {size}，未能处理。请压缩文件（扫描件可改用 200 dpi）后作为附件重新发送。", "邮件附件",
    )


def _without_files(mail: Mail, pictures: int = 0) -> Finding:
    """A mail about the call with nothing attached is most likely a question: the applicant
    gets the list of files to send, and staff get the question to answer (a note in the
    summary, never in the reply). So is one whose only files are `pictures` that are no
    page (screenshots)."""
    text = " ".join((mail.body_text or "").split())
    snippet = text[:120] + ("…" if len(text) > 120 else "")
    what = f"邮件只附有 {pictures} 张截图或图片（不是申报材料）" if pictures else "邮件没有附件"
    return Finding(
        QUESTION_CODE,
        WARNING,
        f"{what}，可能是咨询，请人工查看并答复。主题：“{mail.subject or '（无主题）'}”；正文：“{snippet or '（无正文）'}”",
        "邮件正文",
        staff_only=True,
    )


def _mail_too_large(data: bytes, limit_mb: float) -> Finding:
    """Said in the size the sender's client showed, the attachments (≈ the characters other than
    line breaks × 3/4, as base64 carries 3 bytes in 4), not the mail on the wire (≈ 1.37 times
    that), which the limit is on because it is what the poll holds in memory."""
    files = (len(data) - data.count(b"\n") - data.count(b"\r")) * 3 / 4
    limit = limit_mb * files / max(len(data), 1)  # the same limit in the files' measure, MB
    step = 1 if limit >= 10 else 0.1
    limit_shown = math.floor(limit / step) * step
    size_shown = max(round(files / 1048576 / step) * step, limit_shown + step)  # never "约 44 MB，超过…44 MB"
    digits = 0 if step == 1 else 1
    return Finding(
        "mail_too_large",
        "error",
        f"邮件附件合计约 {size_shown:.{digits}f} MB，超过了本邮箱单封邮件能够处理的大小（附件合计约 {limit_shown:.{digits}f} MB 以内），"
        "其中的附件未能处理。请压缩 PDF（扫描件用 200 dpi 即可），或将 Word 版申报书和盖章 PDF 版分两封邮件发送。",
        "邮件附件",
    )


def _unparsed(raw: RawMail, exc: BaseException) -> Mail:
    return Mail(
        sha256=raw.sha256,
        message_id=f"<{raw.sha256}@intake.invalid>",
        sender="",
        sender_name="",
        subject="",
        sent_at=None,
        received_at=raw.received_at or now_utc(),
        body_text="",
        no_reply_reason="邮件无法解析",
        problems=(Finding("mail_unparseable", WARNING, f"邮件无法解析：{type(exc).__name__}", "邮件"),),
    )


def raw_from_file(path: Path, received_at: datetime | None, source: str = "import") -> RawMail:
    data = Path(path).read_bytes()
    return RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source=source, received_at=received_at)


