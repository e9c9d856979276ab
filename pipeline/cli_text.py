"""click's own words in Chinese: the help page's headings and the usage errors.

Staff read Chinese; click speaks English ("Missing option '--config'", "Show this message and
exit."). The commands use these classes, and `usage_lines` turns a `click.UsageError` into one
line saying what is wrong and what to write, plus the command's usage line.
"""
from __future__ import annotations

import ast
import os
import re
from typing import Any

import click

HELP_TEXT = "显示这段说明后退出"
HEADINGS = {"Options": "选项", "Commands": "命令"}
EXTRAS = {"required": "必填"}
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


class ZhFormatter(click.HelpFormatter):
    """Usage line, headings and the "[default: …]" notes of the help page in Chinese."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, "用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{HEADINGS.get(heading, heading)}：\n")

    def write_dl(self, rows, *args, **kwargs) -> None:
        super().write_dl([(term, _extras(text)) for term, text in rows], *args, **kwargs)


def _extras(text: str) -> str:
    """"… [default: html; required]" → "… [默认：html；必填]"."""
    m = re.search(r"\s*\[([^\[\]]*)\]$", text)
    if not m:
        return text
    items = [f"默认：{item[len('default: '):]}" if item.startswith("default: ") else EXTRAS.get(item, item)
             for item in m.group(1).split("; ")]
    return f"{text[:m.start()]}  [{'；'.join(items)}]"


class ZhContext(click.Context):
    formatter_class = ZhFormatter


class ZhCommand(click.Command):
    """A command whose help page and usage line are Chinese."""

    context_class = ZhContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[选项]")
        super().__init__(*args, **kwargs)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.ctx is None:  # the option parser raises without one: the usage line needs it
                exc.ctx, exc.cmd = ctx, self
            raise


class ZhGroup(ZhCommand, click.Group):
    """The `intake` group: its commands and subgroups are Chinese too."""

    command_class = ZhCommand
    group_class = type  # subgroups (rules, replies) are ZhGroups

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **kwargs)


def usage_lines(exc: click.UsageError, argv: list[str]) -> list[str]:
    """One line saying what is wrong and what to write, then the command's usage line."""
    lines = [f"错误：{_what(exc, argv)}"]
    if exc.ctx is not None:
        usage = " ".join(exc.ctx.get_usage().split())
        lines.append(f"{usage}（{exc.ctx.command_path} -h 查看说明）")
    return lines


def _what(exc: click.UsageError, argv: list[str]) -> str:
    ctx = exc.ctx
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        return _missing(exc.param, ctx)
    if isinstance(exc, click.NoSuchOption):
        return _no_such_option(exc, ctx, argv)
    if isinstance(exc, click.NoSuchCommand):
        guess = f"（是不是 {exc.possibilities[0]}？）" if exc.possibilities else ""
        return f"没有 {exc.command_name} 这个命令{guess}" + _commands(ctx)
    if isinstance(exc, click.BadOptionUsage):
        return _bad_option_usage(exc, ctx)
    if isinstance(exc, click.BadParameter):
        return _bad_parameter(exc)
    message = exc.message
    extra = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)", message)
    if extra:
        return f"多余的参数：{extra.group(1)}（一个值里有空格时，要把整个值加上引号，如 --note \"请补充 盖章页\"）"
    if message == "Missing command.":
        return "缺少命令名" + _commands(ctx)
    if CHINESE.search(message):
        return message  # our own (import of an Outlook .msg, XLSX to a terminal)
    return f"命令写法不对：{message}"


def _commands(ctx: click.Context | None) -> str:
    if ctx is None or not isinstance(ctx.command, click.Group):
        return ""
    return f"；可用的命令：{'、'.join(ctx.command.list_commands(ctx))}"


def _name(param: click.Parameter) -> str:
    return max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name


def _missing(param: click.Parameter, ctx: click.Context | None) -> str:
    name = _name(param)
    if isinstance(param, click.Option):
        example = (f"，如 {ctx.command_path} --config intake.toml" if ctx is not None and param.name == "config_path"
                   else "")
        return f"缺少选项 {name}" + (f"（{param.help}）" if param.help else "") + example
    choices = getattr(param.type, "choices", None)
    return f"缺少参数 {name}" + (f"（可写 {'、'.join(map(str, choices))}）" if choices else "")


def _no_such_option(exc: click.NoSuchOption, ctx: click.Context | None, argv: list[str]) -> str:
    """An option in the wrong place (`intake --config x status`) says where it goes."""
    name = exc.option_name
    if ctx is not None and isinstance(ctx.command, click.Group) and ctx.parent is None:
        command = next((a for a in argv if a in ctx.command.commands), None)
        takers = [c for c in ctx.command.commands.values() if any(name in p.opts for p in c.params)]
        if takers:
            where = f"{ctx.command_path} {command or takers[0].name} {name}"
            return f"选项 {name} 要写在命令名之后，如 {where} …"
    if ctx is not None and ctx.parent is not None:
        root = ctx.find_root()
        if any(name in p.opts for p in root.command.params):
            # The whole command after it (replies resend, rules check), not its last word.
            return f"选项 {name} 要写在命令名之前，如 {root.command_path} {name} {ctx.command_path.removeprefix(root.command_path).strip()} …"
    guess = f"（是不是 {exc.possibilities[0]}？）" if exc.possibilities else ""
    return f"没有 {name} 这个选项{guess}"


def _option(ctx: click.Context | None, name: str) -> click.Option | None:
    if ctx is None:
        return None
    return next((p for p in ctx.command.get_params(ctx)
                 if isinstance(p, click.Option) and name in (*p.opts, *p.secondary_opts)), None)


def _bad_option_usage(exc: click.BadOptionUsage, ctx: click.Context | None) -> str:
    name = exc.option_name
    option = _option(ctx, name)
    if option is not None and (option.is_flag or name in option.secondary_opts or option.count):
        return f"选项 {name} 后面不带值，只写 {name} 本身"
    if option is not None:
        return f"选项 {name} 后面要写一个值" + (f"（{option.help}）" if option.help else "")
    return f"选项 {name} 的写法不对"


QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")


def _given(message: str) -> str | None:
    """The value click quotes first in its message ("'通过' is not one of …")."""
    m = QUOTED.search(message)
    if not m:
        return None
    try:
        return str(ast.literal_eval(m.group()))
    except (ValueError, SyntaxError):
        return None


def _bad_parameter(exc: click.BadParameter) -> str:
    param = exc.param
    name = _name(param) if param is not None else exc.param_hint if isinstance(exc.param_hint, str) else ""
    where = f"{name}：" if name else ""
    if CHINESE.search(QUOTED.sub("", exc.message)):
        return f"{where}{exc.message}"  # our own, e.g. 无法识别的时间
    value = _given(exc.message)
    shown = f"“{value}”" if value is not None else "这个值"
    kind = param.type if param is not None else None
    if isinstance(kind, click.Choice):
        who = f"{name} " if isinstance(param, click.Option) else "这里"
        return f"{who}只能写 {'、'.join(map(str, kind.choices))} 之一，现在是{shown}"
    if isinstance(kind, click.types.IntParamType):
        return f"{name} 应为整数（如 3），现在是{shown}"
    if isinstance(kind, click.Path) and value is not None:
        if not os.path.exists(value):
            return f"{where}找不到文件 {value}（请检查路径和文件名）"
        if os.path.isdir(value) and not kind.dir_okay:
            return f"{where}{value} 是文件夹，这里要写一个文件"
        if not os.path.isdir(value) and not kind.file_okay:
            return f"{where}{value} 是文件，这里要写一个文件夹"
        return f"{where}无法读取 {value}（没有权限？）"
    return f"{name} 的值不对：{exc.message}" if name else f"值不对：{exc.message}"
