"""The `intake` command: a thin click layer over the library.

`main(argv) -> int`: 0 success, 1 operational failure (one line on stderr),
2 usage error. Only `__main__` exits.
"""
from __future__ import annotations

import logging
import os
import re
import sqlite3
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from .cli_text import ZhGroup, usage_lines
from .config import Config, load_config
from .errors import IntakeError


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="配置文件 intake.toml"
)


@click.group(cls=ZhGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="更多日志（-v 信息，-vv 调试）")
def cli(verbose: int) -> None:
    """intake：申报邮件自动受理（收信、检查、登记、回复、汇总）。"""
    _setup_logging(verbose)


def _report(stats, *, dry_run: bool) -> None:
    prefix = "[试运行，未做任何改动] " if dry_run else ""
    click.echo(
        f"{prefix}新邮件 {stats.fetched} 封：申报 {stats.applications}，不回复 {stats.no_reply}，"
        f"其他 {stats.other}，重复 {stats.duplicates}；生成回复 {stats.replies_queued} 封，发送 {stats.replies_sent} 封"
        + (f"；另有 {stats.replies_held} 封暂缓（24 小时内已向同一地址回复过多，满 24 小时后补发）" if stats.replies_held else "")
    )
    if dry_run:
        for r in stats.rendered:
            click.echo(f"  将回复 {r['to']}：{r['subject']}")


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="只预览：收信、检查、生成回复，但不发送、不改动任何数据")
@click.option("--silent", is_flag=True, help="不显示进度")
def poll(config_path: Path, dry_run: bool, silent: bool) -> None:
    """收取邮箱中的新邮件并处理一遍（供 cron 定时运行）。"""
    from .jobs import poll as run_poll

    cfg = load_config(config_path)
    stats = run_poll(cfg, dry_run=dry_run, progress=not silent and sys.stderr.isatty())
    _report(stats, dry_run=dry_run)
    if stats.error:
        raise IntakeError(stats.error)


@cli.command("import")
@config_option
@click.option("--received", help="按此时间判断是否逾期，须写明日期和时刻（如 2025-06-23 18:00 或 2025年6月23日 18:00，"
              "不写时区即为北京时间）；默认取邮件最上面的 Received 投递记录，没有时取 Date")
@click.option("--dry-run", is_flag=True, help="只预览，不发送、不改动任何数据")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cmd(config_path: Path, received: str | None, dry_run: bool, files: tuple[Path, ...]) -> None:
    """处理从网页邮箱保存的 .eml 文件（补录）。"""
    from .jobs import import_files

    cfg = load_config(config_path)
    when = _parse_when(received) if received else None
    outlook = [str(f) for f in files if _is_outlook_msg(f)]
    if outlook:
        raise click.UsageError("以下是 Outlook 的 .msg 文件，不是 .eml：" + "、".join(outlook)
                               + "。请在 Outlook 中打开邮件，“另存为”.eml（或把邮件拖到桌面）后再导入。")
    stats = import_files(cfg, list(files), received_at=when, dry_run=dry_run)
    _report(stats, dry_run=dry_run)
    if stats.error:
        raise IntakeError(stats.error)


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Outlook .msg (and old .doc/.xls) files


def _is_outlook_msg(path: Path) -> bool:
    """An Outlook .msg is a compound file, not MIME: read as mail it would be a mail from nobody."""
    with open(path, "rb") as fh:
        return fh.read(8) == OLE_MAGIC


# --received as staff write it: ISO 8601, 2025/06/23 23:30, 2025年6月23日 23:30 or 23时30分;
# the time of day is required (a bare date would silently mean 00:00, the day's first second).
WHEN = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:T|\s)\s*|(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
)
WHEN_TIME = re.compile(r"(\d{1,2})\s*[:时点]\s*(\d{1,2})\s*分?\s*(?::\s*(\d{1,2})(?:\.\d+)?|(\d{1,2})\s*秒)?\s*(Z|[+-]\d{2}:?\d{2})?")
WHEN_EXAMPLE = "如 2025-06-23 23:30 或 2025年6月23日 23:30（不写时区即为北京时间）"


def _parse_when(text: str) -> datetime:
    """The --received time; without a zone it is Beijing time. Dates without a time of day
    and anything unreadable are refused with an example, never guessed."""
    from .mime import parse_date

    shown = text.strip()
    value = unicodedata.normalize("NFKC", shown)  # full-width digits and colons from a Chinese IME
    date_part = WHEN.match(value)
    time_part = WHEN_TIME.fullmatch(value, date_part.end()) if date_part else None
    if date_part and time_part:
        y, mo, d = (int(g) for g in (date_part.group(1, 2, 3) if date_part.group(1) else date_part.group(4, 5, 6)))
        h, mi, sec_colon, sec_word, zone = time_part.groups()
        if zone:
            sign = -1 if zone[0] == "-" else 1
            tz = timezone.utc if zone == "Z" else timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
        else:
            tz = ZoneInfo("Asia/Shanghai")
        try:
            return datetime(y, mo, d, int(h), int(mi), int(sec_colon or sec_word or 0), tzinfo=tz)
        except ValueError:
            pass  # 2025-02-30, 24:00: refused below
    elif re.search(r"\d:\d\d", value) and (rfc := parse_date(value)) is not None:
        return rfc  # RFC 2822, as in a mail's Date: Mon, 23 Jun 2025 23:30:00 +0800
    elif re.fullmatch(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?", value):
        raise click.BadParameter(f"“{shown}”只有日期，没有时刻：请写明收到的时刻，{WHEN_EXAMPLE}", param_hint="--received")
    raise click.BadParameter(f"无法识别的时间“{shown}”：请写明日期和时刻，{WHEN_EXAMPLE}", param_hint="--received")


SUMMARY_FORMATS = {"html": (".html", ".htm"), "xlsx": (".xlsx",), "csv": (".csv",), "json": (".json",)}


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(list(SUMMARY_FORMATS), case_sensitive=False), default=None,
              help="html、xlsx、csv 或 json；不写时按 --out 的扩展名，不写 --out 时为 html")
# --out may name a folder as far as click goes: _out_folder says so in one line, exit 1 (a writing problem).
@click.option("--out", type=click.Path(path_type=Path), help="写入文件（如 汇总.xlsx）；不写则输出到屏幕")
def summary(config_path: Path, fmt: str | None, out: Path | None) -> None:
    """输出受理汇总表（HTML、XLSX、CSV 或 JSON）。"""
    from .store import Store
    from .summary import render

    fmt = _summary_format(fmt, out)
    cfg = load_config(config_path)
    if out is not None:
        _out_folder(out)  # before the HTML's file copies are made beside it
    _warn_if_no_mail(cfg)
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        data = render(store, fmt, out=out if fmt == "html" else None)
    finally:
        store.close()
    _write(data, out, fmt)


def _summary_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else the one `--out` names: `--out 汇总.xlsx` alone wrote HTML into the .xlsx."""
    suffix = out.suffix.lower() if out is not None else ""
    named = next((name for name, suffixes in SUMMARY_FORMATS.items() if suffix in suffixes), None)
    ctx = click.get_current_context(silent=True)
    if out is not None and _only_extension(out):
        raise click.UsageError(f"--out 只写了扩展名 {out.name}，没有文件名：请写成 汇总{out.name} 这样的文件名", ctx=ctx)
    if fmt is None:
        if suffix and named is None:
            raise click.UsageError(f"不认识 --out 的扩展名 {out.suffix}：请写 .html、.xlsx、.csv 或 .json，"
                                   "或用 --format 指定格式", ctx=ctx)
        return named or "html"
    fmt = fmt.lower()
    if named is not None and named != fmt:
        raise click.UsageError(f"--format {fmt} 与 --out 的文件名 {out.name} 不符：去掉 --format 即按扩展名输出 {named}，"
                               f"或把文件名改为 .{fmt}", ctx=ctx)
    return fmt


def _warn_if_no_mail(cfg: Config) -> None:
    """A [storage] dir (or INTAKE_STORAGE_DIR) that is not the poll's gave an empty table and exit 0:
    say on stderr that the database holds no mail, and where it was looked for."""
    count = 0
    if cfg.db_path.exists():
        try:
            conn = sqlite3.connect(cfg.db_path.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
            try:
                count = conn.execute("SELECT COUNT(*) FROM mails").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            return  # opening the store says what is wrong with it
    if count:
        return
    where = "（由环境变量 INTAKE_STORAGE_DIR 指定）" if os.environ.get("INTAKE_STORAGE_DIR") else "（配置 [storage] dir）"
    click.echo(f"提醒：数据目录 {cfg.storage_dir}{where}里还没有收到过任何邮件，汇总是空的；"
               "如果已经收过信，请检查这个目录是否就是收信时用的数据目录", err=True)


def _only_extension(out: Path) -> bool:
    """`--out .xlsx`: a name that is only an extension (Path reads it as a hidden file without one)."""
    return re.fullmatch(r"\.[^.]+", out.name) is not None


def _out_folder(out: Path, example: str = "汇总.html") -> None:
    """The folder `out` goes into, made if missing; `out` itself a folder, or a part of its path
    that is a file, is one line (exit 1: a writing problem, as the README says)."""
    if out.is_dir():
        raise IntakeError(f"无法写入 {out}：这是一个已有的文件夹；请在后面写上文件名，如 {out / example}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise  # _main names whose folder it is
    except OSError as exc:
        raise IntakeError(f"无法写入 {out}：{_write_reason(out, exc)}") from exc


def _write_file(out: Path, data: bytes) -> None:
    """`--out` written, or one Chinese line (a folder that is a file, a full disk), not a traceback."""
    _out_folder(out)
    try:
        out.write_bytes(data)
    except PermissionError:
        raise
    except OSError as exc:
        raise IntakeError(f"无法写入 {out}：{_write_reason(out, exc)}") from exc


def _write_reason(out: Path, exc: OSError) -> str:
    import errno

    blocking = next((p for p in reversed(out.parents) if p.is_file()), None)
    if blocking is not None:
        return f"{blocking} 是一个文件，不是文件夹；请换一个保存位置或文件名"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹；请写上文件名，如 汇总.html"
    if exc.errno == errno.ENOSPC:
        return "磁盘已满"
    if exc.errno == errno.EROFS:
        return "这个位置是只读的（如写保护的 U 盘）"
    return exc.strerror or str(exc)


def _write(data: bytes, out: Path | None, fmt: str) -> None:
    if out is not None:
        _write_file(out, data)
        click.echo(f"已写入 {out}", err=True)
    elif fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("XLSX 是二进制文件，请用 --out 指定保存位置，如 --out 汇总.xlsx",
                               ctx=click.get_current_context(silent=True))
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@cli.command()
@config_option
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="不发送，把汇总邮件写成 .eml 文件（可用邮件客户端打开预览）")
def digest(config_path: Path, out: Path | None) -> None:
    """把受理汇总（附 XLSX）发送给配置中的工作人员邮箱（供 cron 每天运行）。"""
    from datetime import timezone

    from .digest import preview_digest, send_digest

    now = datetime.now(timezone.utc)
    if out is not None and (out.suffix.lower() != ".eml" or _only_extension(out)):
        # A mail written into 汇总.xlsx is a file Excel refuses to open.
        table = f"；要汇总表请用 intake summary --out {out.name}" if out.suffix.lower() in sum(SUMMARY_FORMATS.values(), ()) else ""
        raise click.UsageError(f"--out 写出的是一封邮件，文件名应以 .eml 结尾，如 --out 汇总.eml{table}",
                               ctx=click.get_current_context(silent=True))
    cfg = load_config(config_path)
    if out is not None:
        _out_folder(out, "汇总.eml")
        _warn_if_no_mail(cfg)
        _write_file(out, preview_digest(cfg, now))
        click.echo(f"汇总邮件已写入 {out}（未发送）")
        return
    _warn_if_no_mail(cfg)
    sent = send_digest(cfg, now)
    click.echo(f"汇总已发送给 {sent} 位工作人员")


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("intake-demo"), show_default=True, help="演示结果目录")
def demo(out: Path) -> None:
    """用内置的示例申报邮件演示完整流程（无需服务器和配置）。"""
    from .demo import run_demo

    result = run_demo(out)
    click.echo(f"处理示例邮件 {result['mails']} 封，" + result["totals"])
    click.echo(f"数据库：{result['db']}")
    click.echo(f"回复邮件（.eml）：{result['replies']}")
    for fmt, path in result["summary"].items():
        click.echo(f"汇总表（{fmt}）：{path}")


@cli.group()
def rules() -> None:
    """规则文件工具。"""


@rules.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def rules_check(file: Path) -> None:
    """检查规则文件：[call] 的键和值、每条规则的参数（含列表中的每一项）、固定代码、提示文字、空白申报书。"""
    from .ruleset import load_rules

    rs = load_rules(file)
    for warning in rs.warnings:
        click.echo(f"提醒：{warning}")
    click.echo(f"规则文件有效：{rs.call.name}，截止 {rs.call.deadline.isoformat()}，共 {len(rs.rules)} 条规则"
               + (f"（另有 {len(rs.warnings)} 条提醒）" if rs.warnings else ""))


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="只预览：重新审核并生成回复，但不发送、不改动任何数据")
def reprocess(config_path: Path, dry_run: bool) -> None:
    """按当前规则重新审核所有已收到的申报（如截止时间延长），只回复结论有变化的单位。"""
    from .jobs import reprocess as run_reprocess

    stats = run_reprocess(load_config(config_path), dry_run=dry_run)
    click.echo(f"{'[试运行] ' if dry_run else ''}重新审核完成：结论变化并生成回复 {stats.replies_queued} 封，发送 {stats.replies_sent} 封")
    for r in stats.rendered:
        click.echo(f"  回复 {r['to']}：{r['subject']}")
    if stats.error:
        raise IntakeError(stats.error)


def _applicant_reference(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """APPLICANT as typed; nothing (or only a full stop) is a usage mistake, not 找不到申报单位或发件人：  ."""
    from .store import REFERENCE_TRIM

    if not value.strip(REFERENCE_TRIM):
        raise click.BadParameter("没有写是哪个申报单位，请写发件地址、受理编号（如 2025-KJZY-001）、单位名称或发件人姓名",
                                 ctx=ctx, param=param)
    return value


@cli.command()
@config_option
@click.argument("applicant", callback=_applicant_reference)
@click.argument("decision", type=click.Choice(["accept", "needs-correction"]))
@click.option("--note", default="", help="审核意见（需补正时会写进补正通知）")
@click.option("--by", default="", help="操作人；默认取配置 [staff] operator")
@click.option("--reply/--no-reply", default=False, show_default=True, help="是否给申报单位发送相应的回复")
def decide(config_path: Path, applicant: str, decision: str, note: str, by: str, reply: bool) -> None:
    """工作人员改判：APPLICANT 为发件地址、受理编号、单位名称或发件人姓名。"""
    from .jobs import decide as run_decide

    status = "accepted" if decision == "accept" else "needs_correction"
    done = run_decide(load_config(config_path), applicant, status, note=note, by=by, reply=reply)
    # Echo the unit and number actually changed, not what was typed: a near name must be seen.
    click.echo(done.unchanged or f"已记录改判：{done.label} → {'受理' if status == 'accepted' else '需补正'}"
               + (f"，发送回复 {done.stats.replies_sent} 封" if reply else ""))
    if done.stats.error:
        raise IntakeError(done.stats.error)


@cli.command()
@config_option
@click.argument("applicant", callback=_applicant_reference)
@click.option("--by", default="", help="操作人；默认取配置 [staff] operator")
def answered(config_path: Path, applicant: str, by: str) -> None:
    """工作人员已人工答复咨询或处理了留给人工的邮件：APPLICANT 为发件地址、受理编号、单位名称或发件人姓名；这些邮件不再列入汇总的待办、每日汇总和 status 的计数。"""
    from .jobs import answered as run_answered

    n, who = run_answered(load_config(config_path), applicant, by=by)
    click.echo(f"已标记为已处理：{who}，咨询或待人工查看的邮件 {n} 封" if n else f"{who}：没有待答复的咨询或待人工查看的邮件")


@cli.command()
@config_option
@click.argument("address")
@click.option("--by", default="", help="操作人；默认取配置 [staff] operator")
def admit(config_path: Path, address: str, by: str) -> None:
    """工作人员核实后，把留给人工的申报邮件按申报处理：ADDRESS 为发件地址（陌生地址为已报送单位发来的材料、未通过身份验证的发件地址）。"""
    from .jobs import admit as run_admit

    n, stats, address = run_admit(load_config(config_path), address, by=by)
    click.echo(f"已按申报处理：{address} 的邮件 {n} 封，发送回复 {stats.replies_sent} 封")
    if stats.error:
        raise IntakeError(stats.error)


def _config_from(ctx: click.Context, config_path: Path | None) -> Config:
    path = config_path or (ctx.obj or {}).get("config")
    if path is None:
        raise click.UsageError("缺少 --config")
    return load_config(path)


@cli.group(invoke_without_command=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="配置文件 intake.toml")
@click.pass_context
def replies(ctx: click.Context, config_path: Path | None) -> None:
    """列出回复邮件（待发送、已发送、失败、不确定）；`resend ID` 有意重发一封。"""
    ctx.obj = {"config": config_path}
    if ctx.invoked_subcommand is not None:
        return
    from .store import Store
    from .summary import REPLY_STATE_ZH

    cfg = _config_from(ctx, config_path)
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        rows = store.outbox()
    finally:
        store.close()
    if not rows:
        click.echo("还没有任何回复")
        return
    states = [REPLY_STATE_ZH.get(r["state"], r["state"]) for r in rows]
    state_w = max(_width(s) for s in ["状态", *states])
    to_w = min(36, max(_width(r["to_addr"] or "") for r in [{"to_addr": "收件人"}, *rows]))
    click.echo(f"编号  {_pad('状态', state_w)}  {_pad('收件人', to_w)}  主题（说明）")
    for r, state in zip(rows, states):
        click.echo(
            f"{r['id']:>4}  {_pad(state, state_w)}  {_pad(r['to_addr'] or '', to_w)}  {r['subject'] or ''}"
            + (f"（{r['error']}）" if r["error"] else "")
        )


def _width(text: str) -> int:
    """Terminal columns `text` takes: Chinese and full-width characters two each."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (str.ljust counts characters)."""
    return text + " " * max(0, width - _width(text))


@replies.command("resend")
@click.argument("reply_id", type=int)
@click.option("--to", "to", default=None, help="改发到这个地址（核对后更正的邮箱；该单位以后的回复也发到这里）")
@click.option("--force", is_flag=True, help="即使这封回复与该单位现在的状态不符（如改判后的旧回执）也重发")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="配置文件 intake.toml")
@click.pass_context
def replies_resend(ctx: click.Context, reply_id: int, to: str | None, force: bool, config_path: Path | None) -> None:
    """把编号为 ID 的回复再发送一次（工作人员有意重发时使用，例如被退回的回复）。"""
    from .jobs import resend

    done = resend(_config_from(ctx, config_path), reply_id, to=to, force=force)
    whom = f"{done.label} <{done.to}>" if done.label else done.to
    if done.state == "sent":
        others = f"（连同其他待发送的回复，本次共发送 {done.sent} 封）" if done.sent > 1 else ""
        click.echo(f"已把编号 {reply_id} 的{done.what}重发给 {whom}（新编号 {done.new_id}）{others}")
    elif done.state == "rendered":
        why = done.error or "配置中没有 [smtp]"
        click.echo(f"编号 {reply_id} 的{done.what}已重新排队（新编号 {done.new_id}，收件人 {whom}），尚未发出：{why}；下次运行时发送")
    else:
        raise IntakeError(f"编号 {reply_id} 的{done.what}重发给 {whom} 未成功（新编号 {done.new_id}）：{done.error}")


@cli.command()
@config_option
def status(config_path: Path) -> None:
    """显示运行状况：上次成功收信、待发送回复、需要人工查看的邮件。"""
    from .store import Store
    from .summary import status_lines

    cfg = load_config(config_path)
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        for line in status_lines(store):
            click.echo(line)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    # Everything intake writes (database, mails, forms with bank accounts, summaries and
    # their file copies) is its owner's only, whatever umask cron or a shell hands over.
    old_umask = os.umask(0o077)
    try:
        return _main(argv)
    finally:
        os.umask(old_umask)


def _main(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="intake", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("已中止", err=True)
        return 1
    except click.exceptions.NoArgsIsHelpError as exc:  # `intake` alone: the help page is the answer
        click.echo(exc.format_message(), err=True)
        return 2
    except click.UsageError as exc:  # click's English ("Missing option '--config'") in one Chinese line
        for line in usage_lines(exc, args):
            click.echo(line, err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"错误：{exc.format_message()}", err=True)
        return 2
    except IntakeError as exc:
        click.echo(f"错误：{exc}", err=True)
        return 1
    except sqlite3.Error as exc:  # backstop: the store turns what it expects into StoreError
        click.echo(f"错误：数据库无法使用：{exc}", err=True)
        return 1
    except PermissionError as exc:  # the data folder made by another user (a first run as root)
        from .store import access_hint

        where = Path(exc.filename) if exc.filename else Path.cwd()
        click.echo(f"错误：无法读写 {where}{access_hint(where) or '（没有权限）'}", err=True)
        return 1
    return 0


__all__ = ["main", "cli", "Config"]
