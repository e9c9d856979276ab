"""Load a call's rules file, validate it, and evaluate it.

Three kinds of failure are kept apart (as in cerberus): a bad rules file
raises RulesError when it loads; applicant data never raises; failed checks
come back as Findings.

What a rules file may say is declared here as data: the `[call]` keys
(CALL_KEYS), a schema per check for the parameters the check registers
(PARAM_SCHEMAS, down to the keys of list items), the codes the program acts
on (FIXED_CODES) and the codes the readers emit (READER_CODES). Loading
checks the file against them, then runs every rule once on sample data, so a
mistake stops `intake rules check` (and every command) with one line instead
of quietly switching a rule off when an applicant is judged.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import string
import typing
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import checks as _checks  # noqa: F401  (registers the checks)
from . import form_checks as _form_checks  # noqa: F401
from .checks import REGISTRY, REQUIRED, Call, CheckSpec, Context
from .config import read_toml
from .errors import RulesError
from .models import ERROR, UNOPENED_CODES, WARNING, Application, Document, Finding, PdfFacts, Section, SealEvidence, Submission
from .resources import shipped

SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Rule:
    code: str
    check: str
    severity: str
    params: dict[str, Any]
    message: str | dict[str, str] | None = None  # override of the check's template


@dataclass(frozen=True)
class Ruleset:
    call: Call
    rules: tuple[Rule, ...]
    path: str
    # Lines for the maintainer that do not stop a run (`intake rules check` prints them).
    warnings: tuple[str, ...] = ()

    def evaluate(self, ctx: Context) -> tuple[Finding, ...]:
        """Run every rule; a check that crashes becomes a staff-visible warning.

        When the Word file is not the call's form at all (`form_recognized`
        fails), the checks of the form's contents are skipped: one clear
        "wrong document" beats thirty "field missing".
        """
        out: list[Finding] = []
        wrong_form = False
        for rule in sorted(self.rules, key=lambda r: r.check != "form_recognized"):
            spec = REGISTRY[rule.check]
            if wrong_form and spec.func.__module__ == _form_checks.__name__:
                continue
            try:
                hits = list(spec.func(ctx, rule.params))
            except Exception as exc:  # a bug in a check must not stop the run
                # For staff only: a program error is no advice to the applicant.
                out.append(
                    Finding("check_failed", WARNING, f"规则 {rule.code} 检查出错：{type(exc).__name__}", "", staff_only=True)
                )
                continue
            wrong_form = wrong_form or (rule.check == "form_recognized" and bool(hits))
            for hit in hits:
                severity = hit.severity or rule.severity
                out.append(Finding(rule.code, severity, _render(rule, spec.messages, hit), hit.location, hit.staff_only))
        return tuple(out)


def _template(rule: Rule, messages: dict[str, str], variant: str) -> str:
    template = messages.get(variant) or messages.get("", "")
    if isinstance(rule.message, str):
        template = rule.message
    elif isinstance(rule.message, dict) and variant in rule.message:
        template = rule.message[variant]
    return template


def _render(rule: Rule, messages: dict[str, str], hit) -> str:
    template = _template(rule, messages, hit.variant)
    try:
        return template.format_map(hit.values)
    except (KeyError, IndexError, ValueError):
        return template


# -- what a rules file may say --------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """What one parameter (or one key of a list item) may hold.

    `type` None: the type the check registered (top-level params). `path`:
    a field of the Application, of kind "text" (a filled-in box), "section"
    (三/四/五, free text with a word count) or "any".
    """

    type: type | tuple[type, ...] | None = None
    required: bool = True  # for keys of a list item
    choices: tuple[str, ...] = ()
    path: str = ""
    minimum: float | None = None
    maximum: float | None = None
    regex: bool = False
    nonempty: bool = False
    each: Value | Item | None = None  # a list: what every element must be
    example: str = ""  # shown when the value has the wrong type


@dataclass(frozen=True)
class Item:
    """A table inside a list param, e.g. one entry of section_length's `sections`."""

    keys: dict[str, Value]


# Contact kinds form_checks.contact_format knows.
CONTACT_KINDS = _form_checks.CONTACT_KINDS

# Every code the readers (mime, forms/docx, forms/pdf, archives, run) put on a mail, a file or
# a form: the codes `reader_problems` can pass on. A test keeps this equal to the source.
READER_CODES = (
    "format_unreadable",
    "attachment_link_only",
    "mail_without_files",
    "mail_too_large",
    "mail_unparseable",
    "archive_unreadable",
    "attachment_too_large",
    "wrong_form",
    "pilot_type_unrecognized",
    "two_forms_in_word",
    "missing_stamp",
    "pdf_not_a4",
    "pdf_repaired",
    "seal_check_failed",
    "arrival_doubt",
)

_TEXT = Value(str, nonempty=True)
_LABEL = Value(str, required=False)
_SECTION_PATH = Value(str, path="section")

# Per check, what its params must hold beyond the type the check registered. Every list
# param has an item schema (a test checks that a newly registered check is covered).
PARAM_SCHEMAS: dict[str, dict[str, Value]] = {
    "file_present": {"kind": Value(choices=("word", "pdf"))},
    "reader_problems": {"codes": Value(nonempty=True, each=Value(str, choices=READER_CODES))},
    "unopened_attachments": {"codes": Value(nonempty=True, each=Value(str, choices=UNOPENED_CODES))},
    "pdf_matches_word": {"error_below": Value(minimum=0, maximum=1), "warn_below": Value(minimum=0, maximum=1)},
    "required_fields": {
        "fields": Value(nonempty=True, each=Item({"path": Value(str, path="any"), "section": _TEXT, "label": _LABEL})),
    },
    "section_length": {
        "sections": Value(
            nonempty=True,
            each=Item({"path": _SECTION_PATH, "section": _TEXT, "limit": Value(int, minimum=1, example="1500")}),
        ),
        "near": Value(minimum=0, maximum=0.5),
    },
    "budget_limit": {"limit": Value(minimum=1, example="4000"), "section": _TEXT},
    "budget_sum": {"section": _TEXT, "tolerance": Value(minimum=0)},
    "contact_format": {
        "fields": Value(
            nonempty=True,
            each=Item({"path": Value(str, path="text"), "kind": Value(str, choices=CONTACT_KINDS), "section": _TEXT, "label": _LABEL}),
        ),
        "participants_section": _TEXT,
        "email_pattern": Value(regex=True),
        "mobile_pattern": Value(regex=True),
        "landline_pattern": Value(regex=True),
        "account_min": Value(minimum=1),
        "account_max": Value(minimum=1),
    },
    "quantified": {"path": _SECTION_PATH, "section": _TEXT},
    "plan_minimums": {
        "path": _SECTION_PATH,
        "section": _TEXT,
        "window": Value(minimum=1),
        "requirements": Value(
            nonempty=True,
            each=Item(
                {
                    "label": _TEXT,
                    "requirement": _TEXT,
                    "example": _TEXT,
                    "anchors": Value(list, nonempty=True, each=Value(str, nonempty=True)),
                    "also": Value(list, required=False, each=Value(str, nonempty=True)),
                    "unit": Value(str, nonempty=True, regex=True, example='"个|项"'),
                    "min": Value(int, minimum=0, example="1"),
                }
            ),
        ),
    },
    "participant_phone": {"section": _TEXT},
    "pilot_type": {"location": _TEXT},
    "unit_name": {
        "fields": Value(nonempty=True, each=Item({"path": Value(str, path="text"), "section": _TEXT, "label": _LABEL})),
        "max_chars": Value(minimum=10, example="50"),
    },
}

# Pairs of params where the first may not exceed the second.
ORDERED_PARAMS = {"pdf_matches_word": ("error_below", "warn_below"), "contact_format": ("account_min", "account_max")}

# Values a check hands to its message beyond those its default templates show.
EXTRA_PLACEHOLDERS = {
    "pilot_type": {"choices", "count", "checked"},
    "required_fields": {"location"},
    "contact_format": {"location"},
    "participant_phone": {"location"},
    "seal_present": {"pages", "searched"},
}


@dataclass(frozen=True)
class Fixed:
    """A code the program acts on: only the rule with this check (and params) may carry it."""

    check: str
    params: dict[str, str]
    why: str  # what the program does with the code
    off: str = ""  # what no longer happens without the rule ("" = the rule is required)
    severity: str | None = None


FIXED_CODES: dict[str, Fixed] = {
    "late": Fixed("deadline", {}, "程序据此判为逾期、发逾期通知", severity=ERROR),
    "format_unreadable": Fixed("reader_problems", {"codes": "format_unreadable"}, "程序据此告诉申报单位哪个文件打不开、要重发"),
    "missing_word": Fixed("file_present", {"kind": "word"}, "程序据此只请申报单位补发 Word 版，并等待另一封邮件配对",
                          "不检查是否收到 Word 版"),
    "missing_pdf": Fixed("file_present", {"kind": "pdf"}, "程序据此只请申报单位补发盖章 PDF 版，并等待另一封邮件配对",
                         "不检查是否收到盖章 PDF 版"),
    "missing_stamp": Fixed("seal_present", {}, "程序据此只请申报单位补发盖章 PDF 版", "不检查 PDF 是否盖章"),
    "wrong_form": Fixed("form_recognized", {}, "程序据此在补正通知中附上空白申报书，并跳过其余内容检查",
                        "用错表格时不附空白申报书，而是逐项报“未填写”"),
    "attachment_link_only": Fixed("reader_problems", {"codes": "attachment_link_only"}, "程序据此请申报单位把云附件改为普通附件",
                                  "只发云附件链接的邮件得不到说明"),
    "mail_without_files": Fixed("reader_problems", {"codes": "mail_without_files"}, "程序据此把没有附件的来信列为待答复的咨询",
                                "没有附件的来信不在审核结论中提醒工作人员"),
    "archive_unreadable": Fixed("unopened_attachments", {"codes": "archive_unreadable"}, "程序据此说明 Word 或 PDF 未收到的原因",
                                "打不开的压缩包不在补正通知中说明"),
    "attachment_too_large": Fixed("unopened_attachments", {"codes": "attachment_too_large"}, "程序据此说明 Word 或 PDF 未收到的原因",
                                  "超过大小上限的附件不在补正通知中说明"),
}

# The [call] table: key -> (required, what it is). Types and formats are checked in _parse_call.
CALL_KEYS: dict[str, tuple[bool, str]] = {
    "id": (True, "征集的标识，如 xinxiang-2026-kjzyfw"),
    "name": (True, "征集名称，写进每封回复的标题和正文"),
    "notice_date": (True, "通知日期，如 2026-05-20；收信只看这一天及以后收到的邮件"),
    "deadline": (True, "截止时间，带时区，如 2026-05-15T17:00:00+08:00"),
    "timezone": (False, "时区，默认 Asia/Shanghai"),
    "mailbox": (True, "申报邮箱地址，写进回复"),
    "receipt_prefix": (True, "受理编号前缀，如 2026-KJZY"),
    "organizer": (True, "组织单位，回复的落款"),
    "contact": (True, "联系人和电话，写进回复"),
    "correction_window_days": (False, "补正期限（天），默认 3"),
    "pairing_window_minutes": (False, "配对窗口（分钟），默认 30"),
    "blank_form": (False, "空白申报书 .docx 的文件名"),
    "topic_words": (False, "判断无附件来信是否与本次征集有关的词（列表），默认 [\"申报\", \"申请\", \"试点\", \"志愿服务\"]"),
    "next_steps": (False, "受理回执中的“后续安排”一句，默认“市科协将根据申报情况择优确定试点单位，结果另行通知。”"),
    "late_closing": (False, "逾期通知的结束语，默认“欢迎贵单位继续关注市科协今后发布的相关通知。”"),
}


def _field_kinds(cls: type = Application, prefix: str = "") -> dict[str, str]:
    """Every dotted path of the Application a rule may name, with its kind."""
    hints = typing.get_type_hints(cls)
    out: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if f.name == "problems":
            continue
        typ = hints[f.name]
        if typ is Section:
            out[prefix + f.name] = "section"
        elif dataclasses.is_dataclass(typ):
            out.update(_field_kinds(typ, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = "text" if typ is str else "other"
    return out


FIELD_KINDS = _field_kinds()
_PATH_KINDS = {"section": ("section",), "text": ("text",), "any": ("section", "text", "other")}
_PATH_KIND_ZH = {"section": "可计字数的正文栏目（三、四、五）", "text": "文字栏目", "any": "栏目"}


def _type_name(typ) -> str:
    names = {str: "文本", int: "整数", float: "数字", bool: "true 或 false", list: "列表 [...]", dict: "表 {...}"}
    types = typ if isinstance(typ, tuple) else (typ,)
    if set(types) == {int, float}:
        return "数字"
    return " 或 ".join(names.get(t, t.__name__) for t in types)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _suggest(value: str, options) -> str:
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"（是不是 {close[0]}？）" if close else ""


def _check_value(value: Any, schema: Value, name: str, typ=None) -> Any:
    """Validate one value; return it (an int given for a float normalised); raise ValueError(Chinese)."""
    typ = schema.type or typ
    if typ is not None:
        types = typ if isinstance(typ, tuple) else (typ,)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            example = f"，如 {schema.example}" if schema.example else ""
            unit = "（不带单位）" if set(types) & {int, float} and isinstance(value, str) else ""
            raise ValueError(f"{name} 应为{_type_name(typ)}{unit}{example}，而不是 {_shown(value)}")
    if schema.nonempty and not (value.strip() if isinstance(value, str) else value):
        raise ValueError(f"{name} 不能为空")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if schema.minimum is not None and value < schema.minimum:
            raise ValueError(f"{name} 不能小于 {schema.minimum:g}，而不是 {_shown(value)}")
        if schema.maximum is not None and value > schema.maximum:
            raise ValueError(f"{name} 不能大于 {schema.maximum:g}，而不是 {_shown(value)}")
    if schema.choices and isinstance(value, str) and value not in schema.choices:
        if value.lower() in schema.choices:
            raise ValueError(f"{name} 应写小写的 {value.lower()}，而不是 {_shown(value)}")
        raise ValueError(f"{name} {_shown(value)} 不是可用的值{_suggest(value, schema.choices)}；可用：{'、'.join(schema.choices)}")
    if schema.path and isinstance(value, str):
        kinds = _PATH_KINDS[schema.path]
        allowed = [p for p, k in FIELD_KINDS.items() if k in kinds]
        if value not in allowed:
            if value in FIELD_KINDS:
                raise ValueError(f"{name} {_shown(value)} 不是{_PATH_KIND_ZH[schema.path]}；可用：{'、'.join(allowed)}")
            raise ValueError(f"{name} {_shown(value)} 不是申报书中的{_PATH_KIND_ZH[schema.path]}{_suggest(value, allowed)}；"
                             f"可用：{'、'.join(allowed)}")
    if schema.regex and isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{name} {_shown(value)} 不是有效的正则表达式（{exc}）") from None
    if schema.each is not None and isinstance(value, list):
        value = [_check_element(v, schema.each, name, n) for n, v in enumerate(value, 1)]
    return value


def _check_element(value: Any, schema: Value | Item, name: str, n: int) -> Any:
    if isinstance(schema, Value):
        return _check_value(value, schema, f"{name} 第 {n} 项")
    if not isinstance(value, dict):
        raise ValueError(f"{name} 第 {n} 项应为表 {{ {' = …, '.join(schema.keys)} = … }}，而不是 {_shown(value)}")
    named = [value[k] for k in ("section", "label") if isinstance(value.get(k), str) and value[k]]
    item = f"{name} 第 {n} 项" + (f"（{' / '.join(named)}）" if named else "")
    unknown = sorted(set(value) - set(schema.keys))
    if unknown:
        raise ValueError(f"{item}有不认识的键 {unknown[0]}{_suggest(unknown[0], schema.keys)}；可用：{'、'.join(schema.keys)}")
    missing = [k for k, v in schema.keys.items() if v.required and k not in value]
    if missing:
        raise ValueError(f"{item}缺少 {'、'.join(missing)}")
    return {k: _check_value(v, schema.keys[k], f"{item}的 {k}") for k, v in value.items()}


def placeholders(template: str) -> set[str]:
    """The {names} a message template uses; ValueError on unbalanced braces or nameless {}."""
    out = set()
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is None:
            continue
        base = re.match(r"[^.\[]*", field_name).group()
        if not base or base.isdigit():
            raise ValueError("花括号里要写值的名称，如 {limit}")
        out.add(base)
    return out


def message_values(spec: CheckSpec) -> dict[str, set[str]]:
    """Per variant of a check's message, the {names} an override may use."""
    extra = EXTRA_PLACEHOLDERS.get(spec.name, set())
    return {variant: placeholders(text) | extra for variant, text in spec.messages.items()}


def _check_message(message: Any, spec: CheckSpec) -> None:
    if message is None:
        return
    values = message_values(spec)
    variants = [v for v in spec.messages if v]

    def check_text(text: Any, allowed: set[str], where: str) -> None:
        if not isinstance(text, str):
            raise ValueError(f"{where} 应为文本")
        try:
            used = placeholders(text)
        except ValueError as exc:
            raise ValueError(f"{where} 的花括号有误：{exc}；要写花括号本身请写 {{{{ 或 }}}}") from None
        wrong = sorted(used - allowed)
        if wrong:
            shown = "、".join("{" + v + "}" for v in sorted(allowed)) or "（无）"
            differ = variants and set.union(*values.values()) != set.intersection(*values.values())
            hint = "；各种提示可用的值不同，可用表按种类分别写，如 message = { " + variants[0] + ' = "…" }' if differ and where == "message" else ""
            raise ValueError(f"{where} 中的 {'、'.join('{' + w + '}' for w in wrong)} 不是检查 {spec.name} 提供的值；可用：{shown}{hint}")

    if isinstance(message, str):
        check_text(message, set.intersection(*values.values()), "message")
    elif isinstance(message, dict):
        if not variants:
            raise ValueError(f"检查 {spec.name} 只有一种提示，message 请直接写文本")
        for key, text in message.items():
            if key not in variants:
                raise ValueError(f"message 的 {key} 不是检查 {spec.name} 的提示种类{_suggest(key, variants)}；可用：{'、'.join(variants)}")
            check_text(text, values[key], f"message 的 {key}")
    else:
        raise ValueError("message 应为文本或表")


# -- [call] -------------------------------------------------------------------------------------------

# Chinese names a maintainer may give a [call] key (the keys are English).
_CALL_KEY_ALIASES = {
    "名称": "name", "征集名称": "name", "截止时间": "deadline", "通知日期": "notice_date", "时区": "timezone",
    "邮箱": "mailbox", "申报邮箱": "mailbox", "受理编号前缀": "receipt_prefix", "组织单位": "organizer",
    "主办单位": "organizer", "落款": "organizer", "联系人": "contact", "联系电话": "contact", "电话": "contact",
    "联系方式": "contact", "补正期限": "correction_window_days", "空白申报书": "blank_form",
}
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def _parse_call(raw: dict[str, Any], path: str) -> Call:
    where = f"{path}: [call]"
    unknown = sorted(set(raw) - set(CALL_KEYS))
    if unknown:
        key = unknown[0]
        hint = f"（应写 {_CALL_KEY_ALIASES[key]}）" if key in _CALL_KEY_ALIASES else _suggest(key, CALL_KEYS)
        raise RulesError(f"{where} 有不认识的键 {key}{hint}；可用的键：{'、'.join(CALL_KEYS)}")
    missing = [k for k, (required, _) in CALL_KEYS.items() if required and k not in raw]
    if missing:
        raise RulesError(f"{where} 缺少 " + "、".join(f"{k}（{CALL_KEYS[k][1]}）" for k in missing))

    def text(key: str, default: str = "") -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise RulesError(f"{where} {key} 应为文本（加引号），而不是 {_shown(value)}")
        if key in raw and not value.strip():
            raise RulesError(f"{where} {key} 不能为空（{CALL_KEYS[key][1]}）")
        return value.strip()

    def number(key: str, default: float, unit: str, example: str) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RulesError(f"{where} {key} 应为数字（{unit}，不加引号和单位），如 {example}，而不是 {_shown(value)}")
        if value < 0:
            raise RulesError(f"{where} {key} 不能为负数：{value}")
        return float(value)

    deadline = _deadline(raw["deadline"], where)
    timezone = text("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RulesError(f"{where} timezone {_shown(timezone)} 不是有效的时区名称（IANA 时区，如 Asia/Shanghai；"
                         "没有 Asia/Beijing）") from None
    mailbox = text("mailbox")
    if not _ADDRESS.fullmatch(mailbox):
        raise RulesError(f"{where} mailbox 应为邮箱地址，如 kpzx350@163.com，而不是 {_shown(mailbox)}")
    prefix = text("receipt_prefix")
    if re.search(r"\s", prefix):
        raise RulesError(f"{where} receipt_prefix 不能含空格：{_shown(prefix)}")
    # The poll fetches only mail received since this date (jobs.call_published reads it the same way).
    notice = raw["notice_date"]
    if isinstance(notice, str):
        try:
            notice = date.fromisoformat(notice.strip())
        except ValueError:
            pass
    if isinstance(notice, datetime) or not isinstance(notice, date):
        raise RulesError(f"{where} notice_date 应为日期，如 2026-05-20，而不是 {_shown(notice)}")
    if notice > deadline.date():
        raise RulesError(f"{where} notice_date {notice} 晚于截止时间 {deadline.isoformat()}")
    return Call(
        id=text("id"),
        name=text("name"),
        notice_date=str(notice),
        deadline=deadline,
        timezone=timezone,
        mailbox=mailbox,
        receipt_prefix=prefix,
        organizer=text("organizer"),
        contact=text("contact"),
        correction_window=timedelta(days=number("correction_window_days", 3, "天", "5")),
        pairing_window=timedelta(minutes=number("pairing_window_minutes", 30, "分钟", "30")),
        blank_form=_blank_form(text("blank_form"), path, where),
        topic_words=_words(raw.get("topic_words", list(Call.topic_words)), where),
        next_steps=text("next_steps", Call.next_steps),
        late_closing=text("late_closing", Call.late_closing),
    )


def _words(value: Any, where: str) -> tuple[str, ...]:
    """topic_words: a non-empty list of non-empty words."""
    if not isinstance(value, list) or not value or not all(isinstance(w, str) and w.strip() for w in value):
        raise RulesError(f"{where} topic_words 应为不空的词语列表，如 [\"申报\", \"试点\"]，而不是 {_shown(value)}")
    return tuple(w.strip() for w in value)


def _deadline(value: Any, where: str) -> datetime:
    example = "如 2026-05-15T17:00:00+08:00"
    if isinstance(value, date) and not isinstance(value, datetime):
        raise RulesError(f"{where} deadline 只写了日期，请写明时刻和时区，{example}")
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", value):
            raise RulesError(f"{where} deadline 只写了日期，请写明时刻和时区，{example}")
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RulesError(f"{where} deadline 不是有效的时间：{_shown(value)}，{example}") from None
    if not isinstance(value, datetime):
        what = "只写了时刻" if isinstance(value, time) else "不是有效的时间"
        raise RulesError(f"{where} deadline {what}：{_shown(value)}，{example}")
    if value.tzinfo is None:
        raise RulesError(f"{where} deadline 必须带时区，例如 2025-06-23T23:59:59+08:00")
    return value


def blank_form_path(name: str, rules_path: str | Path) -> Path | None:
    """Where `[call] blank_form` is: beside the rules file first, then in templates/forms/."""
    for folder in (Path(rules_path).resolve().parent, shipped("templates") / "forms"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _blank_form(name: str, path: str, where: str) -> str:
    """The value Call.blank_form carries: the name under templates/forms/, or an absolute path.

    replies.blank_form_attachment joins it to templates/forms/, and joining an
    absolute path gives that path: a form kept beside the rules file (a wheel's
    templates/ is not for editing) is found the same way.
    """
    if not name:
        return ""
    found = blank_form_path(name, path)
    if found is None:
        raise RulesError(f"{where} blank_form 指定的空白申报书 {name} 不存在（规则文件所在目录和 templates/forms/ 下都没有）")
    if _form_paragraphs(found) is None:
        raise RulesError(f"{where} blank_form {name} 不是可以打开的 Word（.docx）文件")
    if found.parent == (shipped("templates") / "forms") and found.name == name:
        return name
    return str(found)


# -- [[rule]] -----------------------------------------------------------------------------------------


def _parse_rule(raw: dict[str, Any], where: str) -> Rule:
    for key in ("code", "check"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RulesError(f"{where}: 缺少 {key}")
    unknown_keys = set(raw) - {"code", "check", "severity", "params", "message"}
    if unknown_keys:
        raise RulesError(f"{where}: 未知字段 {', '.join(sorted(unknown_keys))}")
    code, check_name = raw["code"], raw["check"]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", code):
        raise RulesError(f"{where}: code {_shown(code)} 只能用小写英文字母、数字和下划线，如 budget_over_limit")
    where = f"{where} ({code})"
    spec = REGISTRY.get(check_name)
    if spec is None:
        raise RulesError(f"{where}: 未知的检查 {check_name!r}{_suggest(check_name, REGISTRY)}；可用：{', '.join(sorted(REGISTRY))}")
    severity = raw.get("severity", ERROR)
    if severity not in SEVERITIES:
        raise RulesError(f"{where}: severity 只能是 error 或 warning，而不是 {severity!r}")
    if not isinstance(raw.get("params", {}), dict):
        raise RulesError(f"{where}: params 应为表，如 params = {{ limit = 4000 }}")
    params = dict(raw.get("params", {}))
    extra = sorted(set(params) - set(spec.params))
    if extra:
        raise RulesError(f"{where}: 检查 {check_name} 不认识参数 {', '.join(extra)}{_suggest(extra[0], spec.params)}")
    schemas = PARAM_SCHEMAS.get(check_name, {})
    for name, (typ, default) in spec.params.items():
        if name not in params:
            if default is REQUIRED:
                raise RulesError(f"{where}: 检查 {check_name} 需要参数 {name}")
            params[name] = default
            continue
        try:
            params[name] = _check_value(params[name], schemas.get(name, Value()), f"参数 {name}", typ)
        except ValueError as exc:
            raise RulesError(f"{where}: {exc}") from None
    if check_name in ORDERED_PARAMS:
        low, high = ORDERED_PARAMS[check_name]
        if params[low] > params[high]:
            raise RulesError(f"{where}: 参数 {low}（{params[low]:g}）不能大于 {high}（{params[high]:g}）")
    message = raw.get("message")
    try:
        _check_message(message, spec)
    except ValueError as exc:
        raise RulesError(f"{where}: {exc}") from None
    return Rule(code, check_name, severity, params, message)


def _meaning(rule: Rule) -> str | None:
    """The fixed code this rule's check and params stand for, if any."""
    for code, fixed in FIXED_CODES.items():
        if rule.check != fixed.check:
            continue
        if all(v in rule.params.get(k, ()) if k == "codes" else rule.params.get(k) == v for k, v in fixed.params.items()):
            return code
    return None


def _fixed_shown(fixed: Fixed) -> str:
    params = "".join(f"，{k} = [\"{v}\"]" if k == "codes" else f"，{k} = \"{v}\"" for k, v in fixed.params.items())
    return f"check = \"{fixed.check}\"{params}"


def _check_fixed_codes(rules: list[Rule], wheres: dict[str, str], path: str) -> list[str]:
    """Codes the program acts on keep their meaning; return warnings for optional ones left out."""
    for rule in rules:
        where = wheres[rule.code]
        meaning = _meaning(rule)
        fixed = FIXED_CODES.get(rule.code)
        if meaning is not None and meaning != rule.code:
            raise RulesError(f"{where}: 这条规则（{_fixed_shown(FIXED_CODES[meaning])}）的 code 必须是 {meaning}"
                             f"（{FIXED_CODES[meaning].why}），不能改为 {rule.code}")
        if fixed is not None:
            if meaning != rule.code:
                raise RulesError(f"{where}: code {rule.code} 有固定含义（{fixed.why}），只能用于 {_fixed_shown(fixed)}")
            if "codes" in fixed.params and rule.params["codes"] != [rule.code]:
                raise RulesError(f"{where}: code {rule.code} 有固定含义，params.codes 只能是 [\"{rule.code}\"]；其他代码请另写一条规则")
            if fixed.severity and rule.severity != fixed.severity:
                raise RulesError(f"{where}: code {rule.code} 的 severity 必须是 {fixed.severity}（{fixed.why}）")
    present = {r.code for r in rules}
    missing = [c for c, f in FIXED_CODES.items() if not f.off and c not in present]
    if missing:
        raise RulesError(f"{path}: 规则文件必须有这些代码的规则：" + "；".join(
            f"{c}（{_fixed_shown(FIXED_CODES[c])}；{FIXED_CODES[c].why}）" for c in missing))
    return [
        f"{path}: 没有代码 {c} 的规则（{_fixed_shown(f)}）：{f.off}。如是有意（例如只收盖章 PDF 的征集）可忽略"
        for c, f in FIXED_CODES.items()
        if f.off and c not in present
    ]


# -- trial run and the blank form --------------------------------------------------------------------


def _trial_run(call: Call, rules: list[Rule], wheres: dict[str, str]) -> None:
    """Run every rule once on sample data: what the schemas missed fails here, not on an applicant."""
    from .samples.apps import sample_applications

    when = call.deadline - timedelta(days=1)
    doc = Document("0" * 64, "申报书.docx", "docx", 1, when, "0" * 64)
    pdf = Document("1" * 64, "申报书.pdf", "pdf", 1, when, "0" * 64)
    nothing = Submission("a@example.com", "a@example.com", None, None, when, when, None)
    both = Submission("a@example.com", "a@example.com", doc, pdf, when, when, when)
    contexts = [
        Context(call, nothing, None, None),
        Context(call, both, Application(), PdfFacts()),
        Context(call, both, sample_applications()[0], PdfFacts(pages=1, seal=SealEvidence("none"))),
    ]
    for rule in rules:
        spec = REGISTRY[rule.check]
        for ctx in contexts:
            try:
                for hit in spec.func(ctx, rule.params):
                    _template(rule, spec.messages, hit.variant).format_map(hit.values)
            except Exception as exc:
                raise RulesError(f"{wheres[rule.code]}: 用示例申报书试运行时出错（{type(exc).__name__}: {exc}），请检查这条规则的 params 和 message") from None


def _form_paragraphs(path: Path) -> list[str] | None:
    """The text of a .docx's paragraphs (tables included) in order; None if it is no .docx."""
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("word/document.xml")
            if info.file_size > 8 * 1024 * 1024:
                return None
            data = zf.read(info)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        root = etree.fromstring(data, parser)
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError, ValueError):
        return None
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    return ["".join(t.text or "" for t in p.iter(f"{w}t")) for p in root.iter(f"{w}p")]


def _yuan(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("，", ""))


def _blank_form_warnings(call: Call, rules: list[Rule], path: str) -> list[str]:
    """The blank form states limits (限 N 字, 不超过 N 元) that differ from the rules' ones."""
    if not call.blank_form:
        return []
    form = shipped("templates") / "forms" / call.blank_form  # as replies.blank_form_attachment finds it
    lines = _form_paragraphs(form) or []
    limits: dict[str, int] = {}
    budget: Decimal | None = None
    for rule in rules:
        if rule.check == "section_length" and rule.severity == ERROR and not rule.params.get("near"):
            for spec in rule.params["sections"]:
                limits.setdefault(re.sub(r"\s", "", spec["section"]), spec["limit"])
        elif rule.check == "budget_limit" and rule.severity == ERROR and budget is None:
            budget = Decimal(str(rule.params["limit"]))
    differ: list[str] = []
    heading = ""
    for line in lines:
        flat = re.sub(r"\s", "", line)
        heading = next((h for h in limits if flat.startswith(h)), heading)
        for m in re.finditer(r"限(\d[\d,，]*)字", flat):
            stated = int(_number(m.group(1)))
            if heading in limits and stated != limits[heading]:
                differ.append(f"{heading} 限 {stated} 字（规则 {limits[heading]} 字）")
        for m in re.finditer(r"不(?:超过|高于|得超过)(\d[\d,，]*(?:\.\d+)?)(万?)元", flat):
            stated = _number(m.group(1)) * (10000 if m.group(2) else 1)
            if budget is not None and stated != budget:
                differ.append(f"经费合计不超过 {_yuan(stated)} 元（规则 {_yuan(budget)} 元）")
    if not differ:
        return []
    return [f"{path}: 空白申报书 {form.name} 写的限额与本规则文件不一致：{'；'.join(dict.fromkeys(differ))}。"
            "随回复附上的模板会与规则矛盾，请换上本次通知的空白申报书（见 README“明年新征集怎么做”）"]


def load_rules(path: str | Path) -> Ruleset:
    """Read and validate a rules file; raise RulesError naming what is wrong."""
    path = str(path)
    data = read_toml(path, "规则文件", RulesError)  # Notepad's BOM loads; its "ANSI" (GBK) is refused saying how to re-save
    unknown = sorted(set(data) - {"call", "rule"})
    if unknown:
        raise RulesError(f"{path}: 不认识 {unknown[0]}{_suggest(unknown[0], ('call', 'rule'))}；规则文件只有 [call] 表和 [[rule]] 表")
    if not isinstance(data.get("call"), dict):
        raise RulesError(f"{path}: 缺少 [call] 表")
    call = _parse_call(data["call"], path)
    raws = data.get("rule", [])
    if not isinstance(raws, list):
        raise RulesError(f"{path}: 规则应写成 [[rule]]（两层方括号）")
    rules: list[Rule] = []
    wheres: dict[str, str] = {}
    for i, raw in enumerate(raws, 1):
        if not isinstance(raw, dict):
            raise RulesError(f"{path}: 第 {i} 条 [[rule]] 不是表")
        where = f"{path} 第 {i} 条规则"
        rule = _parse_rule(raw, where)
        if rule.code in wheres:
            raise RulesError(f"{path}: 规则代码 {rule.code!r} 重复")
        wheres[rule.code] = f"{where} ({rule.code})"
        rules.append(rule)
    if not rules:
        raise RulesError(f"{path}: 没有任何 [[rule]]")
    warnings = _check_fixed_codes(rules, wheres, path)
    _trial_run(call, rules, wheres)
    warnings += _blank_form_warnings(call, rules, path)
    return Ruleset(call=call, rules=tuple(rules), path=path, warnings=tuple(warnings))
