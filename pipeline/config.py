"""The config file (TOML), read once into frozen records.

Secrets never live in the file: `password_env` names the environment variable
that holds the authorization code (授权码); `<VAR>_FILE` may point at a file
holding it instead (for systemd credentials / docker secrets).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .resources import shipped

DEFAULT_RULES = "xinxiang-2025-kjzyfw.toml"


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    user: str
    password_env: str
    ssl: bool = True
    starttls: bool = False
    folder: str = "INBOX"
    timeout: float = 60.0
    junk: bool = True  # also read the folder flagged \Junk (163.com's 垃圾邮件): applications land there
    folders: tuple[str, ...] | list[str] = ()  # more folders to read (staff file mail into 已处理 before the poll)

    def password(self) -> str:
        return secret(self.password_env)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password_env: str
    sender: str  # "Name <addr>"
    ssl: bool = True
    starttls: bool = False
    timeout: float = 60.0
    save_to_sent: bool = False  # also file a copy in the mailbox's \Sent folder

    def password(self) -> str:
        return secret(self.password_env)

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1].lower()


@dataclass(frozen=True)
class RepliesConfig:
    max_per_address_per_day: int = 5
    max_attachment_mb: float = 30.0
    max_mail_mb: float = 60.0
    per_minute: int = 30
    per_run: int = 200
    per_day: int = 1000

    def throttle(self):
        from .outbox import Throttle

        return Throttle(self.per_minute, self.per_run, self.per_day)


@dataclass(frozen=True)
class PdfConfig:
    ocr: bool = True  # read scans' cover and last page with tesseract (if installed)
    workers: int = 0  # PDF worker processes; 0 = one per CPU core, at most 4


@dataclass(frozen=True)
class Config:
    storage_dir: Path
    rules_path: Path
    mailbox: MailboxConfig | None = None
    smtp: SmtpConfig | None = None
    replies: RepliesConfig = field(default_factory=RepliesConfig)
    pdf: PdfConfig = field(default_factory=PdfConfig)
    operator: str = ""
    staff: tuple[str, ...] = ()
    alert_after_failures: int = 3
    alert_after_hours: float = 6.0

    @property
    def db_path(self) -> Path:
        return self.storage_dir / "intake.db"

    def own_addresses(self) -> frozenset[str]:
        """Addresses that are us: never answer mail from them (loops)."""
        out = set()
        if self.mailbox:
            out.add(self.mailbox.user.lower())
        if self.smtp:
            out.add(self.smtp.sender_address)
            out.add(self.smtp.user.lower())
        return frozenset(a for a in out if "@" in a)


def secret(env: str) -> str:
    """Read a secret from the environment (or the file named by ENV_FILE)."""
    if not env:
        raise ConfigError("配置缺少 password_env（保存授权码的环境变量名）")
    value = os.environ.get(env)
    if value is None and os.environ.get(env + "_FILE"):
        try:
            value = Path(os.environ[env + "_FILE"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"无法读取 {env}_FILE：{exc}") from exc
    if value is None:
        raise ConfigError(f"环境变量 {env} 未设置（应保存邮箱授权码）")
    if not value.strip():
        # `export X=$CODE` with CODE unset: sent as a password it reads as a wrong 授权码.
        raise ConfigError(f"环境变量 {env} 是空的（应保存邮箱授权码；检查 cron 或 systemd 里设置它的那一行）")
    return value


def _section(data: dict[str, Any], name: str, cls, required: tuple[str, ...], path: str):
    raw = data.get(name)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{name}] 应为表")
    if "password" in raw:
        raise ConfigError(f"{path}: [{name}] 不允许写 password；请用 password_env 指向环境变量")
    missing = [k for k in required if k not in raw]
    if missing:
        raise ConfigError(f"{path}: [{name}] 缺少 {', '.join(missing)}")
    known = set(cls.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{path}: [{name}] 未知设置 {', '.join(sorted(unknown))}")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: [{name}] {exc}") from exc


def load_config(path: str | Path) -> Config:
    """Read the TOML config; relative paths are taken from the file's folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"配置文件不存在：{path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: 不是有效的 TOML：{exc}") from exc
    base = path.resolve().parent
    mailbox = _section(data, "mailbox", MailboxConfig, ("host", "port", "user", "password_env"), str(path))
    smtp = _section(data, "smtp", SmtpConfig, ("host", "port", "user", "password_env", "sender"), str(path))
    replies = _section(data, "replies", RepliesConfig, (), str(path)) or RepliesConfig()
    pdf = _section(data, "pdf", PdfConfig, (), str(path)) or PdfConfig()
    if not isinstance(pdf.ocr, bool) or not isinstance(pdf.workers, int) or pdf.workers < 0:
        raise ConfigError(f"{path}: [pdf] ocr 应为 true/false，workers 应为不小于 0 的整数")
    storage = data.get("storage", {})
    storage_dir = Path(os.environ.get("INTAKE_STORAGE_DIR") or storage.get("dir", "data"))
    campaign = data.get("campaign", {})
    if not isinstance(campaign, dict) or set(campaign) - {"rules"}:
        raise ConfigError(f"{path}: [campaign] 只有一个设置 rules（规则文件路径），如 rules = \"rules/xinxiang-2026.toml\"")
    rules = campaign.get("rules")
    if rules is not None and (not isinstance(rules, str) or not rules.strip()):
        raise ConfigError(f"{path}: [campaign] rules 应为规则文件的路径（加引号的文本），而不是 {rules!r}")
    rules_path = (base / rules) if rules else shipped("rules") / DEFAULT_RULES
    staff_raw = data.get("staff", {})
    return Config(
        storage_dir=storage_dir if storage_dir.is_absolute() else base / storage_dir,
        rules_path=rules_path,
        mailbox=mailbox,
        smtp=smtp,
        replies=replies,
        pdf=pdf,
        operator=str(staff_raw.get("operator", "")),
        staff=tuple(staff_raw.get("addresses", ())),
        alert_after_failures=int(staff_raw.get("alert_after_failures", 3)),
        alert_after_hours=float(staff_raw.get("alert_after_hours", 6)),
    )


def default_config(storage_dir: Path, rules_path: Path | None = None) -> Config:
    """The config `intake demo` uses: no servers, shipped rules."""
    return Config(storage_dir=storage_dir, rules_path=rules_path or shipped("rules") / DEFAULT_RULES)
