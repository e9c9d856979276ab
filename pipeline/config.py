"""The config file (TOML), read once into frozen records.

Secrets never live in the file: `password_env` names the environment variable
that holds the authorization code (授权码); `<VAR>_FILE` may point at a file
holding it instead (for systemd credentials / docker secrets).
"""
from __future__ import annotations

import codecs
import json
import math
import os
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any, get_type_hints

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
    max_mail_mb: float = 75.0  # the mail as sent: 163/QQ's 50 MB of attachments is ~69 MB in base64
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
            value = Path(os.environ[env + "_FILE"]).read_text(encoding="utf-8-sig").strip()  # Notepad writes a BOM
        except OSError as exc:
            raise ConfigError(f"无法读取 {env}_FILE：{exc}") from exc
    if value is None:
        raise ConfigError(f"环境变量 {env} 未设置（应保存邮箱授权码）")
    # `. ./secrets.env` of a file saved with Windows line ends leaves "\r" on the value, which the
    # server reads as a wrong 授权码; a 授权码 has no whitespace, so strip as the _FILE variant does.
    value = value.strip()
    if not value:
        # `export X=$CODE` with CODE unset: sent as a password it reads as a wrong 授权码.
        raise ConfigError(f"环境变量 {env} 是空的（应保存邮箱授权码；检查 cron 或 systemd 里设置它的那一行）")
    return value


_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+")


def plain_address(text: str) -> str | None:
    """The one address `text` names ("张老师 <zhang@xxkx.gov.cn>" or the bare address), lower-cased;
    None when it names none, or several (mail to a list would reach the first one only)."""
    if re.search(r"[,;，；]", text):
        return None
    addr = parseaddr(text)[1].strip().lower()
    return addr if _ADDRESS.fullmatch(addr) else None


def read_toml(path: str | Path, kind: str = "配置文件", error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """A TOML file of ours (config, rules) as staff save it on Windows: Notepad's "UTF-8 with BOM" and
    "Unicode" load; its "ANSI" (GBK on Chinese Windows) is refused in one line saying how to re-save it."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{kind}不存在：{path}") from exc
    except OSError as exc:
        raise error(f"无法读取{kind} {path}：{exc.strerror or exc}") from exc
    try:
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            raw.decode("gb18030")
            guess = "（像是记事本“ANSI”/GBK 保存的）"
        except UnicodeDecodeError:
            guess = ""
        raise error(f"{path}: {kind}不是 UTF-8 编码{guess}：请用记事本打开它，“另存为”时编码选 UTF-8，"
                    "保存后再运行") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: {_toml_problem(str(exc), text, kind)}") from exc


# What a Chinese input method types in place of TOML's own characters: its name and what to type.
IME_CHARACTERS = {
    "＝": ("全角等号", "英文的 ="), "“": ("中文引号", '英文的 "'), "”": ("中文引号", '英文的 "'),
    "＂": ("全角引号", '英文的 "'), "‘": ("中文单引号", "英文的 '"), "’": ("中文单引号", "英文的 '"),
    "，": ("中文逗号", "英文的 ,"), "［": ("全角方括号", "英文的 ["), "］": ("全角方括号", "英文的 ]"),
    "＃": ("全角井号", "英文的 #"), "｛": ("全角花括号", "英文的 {"), "｝": ("全角花括号", "英文的 }"),
    "\u3000": ("全角空格", "英文输入法下的普通空格（两者看起来一样），或删掉"),
    **{chr(0xFF10 + d): ("全角数字", "英文输入法下的数字 0-9") for d in range(10)},  # ３０
}


def _ime_characters(text: str) -> list[tuple[int, str]]:
    """(line, character) of each IME character outside strings and comments: a "，" inside a quoted
    text is the applicant's punctuation, not a mistake."""
    found, line, i, quote, opened = [], 1, 0, "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            if len(quote) == 1:
                # An unclosed one-line string: closed, most likely, by an IME quote ("imap.163.com”).
                found += [(line, c) for c in text[opened:i] if c in "“”＂"]
                quote = ""  # the parser says so; go on reading syntax
            line += 1
        elif quote:
            if quote[0] == '"' and ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            opened = i + 1
            i += len(quote) - 1
        elif ch == "#":
            while i + 1 < len(text) and text[i + 1] != "\n":
                i += 1
        elif ch in IME_CHARACTERS:
            found.append((line, ch))
        i += 1
    return found


def _toml_problem(reason: str, text: str, kind: str) -> str:
    """A TOML error in Chinese: the IME character on (or before) the failing line, named with what
    to type instead; otherwise the line and column, with the parser's words kept for a helper."""
    at = re.search(r"\(at line (\d+), column (\d+)\)", reason)
    failing = int(at.group(1)) if at else None
    found = _ime_characters(text)
    here = [(n, ch) for n, ch in found if n == failing] or [
        (n, ch) for n, ch in found if failing is None or n <= failing]
    if here:
        line = here[0][0]
        chars = dict.fromkeys(ch for n, ch in here if n == line)
        kinds: dict[tuple[str, str], list[str]] = {}
        for ch in chars:
            kinds.setdefault(IME_CHARACTERS[ch], []).append(f"「{ch}」")
        named = "；".join(f"{name}{''.join(shown)}，应为{instead}" for (name, instead), shown in kinds.items())
        what = "字符" if all(IME_CHARACTERS[ch][0] == "全角数字" for ch in chars) else "符号"
        return f"{kind}第 {line} 行有中文输入法打出的{what}：{named}。请切换到英文输入法重新输入后保存"
    if reason.startswith(("Cannot overwrite", "Cannot declare")):
        return _written_twice(text, failing, kind)
    if at and reason.startswith("Invalid value"):
        rows = text.splitlines()
        row = rows[failing - 1] if failing <= len(rows) else ""
        word = re.match(r"[A-Za-z]+", row[int(at.group(2)) - 1:])
        if word and word.group().lower() in ("true", "false"):  # ssl = True, as Python writes it
            return (f"{kind}第 {failing} 行的 {word.group()} 应写成小写的 {word.group().lower()}："
                    "true 和 false 只能用小写字母，不加引号")
    where = f"第 {at.group(1)} 行第 {at.group(2)} 列" if at else ""
    english = re.sub(r"\s*\(at line \d+, column \d+\)", "", reason)
    return f"{kind}{where}不符合 TOML 格式（{english}）：文本要加英文引号，等号、逗号、括号都用英文的"


_TABLE_ROW = re.compile(r"\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?")
_KEY_ROW = re.compile(r"\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _written_twice(text: str, failing: int | None, kind: str) -> str:
    """A key or table written twice ("Cannot overwrite a value", at the end of the file without a
    line) in one line naming it and both lines; the parser's line when our reading finds none."""
    def dotted(name: str) -> str:
        return ".".join(part.strip().strip("\"'") for part in name.split("."))

    seen: dict[str, int] = {}
    twice: list[tuple[int, int, str]] = []
    table = ""
    for n, row in enumerate(text.splitlines(), 1):
        if m := _TABLE_ROW.fullmatch(row):
            # Each [[rule]] is a table of its own: its keys may repeat the previous one's.
            table = dotted(m.group(2)) if m.group(1) == "[" else f"{dotted(m.group(2))}#{n}"
            name = f"[{table}]"
        elif m := _KEY_ROW.match(row):
            name = f"[{table.split('#')[0]}] {dotted(m.group(1))}" if table else dotted(m.group(1))
        else:
            continue
        place = f"{table}|{name}"
        if place in seen and "#" not in name:
            twice.append((n, seen[place], name))
        seen.setdefault(place, n)
    n, first, name = next((t for t in twice if t[0] == failing), None) or (twice[0] if twice else (failing, 0, ""))
    if not name:
        return f"{kind}{f'第 {n} 行' if n else ''}把同一个设置或表写了两次：每个设置、每个表只能写一次，请删去或合并重复的那一处后保存"
    if name.startswith("[") and name.endswith("]"):
        return (f"{kind}第 {n} 行又写了一次 {name}（第 {first} 行已经有）：同一个表只能写一次，"
                f"请把第 {n} 行下面的设置移到第 {first} 行的 {name} 下面，删去第 {n} 行")
    return f"{kind}第 {n} 行又写了一次 {name}（第 {first} 行已经写过）：同一个设置只能写一次，请删去不要的那一行后保存"


# What each table of the config may hold; the top level holds only these tables.
KEYS: dict[str, tuple[str, ...]] = {
    **{name: tuple(cls.__dataclass_fields__) for name, cls in
       (("mailbox", MailboxConfig), ("smtp", SmtpConfig), ("replies", RepliesConfig), ("pdf", PdfConfig))},
    "storage": ("dir",),
    "campaign": ("rules",),
    "staff": ("operator", "addresses", "alert_after_failures", "alert_after_hours"),
}


def _refuse_unknown(raw: dict[str, Any], name: str | None, path: str) -> None:
    """Unknown keys are typos: refused with the likely meant one, not ignored (an ignored
    `[storage] path` put the storage beside the config; `adresses` turned the alerts off)."""
    known = KEYS[name] if name else tuple(KEYS)
    unknown = sorted(set(raw) - set(known))
    if not unknown:
        return
    from .ruleset import _suggest  # the rules file's one way to say "did you mean"

    key = unknown[0]
    home = next((table for table, keys in KEYS.items() if table != name and key in keys), None)
    hint = ((f"（{key} 应写在 [{home}] 下）" if home else "") or _suggest(key, known)
            or f"（可写的{'设置' if name else '表'}：{'、'.join(known)}）")
    where = f"[{name}] 未知设置" if name else "未知的表或设置"
    raise ConfigError(f"{path}: {where} {'、'.join(unknown)}{hint}")


def _table(data: dict[str, Any], name: str, path: str) -> dict[str, Any] | None:
    raw = data.get(name)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{name}] 应为表")
    _refuse_unknown(raw, name, path)
    return raw


def _shown(value: Any) -> str:
    """A value as it is written in the TOML file ("zhang", 3, true), for the one-line refusals."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _staff_addresses(raw: Any, path: str) -> tuple[str, ...]:
    """`addresses = "zhang@…"` (one value written the natural way) is a list of one, not its letters."""
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if not isinstance(item, str) or plain_address(item) is None:
            raise ConfigError(f"{path}: [staff] addresses 中的 {_shown(item)} 不是一个邮箱地址；应写成 addresses = "
                              "[\"zhang@xxkx.gov.cn\"]，多个地址各加引号、用逗号隔开：[\"a@…\", \"b@…\"]")
    return tuple(item.strip() for item in items)


def _staff(data: dict[str, Any], path: str) -> dict[str, Any]:
    raw = _table(data, "staff", path) or {}
    hints, defaults = get_type_hints(Config), _defaults(Config)
    checked = {key: _checked("staff", key, raw[key], hints[key], defaults[key], path)
               for key in ("operator", "alert_after_failures", "alert_after_hours") if key in raw}
    return {**checked, "staff": _staff_addresses(raw.get("addresses", []), path)}


# What a refusal shows as the example for keys whose default is no example (required, or empty).
EXAMPLES: dict[str | tuple[str, str], Any] = {
    "host": "imap.163.com", "port": 993, "user": "kpzx350@163.com", "password_env": "INTAKE_IMAP_PASSWORD",
    "sender": "科普中心 <kpzx350@163.com>", "folders": ["已处理"], "operator": "科普中心",
    ("smtp", "host"): "smtp.163.com", ("smtp", "port"): 465, ("smtp", "password_env"): "INTAKE_SMTP_PASSWORD",
}
UNITS = {"timeout": "秒", "max_attachment_mb": "MB", "max_mail_mb": "MB", "alert_after_hours": "小时"}
# Numbers outside these are mistakes, not settings: per_minute = 0 stops all sending, port 0 is no port.
AT_LEAST = {"port": 1, "max_per_address_per_day": 1, "per_minute": 1, "per_run": 1, "per_day": 1, "workers": 0,
            "alert_after_failures": 1}
AT_MOST = {"port": 65535}
ABOVE_ZERO = frozenset({"timeout", "max_attachment_mb", "max_mail_mb", "alert_after_hours"})
NOT_EMPTY = frozenset({"host", "user", "password_env", "sender", "folder"})


def _kind(hint: Any) -> str:
    """bool, int, float, str, or "list" (of text) for a config field's type."""
    return hint.__name__ if hint in (bool, int, float, str) else "list"


def _example(table: str, key: str, default: Any) -> str:
    value = EXAMPLES.get((table, key), EXAMPLES.get(key, default))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _shown(list(value) if isinstance(value, tuple) else value)


def _expected(table: str, key: str, kind: str, default: Any) -> str:
    """What a key wants, in the words of the one-line refusal: 应为不小于 1 的整数（如 5）."""
    example = _example(table, key, default)
    if kind == "bool":
        return "应为 true 或 false"
    if kind == "str":
        return f"应为加引号的文本{'（不能为空）' if key in NOT_EMPTY else ''}，如 {key} = {example}"
    if kind == "list":
        return f"应为加引号的文本列表，如 {key} = {example}"
    if key in AT_MOST:
        limits = f" {AT_LEAST[key]} 到 {AT_MOST[key]} 之间的"
    elif key in AT_LEAST:
        limits = f"不小于 {AT_LEAST[key]} 的"
    else:
        limits = "大于 0 的" if key in ABOVE_ZERO else ""
    unit = f"单位：{UNITS[key]}，" if key in UNITS else ""
    return f"应为{limits}{'整数' if kind == 'int' else '数字'}（{unit}如 {example}）"


def _quoted_but_fine(text: str, kind: str) -> bool:
    """"5" or "false": the right value in quotes (Windows staff quote everything), not "30MB"."""
    if kind == "bool":
        return text.strip() in ("true", "false")
    try:
        (int if kind == "int" else float)(text)
    except ValueError:
        return False
    return True


def _checked(table: str, key: str, value: Any, hint: Any, default: Any, path: str) -> Any:
    """`value` as the field wants it, or one line naming the table, key, the value given and what
    is expected: `timeout = "20秒"` reached the socket and `ssl = "false"` was read as true."""
    kind = _kind(hint)
    if kind == "list" and isinstance(value, str):
        value = [value]  # `folders = "已处理"` is a list of one, not one folder per character
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = number and isinstance(value, int) and AT_LEAST.get(key, value) <= value <= AT_MOST.get(key, value)
    elif kind == "float":
        ok = number and math.isfinite(value) and (value > 0 if key in ABOVE_ZERO else True)
    elif kind == "str":
        ok = isinstance(value, str) and (bool(value.strip()) or key not in NOT_EMPTY)
    else:
        ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
    if ok:
        return float(value) if kind == "float" else tuple(value) if kind == "list" else value
    quotes = ""
    if isinstance(value, str) and kind in ("bool", "int", "float"):
        if _quoted_but_fine(value, kind):
            quotes = "，不要加引号"
        else:  # a switch has no unit: "是" is true
            quotes = "，不加引号（是写 true，否写 false）" if kind == "bool" else "，不加引号、不带单位"
    raise ConfigError(f"{path}: [{table}] {key} {_expected(table, key, kind, default)}{quotes}：现在是 {_shown(value)}")


def _defaults(cls) -> dict[str, Any]:
    return {f.name: (f.default if f.default is not MISSING else None) for f in fields(cls)}


def _section(data: dict[str, Any], name: str, cls, required: tuple[str, ...], path: str):
    raw = data.get(name)
    if raw is None:
        return None
    if isinstance(raw, dict) and "password" in raw:
        raise ConfigError(f"{path}: [{name}] 不允许写 password；请用 password_env 指向环境变量")
    raw = _table(data, name, path)
    missing = [k for k in required if k not in raw]
    if missing:
        raise ConfigError(f"{path}: [{name}] 缺少 {', '.join(missing)}")
    hints, defaults = get_type_hints(cls), _defaults(cls)
    return cls(**{key: _checked(name, key, value, hints[key], defaults[key], path) for key, value in raw.items()})


def load_config(path: str | Path) -> Config:
    """Read the TOML config; relative paths are taken from the file's folder."""
    path = Path(path)
    data = read_toml(path)
    _refuse_unknown(data, None, str(path))
    base = path.resolve().parent
    mailbox = _section(data, "mailbox", MailboxConfig, ("host", "port", "user", "password_env"), str(path))
    smtp = _section(data, "smtp", SmtpConfig, ("host", "port", "user", "password_env", "sender"), str(path))
    replies = _section(data, "replies", RepliesConfig, (), str(path)) or RepliesConfig()
    pdf = _section(data, "pdf", PdfConfig, (), str(path)) or PdfConfig()
    folder = (_table(data, "storage", str(path)) or {}).get("dir", "data")
    if not isinstance(folder, str) or not folder.strip():
        raise ConfigError(f"{path}: [storage] dir 应为存放数据的文件夹（加引号的路径），如 dir = \"data\"：现在是 {_shown(folder)}")
    storage_dir = Path(os.environ.get("INTAKE_STORAGE_DIR") or folder)
    campaign = _table(data, "campaign", str(path)) or {}
    rules = campaign.get("rules")
    if rules is not None and (not isinstance(rules, str) or not rules.strip()):
        raise ConfigError(f"{path}: [campaign] rules 应为规则文件的路径（加引号的文本），如 rules = \"xinxiang-2026.toml\"：现在是 {_shown(rules)}")
    rules_path = (base / rules) if rules else shipped("rules") / DEFAULT_RULES
    return Config(
        storage_dir=storage_dir if storage_dir.is_absolute() else base / storage_dir,
        rules_path=rules_path,
        mailbox=mailbox,
        smtp=smtp,
        replies=replies,
        pdf=pdf,
        **_staff(data, str(path)),
    )


def default_config(storage_dir: Path, rules_path: Path | None = None) -> Config:
    """The config `intake demo` uses: no servers, shipped rules."""
    return Config(storage_dir=storage_dir, rules_path=rules_path or shipped("rules") / DEFAULT_RULES)
