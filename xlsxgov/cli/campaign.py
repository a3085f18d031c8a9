"""``xlsxgov campaign …``: one collection campaign (roster, templates, mail, import, status)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import List, Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table

from ..campaign.importer import ImportResult, import_paths
from ..campaign.init import init_campaign
from ..campaign.issue import issue_templates
from ..campaign.letters import DEFAULT_SENDER
from ..campaign.remind import prepare_reminders
from ..campaign.send import send_outbox
from ..campaign.status import campaign_status, write_status_xlsx
from ..campaign.store import roster
from ..vocab import OUTCOME_LABELS, STATUS_LABELS
from .base import console, err_console, fail, new_app, say

campaign_app = new_app("报送任务：名单、下发模板、发送、收取、进度")


@campaign_app.command("init")
def init_command(
    directory: Path = typer.Argument(..., help="报送任务目录（将新建）"),
    year: int = typer.Option(..., "--year", help="报告年度，例如 2024"),
    roster_file: Path = typer.Option(..., "--roster", help="单位名册（.xlsx / .xls / .ods / .csv）"),
    edition: str = typer.Option("gov2021", "-e", "--edition", help="表格版本（默认 gov2021）"),
    region: str = typer.Option("", "--region", help="本次报送的地区名称"),
) -> None:
    """新建报送任务：读取并校验名册，建立台账和目录。"""
    agencies = init_campaign(directory, year=year, roster_path=roster_file, edition=edition, region=region)
    say(f"已新建报送任务：{escape(str(directory))}（{year}年度，{len(agencies)} 个单位）")


@campaign_app.command("issue")
def issue_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    sender: str = typer.Option(DEFAULT_SENDER, "--from", help="发件人地址（写入邮件）"),
    portal: Optional[str] = typer.Option(None, "--portal", help="报送平台（xlsxgov serve）的访问地址，例如 http://10.1.2.3:8000；给出时为每个单位生成专属报送链接，写入邮件和 outbox/links.csv"),
) -> None:
    """为每个单位生成预填单位信息的模板和待发送邮件（outbox/）。"""
    if portal is not None and not portal.startswith(("http://", "https://")):
        fail(f"--portal 应以 http:// 或 https:// 开头，例如 http://10.1.2.3:8000，而不是“{portal}”")
    result = issue_templates(directory, sender=sender, portal_url=portal)
    n = len(result.templates)
    say(f"已生成 {n} 份模板和 {len(result.emls)} 封邮件，保存在 {escape(str(Path(directory) / 'outbox'))}（用时 {result.seconds:.1f} 秒）")
    if portal:
        say(f"各单位的专属报送链接已写入邮件和 {escape(str(Path(directory) / 'outbox' / 'links.csv'))}（旧链接已作废）")


@campaign_app.command("link")
def link_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    agency: str = typer.Argument(..., help="单位的统一社会信用代码或名称"),
    reissue: bool = typer.Option(False, "--reissue", help="作废该单位的旧链接并生成新链接"),
    revoke: bool = typer.Option(False, "--revoke", help="只作废该单位的链接"),
    url: Optional[str] = typer.Option(None, "--url", help="报送平台的访问地址（默认取 campaign issue --portal 给出的地址）"),
) -> None:
    """单位的专属报送链接：生成、重新生成（--reissue，旧链接立即失效）或作废（--revoke）。"""
    from ..campaign import portal as portal_mod

    agencies = {a.code: a for a in roster(directory)}
    code = agency if agency in agencies else next((c for c, a in agencies.items() if a.name == agency), None)
    if code is None:
        fail(f"名册中没有“{agency}”（请给出统一社会信用代码或单位全称）")
    if revoke:
        n = portal_mod.revoke_link(directory, code)
        say(f"已作废 {escape(agencies[code].name)} 的 {n} 个链接")
        return
    live, base = portal_mod.link_state(directory, code)
    base = url or base
    if live and not reissue:
        fail(f"{agencies[code].name} 已有有效的报送链接（台账只保存其指纹，无法再次显示）；要作废旧链接并生成新链接，请加 --reissue")
    if not base:
        fail("不知道报送平台的访问地址：请用 --url 给出，例如 --url http://10.1.2.3:8000")
    issue_templates(directory, portal_url=base, codes=[code])
    link = portal_mod.link_of_csv(directory, code)
    say(f"{escape(agencies[code].name)} 的新报送链接（已写入该单位的模板封面、邮件和 outbox/links.csv）：")
    print(link)


@campaign_app.command("send")
def send_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    smtp: str = typer.Option(..., "--smtp", help="SMTP 服务器，格式 主机:端口"),
    starttls: bool = typer.Option(False, "--starttls", help="使用 STARTTLS 加密（通常为 587 端口）"),
    use_ssl: bool = typer.Option(False, "--ssl", help="使用 SSL 加密（通常为 465 端口）"),
    user: Optional[str] = typer.Option(None, "--user", help="SMTP 登录用户名"),
    password_env: Optional[str] = typer.Option(None, "--password-env", help="保存 SMTP 密码的环境变量名"),
    sender: str = typer.Option(..., "--from", help="发件人地址（SMTP 信封发件人）"),
    cafile: Optional[Path] = typer.Option(
        None, "--cafile", help="验证服务器证书所用的 CA 证书文件（PEM）；默认使用系统信任的证书"
    ),
) -> None:
    """发送 outbox/ 中尚未发送的邮件和尚未发送的催报邮件（reminders/）；已发送的不会重复发送。"""
    if starttls and use_ssl:
        fail("--starttls 和 --ssl 只能选一个")
    if password_env and not user:
        fail("指定了 --password-env，但没有指定登录用户名 --user")
    if user and not password_env:
        fail("指定了 --user，还需用 --password-env 指定保存密码的环境变量名（密码不在命令行中输入）")
    if cafile is not None and not cafile.is_file():
        fail(f"找不到 CA 证书文件：{cafile}")
    if cafile is not None and not (starttls or use_ssl):
        fail("--cafile 只在 --starttls 或 --ssl 时使用")
    host, _, port_text = smtp.rpartition(":")
    if not host or not port_text.isdigit():
        fail(f"--smtp 应为“主机:端口”，例如 smtp.example.gov.cn:587，而不是“{smtp}”")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            fail(f"环境变量 {password_env} 未设置")
    summary = send_outbox(
        directory, host=host, port=int(port_text), security="ssl" if use_ssl else "starttls" if starttls else "none",
        user=user, password=password, sender=sender, cafile=cafile,
    )
    console.print(f"本次发送成功 {len(summary.sent)} 封，失败 {len(summary.failed)} 封，此前已发送 {summary.skipped} 封", highlight=False)
    if summary.reminder_paths or summary.reminders_skipped or summary.cancelled:
        console.print(
            f"催报邮件：本次发送成功 {len(summary.reminders_sent)} 封，失败 {len(summary.reminders_failed)} 封，"
            f"此前已发送 {summary.reminders_skipped} 封",
            highlight=False,
        )
    if summary.cancelled:
        names = {a.code: a.name for a in roster(directory)}
        for round_no, code, why in summary.cancelled:
            say(f"第 {round_no} 轮催报 {escape(names.get(code, code))}：不再发送（{escape(why)}）")
    for r in summary.failed + summary.reminders_failed:
        err_console.print(f"[red]发送失败：[/red]{escape(r.path.name)}：{escape(r.error or '')}", highlight=False)
    if summary.connection_error:
        fail(summary.connection_error)
    if summary.failed or summary.reminders_failed:
        raise typer.Exit(1)


@campaign_app.command("remind")
def remind_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="新的报送截止日期，格式 YYYY-MM-DD（不指定则写“请尽快”）"),
    sender: str = typer.Option(DEFAULT_SENDER, "--from", help="发件人地址（写入邮件）"),
) -> None:
    """催报：为未报送、有错误、无法读取的单位各生成一封催报邮件（reminders/轮次/），再用 send 发送。"""
    due = None
    if deadline is not None:
        try:
            if len(deadline) != 10 or deadline[4] != "-" or deadline[7] != "-":
                raise ValueError(deadline)
            due = date.fromisoformat(deadline)
        except ValueError:
            fail(f"--deadline 应为 YYYY-MM-DD 格式的日期，例如 2025-02-15，而不是“{deadline}”")
    result = prepare_reminders(directory, deadline=due, sender=sender)
    if result.round is None:
        console.print(f"所有 {result.valid} 个单位均已报送合格的报表，没有需要催报的单位，未生成催报邮件。", highlight=False)
        return
    t = Table(title=f"第 {result.round} 轮催报", header_style="bold")
    for h in ("单位名称", "统一社会信用代码", "情况", "附件"):
        t.add_column(h, overflow="fold")
    for r in result.reminders:
        t.add_row(escape(r.name), r.code, STATUS_LABELS[r.reason], escape(r.attachment))
    console.print(t)
    console.print(
        f"已生成第 {result.round} 轮催报邮件 {len(result.reminders)} 封（未报送 {result.count('missing')}，"
        f"有错误 {result.count('invalid')}，无法读取 {result.count('unreadable')}），保存在 {result.folder}；"
        f"已合格的 {result.valid} 个单位不催报。用 xlsxgov campaign send 发送。",
        highlight=False,
    )


@campaign_app.command("import")
def import_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    paths: Optional[List[Path]] = typer.Argument(None, help="收到的工作簿、文件夹、.eml 或 .mbox（默认 inbox/）"),
) -> None:
    """收取各单位报送的文件：存档、校验、识别单位、记入台账。"""
    # The progress bar goes to stderr, and only when it is a terminal.
    result = import_paths(directory, list(paths or []), progress=err_console.is_terminal)
    attention = [f for f in result.files if f.outcome in ("invalid", "unreadable", "unknown", "skipped")]
    if attention:
        t = Table(title="需要处理的文件", header_style="bold")
        for h in ("文件", "单位", "结果", "错误", "警告", "说明"):
            t.add_column(h, overflow="fold")
        for f in attention:
            note = f.reason or (f"问题反馈：{f.feedback.relative_to(directory)}" if f.feedback else "")
            t.add_row(escape(f.name), escape(f.agency), OUTCOME_LABELS[f.outcome], str(f.errors), str(f.warnings), escape(note))
        console.print(t)
    console.print(import_summary_table(result))


def import_summary_table(result: ImportResult) -> Table:
    """导入结果: one row per outcome with its file count, and the total."""
    t = Table(title="导入结果", header_style="bold", show_footer=True)
    t.add_column("结果", footer="合计")
    t.add_column("文件数", justify="right", footer=str(len(result.files)))
    for key, label in OUTCOME_LABELS.items():
        t.add_row(label, str(result.count(key)))
    return t


@campaign_app.command("status")
def status_command(
    directory: Path = typer.Argument(..., help="报送任务目录"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="把进度表另存为 .xlsx"),
) -> None:
    """查看各单位的报送进度。"""
    status = campaign_status(directory)
    if xlsx:
        write_status_xlsx(status, xlsx)
    if as_json:
        keys = ("name", "code", "status", "errors", "warnings", "received_at", "reminders", "from_report")
        out = {"agencies": [{k: a[k] for k in keys} for a in status["agencies"]], "totals": status["totals"]}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    t = Table(header_style="bold")
    for h in ("单位名称", "统一社会信用代码", "已生成", "已发送", "收到", "状态", "错误", "警告", "最近收到", "已催报"):
        t.add_column(h, overflow="fold")
    colours = {"valid": "green", "invalid": "red", "missing": "yellow", "unreadable": "magenta"}
    for a in status["agencies"]:
        sent = "是" if a["sent"] else ("失败" if a["send_error"] else "否")
        t.add_row(
            escape(a["name"]), a["code"], "是" if a["issued"] else "否", sent, str(a["received"]),
            f"[{colours[a['status']]}]{STATUS_LABELS[a['status']]}[/]" + ("（取自年度报告）" if a["from_report"] else ""), str(a["errors"]), str(a["warnings"]),
            (a["received_at"] or "")[:19].replace("T", " "), str(a["reminders"]),
        )
    console.print(t)
    tot = status["totals"]
    console.print(
        f"共 {len(status['agencies'])} 个单位：合格 {tot['valid']}，有错误 {tot['invalid']}，"
        f"无法读取 {tot['unreadable']}，未报送 {tot['missing']}；无法确定单位的文件 {status['unassigned']} 个",
        highlight=False,
    )
    if xlsx:
        say(f"已保存进度表：{escape(str(xlsx))}")
