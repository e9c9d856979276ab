"""Load a call's rules file and evaluate it.

Three kinds of failure are kept apart (as in cerberus): a bad rules file
raises RulesError when it loads; applicant data never raises; failed checks
come back as Findings.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import checks as _checks  # noqa: F401  (registers the checks)
from . import form_checks as _form_checks  # noqa: F401
from .checks import REGISTRY, REQUIRED, Call, Context
from .errors import RulesError
from .models import ERROR, WARNING, Finding

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


def _render(rule: Rule, messages: dict[str, str], hit) -> str:
    template = messages.get(hit.variant) or messages.get("", "")
    if isinstance(rule.message, str):
        template = rule.message
    elif isinstance(rule.message, dict) and hit.variant in rule.message:
        template = rule.message[hit.variant]
    try:
        return template.format_map(hit.values)
    except (KeyError, IndexError, ValueError):
        return template


def _parse_call(raw: dict[str, Any], path: str) -> Call:
    def need(key: str) -> Any:
        if key not in raw:
            raise RulesError(f"{path}: [call] 缺少 {key}")
        return raw[key]

    deadline_raw = need("deadline")
    try:
        deadline = deadline_raw if isinstance(deadline_raw, datetime) else datetime.fromisoformat(str(deadline_raw))
    except ValueError as exc:
        raise RulesError(f"{path}: [call] deadline 不是有效的时间：{deadline_raw!r}") from exc
    if deadline.tzinfo is None:
        raise RulesError(f"{path}: [call] deadline 必须带时区，例如 2025-06-23T23:59:59+08:00")
    return Call(
        id=str(need("id")),
        name=str(need("name")),
        notice_date=str(raw.get("notice_date", "")),
        deadline=deadline,
        timezone=str(raw.get("timezone", "Asia/Shanghai")),
        mailbox=str(raw.get("mailbox", "")),
        receipt_prefix=str(raw.get("receipt_prefix", "RCPT")),
        organizer=str(raw.get("organizer", "")),
        contact=str(raw.get("contact", "")),
        correction_window=timedelta(days=float(raw.get("correction_window_days", 3))),
        pairing_window=timedelta(minutes=float(raw.get("pairing_window_minutes", 30))),
        blank_form=str(raw.get("blank_form", "")),
    )


def _parse_rule(raw: dict[str, Any], where: str) -> Rule:
    for key in ("code", "check"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RulesError(f"{where}: 缺少 {key}")
    unknown_keys = set(raw) - {"code", "check", "severity", "params", "message"}
    if unknown_keys:
        raise RulesError(f"{where}: 未知字段 {', '.join(sorted(unknown_keys))}")
    code, check_name = raw["code"], raw["check"]
    spec = REGISTRY.get(check_name)
    if spec is None:
        raise RulesError(f"{where} ({code}): 未知的检查 {check_name!r}；可用：{', '.join(sorted(REGISTRY))}")
    severity = raw.get("severity", ERROR)
    if severity not in SEVERITIES:
        raise RulesError(f"{where} ({code}): severity 只能是 error 或 warning，而不是 {severity!r}")
    params = dict(raw.get("params", {}))
    extra = set(params) - set(spec.params)
    if extra:
        raise RulesError(f"{where} ({code}): 检查 {check_name} 不认识参数 {', '.join(sorted(extra))}")
    for name, (typ, default) in spec.params.items():
        if name not in params:
            if default is REQUIRED:
                raise RulesError(f"{where} ({code}): 检查 {check_name} 需要参数 {name}")
            params[name] = default
        elif not isinstance(params[name], typ) or isinstance(params[name], bool) and typ in (int, float):
            raise RulesError(f"{where} ({code}): 参数 {name} 类型应为 {_type_name(typ)}")
    message = raw.get("message")
    if message is not None and not isinstance(message, (str, dict)):
        raise RulesError(f"{where} ({code}): message 应为文本或表")
    return Rule(code, check_name, severity, params, message)


def _type_name(typ) -> str:
    if isinstance(typ, tuple):
        return " 或 ".join(t.__name__ for t in typ)
    return typ.__name__


def load_rules(path: str | Path) -> Ruleset:
    """Read and validate a rules file; raise RulesError naming what is wrong."""
    path = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise RulesError(f"规则文件不存在：{path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: 不是有效的 TOML：{exc}") from exc
    if not isinstance(data.get("call"), dict):
        raise RulesError(f"{path}: 缺少 [call] 表")
    call = _parse_call(data["call"], path)
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rule", []), 1):
        if not isinstance(raw, dict):
            raise RulesError(f"{path}: 第 {i} 条 [[rule]] 不是表")
        rule = _parse_rule(raw, f"{path} 第 {i} 条规则")
        if rule.code in seen:
            raise RulesError(f"{path}: 规则代码 {rule.code!r} 重复")
        seen.add(rule.code)
        rules.append(rule)
    if not rules:
        raise RulesError(f"{path}: 没有任何 [[rule]]")
    return Ruleset(call=call, rules=tuple(rules), path=path)
