"""The `intake` command: a thin click layer over the library.

`main(argv) -> int`: 0 success, 1 operational failure (one line on stderr),
2 usage error. Only `__main__` exits.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from .config import Config, load_config
from .errors import IntakeError


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


config_option = click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="配置文件 intake.toml"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="更多日志（-v 信息，-vv 调试）")
def cli(verbose: int) -> None:
    """intake：申报邮件自动受理（收信、检查、登记、回复、汇总）。"""
    _setup_logging(verbose)


def _report(stats, *, dry_run: bool) -> None:
    prefix = "[试运行，未做任何改动] " if dry_run else ""
    click.echo(
        f"{prefix}新邮件 {stats.fetched} 封：申报 {stats.applications}，不回复 {stats.no_reply}，"
        f"其他 {stats.other}，重复 {stats.duplicates}；生成回复 {stats.replies_queued} 封，发送 {stats.replies_sent} 封"
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
@click.option("--received", help="按此时间判断是否逾期（如 2025-06-23T18:00:00+08:00）；默认取邮件的 Date")
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


def _parse_when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"无法识别的时间：{text}") from exc
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "csv", "json"]), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="写入文件；不写则输出到屏幕")
def summary(config_path: Path, fmt: str, out: Path | None) -> None:
    """输出受理汇总表（HTML、XLSX、CSV 或 JSON）。"""
    from .store import Store
    from .summary import render

    cfg = load_config(config_path)
    store = Store.open(cfg.db_path, dry_run=not cfg.db_path.exists())
    try:
        data = render(store, fmt, out=out if fmt == "html" else None)
    finally:
        store.close()
    _write(data, out, fmt)


def _write(data: bytes, out: Path | None, fmt: str) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        click.echo(f"已写入 {out}", err=True)
    elif fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("XLSX 是二进制文件，请用 --out 指定保存位置")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@cli.command()
@config_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="不发送，把汇总邮件写成 .eml 文件（可用邮件客户端打开预览）")
def digest(config_path: Path, out: Path | None) -> None:
    """把受理汇总（附 XLSX）发送给配置中的工作人员邮箱（供 cron 每天运行）。"""
    from datetime import timezone

    from .digest import preview_digest, send_digest

    now = datetime.now(timezone.utc)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(preview_digest(load_config(config_path), now))
        click.echo(f"汇总邮件已写入 {out}（未发送）")
        return
    sent = send_digest(load_config(config_path), now)
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


@cli.command()
@config_option
@click.argument("applicant")
@click.argument("decision", type=click.Choice(["accept", "needs-correction"]))
@click.option("--note", default="", help="审核意见（需补正时会写进补正通知）")
@click.option("--by", default="", help="操作人；默认取配置 [staff] operator")
@click.option("--reply/--no-reply", default=False, show_default=True, help="是否给申报单位发送相应的回复")
def decide(config_path: Path, applicant: str, decision: str, note: str, by: str, reply: bool) -> None:
    """工作人员改判：APPLICANT 为发件地址、受理编号或单位全称。"""
    from .jobs import decide as run_decide

    status = "accepted" if decision == "accept" else "needs_correction"
    stats = run_decide(load_config(config_path), applicant, status, note=note, by=by, reply=reply)
    click.echo(f"已记录改判：{applicant} → {'受理' if status == 'accepted' else '需补正'}" + (f"，发送回复 {stats.replies_sent} 封" if reply else ""))
    if stats.error:
        raise IntakeError(stats.error)


@cli.command()
@config_option
@click.argument("applicant")
@click.option("--by", default="", help="操作人；默认取配置 [staff] operator")
def answered(config_path: Path, applicant: str, by: str) -> None:
    """工作人员已人工答复咨询或处理了留给人工的邮件：APPLICANT 为发件地址、受理编号或单位全称；这些邮件不再列入汇总的待办、每日汇总和 status 的计数。"""
    from .jobs import answered as run_answered

    n = run_answered(load_config(config_path), applicant, by=by)
    click.echo(f"已标记为已处理：{applicant} 的咨询或待人工查看的邮件 {n} 封" if n else f"{applicant} 没有待答复的咨询或待人工查看的邮件")


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
        for r in store.outbox():
            click.echo(
                f"{r['id']:>4}  {REPLY_STATE_ZH.get(r['state'], r['state']):<8} {r['to_addr']:<32} {r['subject'] or ''}"
                + (f"  ({r['error']})" if r["error"] else "")
            )
    finally:
        store.close()


@replies.command("resend")
@click.argument("reply_id", type=int)
@click.option("--to", "to", default=None, help="改发到这个地址（核对后更正的邮箱；该单位以后的回复也发到这里）")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="配置文件 intake.toml")
@click.pass_context
def replies_resend(ctx: click.Context, reply_id: int, to: str | None, config_path: Path | None) -> None:
    """把编号为 ID 的回复再发送一次（工作人员有意重发时使用，例如被退回的回复）。"""
    from .outbox import SmtpTransport, deliver, readdressed
    from .jobs import open_run

    cfg = _config_from(ctx, config_path)
    with open_run(cfg, "resend") as (store, files):
        eml_path = None
        if to is not None:
            row = store.one("SELECT eml_path FROM outbox WHERE id=?", (reply_id,))
            if row is None or not row["eml_path"]:
                raise IntakeError(f"没有编号为 {reply_id} 的回复")
            moved = readdressed(Path(row["eml_path"]).read_bytes(), to)
            if moved is None:
                raise IntakeError(f"“{to}”不是可用的邮箱地址（只能写一个地址）")
            to, data = moved
            eml_path = str(files.put_outgoing(hashlib.sha256(data).hexdigest(), data))
        new_id = store.requeue_reply(reply_id, to=to, eml_path=eml_path)
        if new_id is None:
            raise IntakeError(f"没有编号为 {reply_id} 的回复")
        if cfg.smtp is None:
            click.echo(f"已重新排队（编号 {new_id}），配置中没有 [smtp]，下次运行时发送")
            return
        sent, error = deliver(store, SmtpTransport(cfg.smtp), cfg.smtp.sender, throttle=cfg.replies.throttle())
    if error:
        raise IntakeError(error)
    click.echo(f"已重发（新编号 {new_id}），本次共发送 {sent} 封")


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
    try:
        cli.main(args=argv, prog_name="intake", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("已中止", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
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
