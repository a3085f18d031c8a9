"""``xlsxgov campaign …``: one collection campaign (roster, templates, mail, import, status)."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table
from rich.text import Text

from ..vocab import OUTCOME_LABELS, STATUS_LABELS
from .base import console, err_console, fail, new_app, say
from .text import message_table

if TYPE_CHECKING:
    from ..campaign.importer import FileOutcome, ImportResult

campaign_app = new_app("报送任务：名单、下发模板、发送、收取、进度")


@campaign_app.command("init")
def init_command(
    directory: Path = typer.Argument(..., help="报送任务目录（将新建）", metavar="目录"),
    year: int = typer.Option(..., "--year", help="报告年度（2008–2100），例如 2025"),
    roster_file: Path = typer.Option(..., "--roster", help="单位名册（.xlsx / .xls / .ods / .csv）"),
    edition: str = typer.Option("gov2021", "-e", "--edition", help="表格版本（默认 gov2021）"),
    region: str = typer.Option("", "--region", help="本次报送的地区名称"),
    sender: str = typer.Option("", "--sender", help="本单位的发件地址，写作 \"名称 <邮箱>\"；单位回复到这个地址"),
    contact: str = typer.Option("", "--contact", help="联系人（写入每封邮件）"),
    phone: str = typer.Option("", "--phone", help="联系电话（写入每封邮件）"),
) -> None:
    """新建报送任务：读取并校验名册，建立台账和目录。

    发件地址、联系人和电话写入每封邮件（发件人、回复地址、落款），以后可用 campaign settings 修改。

    示例：
      xlsxgov campaign init 任务 --year 2025 --roster 名册.xlsx --region 示例县
        --sender "示例县政务公开办 <zwgk@example.gov.cn>" --contact 张敏
        --phone 0591-12345678
    """
    from ..campaign.init import init_campaign

    agencies = init_campaign(
        directory, year=year, roster_path=roster_file, edition=edition, region=region, sender=sender, contact=contact, phone=phone,
    )
    say(f"已新建报送任务：{escape(str(directory))}（{year}年度，{len(agencies)} 个单位）")
    _say_no_address([a.name for a in agencies if not a.emails],
                    "不会收到邮件，请用报送平台的专属链接（campaign issue --portal）或把 outbox/ 中的模板交给它们", warn=True)
    if not sender:
        err_console.print(
            f"[yellow]注意：[/yellow]还没有设置发件地址，发送邮件前请运行 xlsxgov campaign settings {escape(str(directory))} --sender \"名称 <邮箱>\"",
            highlight=False,
        )


@campaign_app.command("settings")
def settings_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    sender: Optional[str] = typer.Option(None, "--sender", help="新的发件地址，写作 \"名称 <邮箱>\""),
    contact: Optional[str] = typer.Option(None, "--contact", help="新的联系人"),
    phone: Optional[str] = typer.Option(None, "--phone", help="新的联系电话"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """查看或修改本单位的发件地址、联系人和电话（写入每封邮件）。

    修改后运行 campaign issue（和 campaign remind）重新生成邮件，新的信息才会写入。

    示例：
      xlsxgov campaign settings 任务
      xlsxgov campaign settings 任务 --phone 0591-87654321
    """
    from ..campaign.init import update_settings

    office = update_settings(directory, sender=sender, contact=contact, phone=phone)
    if as_json:
        print(json.dumps({"sender": office.sender, "contact": office.contact, "phone": office.phone}, ensure_ascii=False))
        return
    for label, value in (("发件地址", office.sender), ("联系人", office.contact), ("联系电话", office.phone)):
        say(f"{label}：{escape(value) if value else '（未设置）'}")
    if not office.is_real:
        err_console.print("[yellow]注意：[/yellow]没有可用的发件地址，campaign send 会拒绝发送", highlight=False)
    if sender is not None or contact is not None or phone is not None:
        say(f"已保存。已生成的邮件仍是旧的信息：运行 xlsxgov campaign issue {escape(str(directory))} 重新生成")


@campaign_app.command("issue")
def issue_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    portal: Optional[str] = typer.Option(None, "--portal", help="报送平台（xlsxgov serve）的访问地址，例如 http://10.1.2.3:8000；给出时为每个单位生成专属报送链接，写入邮件和 outbox/links.csv"),
) -> None:
    """为每个单位生成预填单位信息的模板和待发送邮件（outbox/）。

    邮件的发件人和回复地址是本任务的发件地址（campaign settings），正文落款写联系人和电话。

    示例：
      xlsxgov campaign issue 任务
      xlsxgov campaign issue 任务 --portal http://10.1.2.3:8000
    """
    from ..campaign.issue import issue_templates

    if portal is not None and not portal.startswith(("http://", "https://")):
        fail(f"--portal 应以 http:// 或 https:// 开头，例如 http://10.1.2.3:8000，而不是“{portal}”")
    result = issue_templates(directory, portal_url=portal)
    n = len(result.templates)
    say(f"已生成 {n} 份模板和 {len(result.emls)} 封邮件，保存在 {escape(str(Path(directory) / 'outbox'))}（用时 {result.seconds:.1f} 秒）")
    _say_no_address(result.no_address, "只生成模板、不生成邮件")
    if portal:
        say(f"各单位的专属报送链接已写入邮件和 {escape(str(Path(directory) / 'outbox' / 'links.csv'))}（旧链接已作废）")
    if result.emls:  # no mail written (a portal-only roster): the sender does not matter (a trial)
        _warn_without_sender(directory)


def _say_no_address(names: list[str], what: str, *, warn: bool = False) -> None:
    """One line naming the agencies with no e-mail address (the first few) and what that means
    here; nothing when there are none."""
    if not names:
        return
    shown = "、".join(names[:8]) + (f" 等 {len(names)} 个" if len(names) > 8 else "")
    say(("[yellow]注意：[/yellow]" if warn else "") + f"{len(names)} 个单位没有电子邮箱（{escape(shown)}），{what}")


def _warn_without_sender(directory: Path) -> None:
    from ..campaign.store import CampaignStore

    with CampaignStore.open(directory) as store:
        real = store.office().is_real
    if not real:
        err_console.print(
            "[yellow]注意：[/yellow]本任务还没有发件地址，邮件的发件人是占位地址，campaign send 会拒绝发送；"
            f"请运行 xlsxgov campaign settings {escape(str(directory))} --sender \"名称 <邮箱>\" 后重新生成",
            highlight=False,
        )


@campaign_app.command("link")
def link_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    agency: str = typer.Argument(..., help="单位的统一社会信用代码或名称", metavar="单位"),
    reissue: bool = typer.Option(False, "--reissue", help="作废该单位的旧链接并生成新链接"),
    revoke: bool = typer.Option(False, "--revoke", help="只作废该单位的链接"),
    url: Optional[str] = typer.Option(None, "--url", help="报送平台的访问地址（默认取 campaign issue --portal 给出的地址）"),
) -> None:
    """单位的专属报送链接：生成、重新生成（--reissue，旧链接立即失效）或作废（--revoke）。

    示例：
      xlsxgov campaign link 任务 示例县教育局 --reissue
      xlsxgov campaign link 任务 示例县教育局 --revoke
    """
    from ..campaign.issue import issue_templates
    from ..campaign.store import roster

    from ..campaign import portal as portal_mod

    from ..campaign.resolve import find_agency

    found = find_agency(roster(directory), agency)  # code, full name or a part only one agency has
    code = found.code
    if revoke:
        n = portal_mod.revoke_link(directory, code)
        say(f"已作废 {escape(found.name)} 的 {n} 个链接")
        return
    live, base = portal_mod.link_state(directory, code)
    base = url or base
    if live and not reissue:
        fail(f"{found.name} 已有有效的报送链接（台账只保存其指纹，无法再次显示）；要作废旧链接并生成新链接，请加 --reissue")
    if not base:
        fail("不知道报送平台的访问地址：请用 --url 给出，例如 --url http://10.1.2.3:8000")
    issue_templates(directory, portal_url=base, codes=[code])
    link = portal_mod.link_of_csv(directory, code)
    where = "模板封面、邮件和 outbox/links.csv" if found.emails else "模板封面和 outbox/links.csv；该单位没有电子邮箱，请把链接交给它"
    say(f"{escape(found.name)} 的新报送链接（已写入该单位的{where}）：")
    print(link)


@campaign_app.command("send")
def send_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    smtp: str = typer.Option(..., "--smtp", help="SMTP 服务器，格式 主机:端口"),
    starttls: bool = typer.Option(False, "--starttls", help="使用 STARTTLS 加密（通常为 587 端口）"),
    use_ssl: bool = typer.Option(False, "--ssl", help="使用 SSL 加密（通常为 465 端口）"),
    user: Optional[str] = typer.Option(None, "--user", help="SMTP 登录用户名"),
    password_env: Optional[str] = typer.Option(None, "--password-env", help="保存 SMTP 密码的环境变量名"),
    sender: Optional[str] = typer.Option(None, "--from", help="SMTP 信封发件人（默认为邮件的发件地址，见 campaign settings）"),
    cafile: Optional[Path] = typer.Option(
        None, "--cafile", help="验证服务器证书所用的 CA 证书文件（PEM）；默认使用系统信任的证书"
    ),
) -> None:
    """发送 outbox/ 中尚未发送的邮件和尚未发送的催报邮件（reminders/）；已发送的不会重复发送。

    邮件的发件人不是真实地址（没有设置 campaign settings --sender）时拒绝发送。

    示例：
      xlsxgov campaign send 任务 --smtp smtp.example.gov.cn:587 --starttls
        --user zwgk --password-env SMTP_PASSWORD
    """
    from ..campaign.send import send_outbox
    from ..campaign.store import roster

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
    _say_no_address(summary.no_address, "没有邮件可发")
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
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="新的报送截止日期，格式 YYYY-MM-DD（不指定则写“请尽快”）"),
) -> None:
    """催报：为未报送、有错误、无法读取的单位各生成一封催报邮件（reminders/轮次/），再用 send 发送。

    示例：
      xlsxgov campaign remind 任务 --deadline 2026-02-10
    """
    from ..campaign.remind import prepare_reminders

    due = None
    if deadline is not None:
        try:
            if len(deadline) != 10 or deadline[4] != "-" or deadline[7] != "-":
                raise ValueError(deadline)
            due = date.fromisoformat(deadline)
        except ValueError:
            fail(f"--deadline 应为 YYYY-MM-DD 格式的日期，例如 2025-02-15，而不是“{deadline}”")
    result = prepare_reminders(directory, deadline=due)
    if result.round is None:
        if result.no_address:
            say(f"需要催报的单位都没有电子邮箱，未生成催报邮件（{result.valid} 个单位已报送合格的报表）。")
        else:
            console.print(f"所有 {result.valid} 个单位均已报送合格的报表，没有需要催报的单位，未生成催报邮件。", highlight=False)
        _say_no_address(result.no_address, "未生成催报邮件，请通过报送平台或电话催报（原因见 campaign status --problems）")
        return
    console.print(message_table(
        console, ("单位名称", "情况", "附件"), [(r.name, STATUS_LABELS[r.reason], r.attachment) for r in result.reminders],
        message_column=2, title=f"第 {result.round} 轮催报",
    ))
    console.print(
        f"已生成第 {result.round} 轮催报邮件 {len(result.reminders)} 封（未报送 {result.count('missing')}，"
        f"有错误 {result.count('invalid')}，无法读取 {result.count('unreadable')}），保存在 {result.folder}；"
        f"已合格的 {result.valid} 个单位不催报。用 xlsxgov campaign send 发送。",
        highlight=False,
    )
    _say_no_address(result.no_address, "未生成催报邮件，请通过报送平台或电话催报（原因见 campaign status --problems）")
    if result.reminders:
        _warn_without_sender(directory)


@campaign_app.command("import")
def import_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    paths: Optional[List[Path]] = typer.Argument(None, help="收到的工作簿、文件夹、.eml 或 .mbox（默认 inbox/）", metavar="文件"),
) -> None:
    """收取各单位报送的文件：存档、校验、识别单位、记入台账。

    报告年度、表格版本与本任务不符，或与下发的模板完全相同（未填写）的文件记为有错误。

    示例：
      xlsxgov campaign import 任务
      xlsxgov campaign import 任务 回复 收件箱.mbox
    """
    try:
        _import(directory, paths)
    except (KeyboardInterrupt, Exception) as exc:
        # Ctrl-C, wherever it landed (the ledger is consistent): one line. An error raised while
        # unwinding from it (a worker pool interrupted while starting) is the Ctrl-C too.
        if not _interrupted(exc):
            raise
        err_console.print(_INTERRUPTED, highlight=False, markup=False)
        raise typer.Exit(130) from None  # 128 + SIGINT, what a shell reports for Ctrl-C


def _interrupted(exc: BaseException | None) -> bool:
    """True when ``exc`` is a KeyboardInterrupt or was raised while handling one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__context__
    return False


def _import(directory: Path, paths: Optional[List[Path]]) -> None:
    from ..campaign.importer import import_paths

    # The progress bar goes to stderr, and only when it is a terminal.
    result = import_paths(directory, list(paths or []), progress=err_console.is_terminal)
    # A duplicate read again from where its recorded copy came from (inbox/ read again) is only
    # counted; one that came another way is said, with whose file it already is.
    attention = [f for f in result.files if f.outcome in ("invalid", "unreadable", "unknown", "skipped") or f.note
                 or (f.outcome == "duplicate" and not f.same_place)]
    if attention:
        rows = []
        for f in attention:
            if f.outcome == "duplicate":
                rows.append((f"{f.name}：{_duplicate_note(f)}", OUTCOME_LABELS[f.outcome]))
                continue
            note = "；".join(x for x in (f.reason or (f"错误 {f.errors} 处" if f.outcome == "invalid" else ""), f.note) if x)
            who = f"（{f.agency}）" if f.agency else ("" if f.outcome == "skipped" else "（单位不明）")  # a lock file is nobody's report
            rows.append((f"{f.name}{who}：{note}", OUTCOME_LABELS[f.outcome]))
        console.print(message_table(console, ("文件和说明", "结果"), rows, title="需要处理的文件"))
        if any(not f.agency and f.outcome in ("unknown", "unreadable") for f in attention):
            say(_ASSIGN_HINT.format(escape(str(directory))))
        if any(f.feedback for f in attention):
            say(_FEEDBACK_HINT.format(escape(str(directory))))
    console.print(import_summary_table(result))


def _duplicate_note(f: FileOutcome) -> str:
    """Whose file a skipped duplicate already is, and when that copy was received (Beijing time)."""
    when = f"{_local(f.recorded_at)} 收到" if f.recorded_at else "此前收到"
    if not f.code:
        return f"与{when}的单位不明的文件（待分配，在 quarantine/ 中）完全相同，未重复记录"
    held = f"“{f.agency}”已撤回的报送" if f.withdrawn else f"已记为“{f.agency}”的报送"
    return f"与{when}、{held}完全相同，未重复记录"


_INTERRUPTED = "已中断：本次导入未完成，已导入的文件已记入台账，再次运行 import 继续"

# Feedback workbooks are built when first asked for (campaign.feedback), not by import or assign.
_ASSIGN_HINT = "单位不明的文件在 quarantine/ 中，确认是哪个单位的后用 xlsxgov campaign assign {} 文件名 单位 分配"
_FEEDBACK_HINT = "有错误的报表的问题反馈工作簿在下载或催报时自动生成；现在全部生成：\n  xlsxgov campaign feedback {}"


@campaign_app.command("feedback")
def feedback_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
) -> None:
    """生成有错误的报表的问题反馈工作簿（feedback/，每次报送一份）：导入时不生成，网页下载或催报时自动生成，本命令一次生成全部尚未生成的。

    示例：
      xlsxgov campaign feedback 任务
    """
    from ..campaign.feedback import build_feedback

    r = build_feedback(directory)
    say(f"新生成问题反馈工作簿 {len(r.built)} 份，此前已生成 {r.existing} 份，在 {escape(str(directory / 'feedback'))} 中")
    if r.failed:
        console.print(message_table(console, ("报送编号", "未能生成的原因"), [(str(i), why) for i, why in r.failed],
                                    message_column=1, title="未能生成的问题反馈工作簿"))
        raise typer.Exit(1)


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
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    problems: bool = typer.Option(False, "--problems", help="只列需要处理的单位（有错误、无法读取、未报送，或有待核实归属的文件）和原因"),
    history: Optional[str] = typer.Option(None, "--history", help="一个单位的全部记录：收到的每个文件、分配、撤回", metavar="单位"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="把进度表另存为 .xlsx"),
) -> None:
    """查看各单位的报送进度：每个单位一行；--problems 只列需要处理的单位和原因。

    示例：
      xlsxgov campaign status 任务
      xlsxgov campaign status 任务 --problems
      xlsxgov campaign status 任务 --history 示例县教育局
    """
    from ..campaign.status import campaign_status, write_status_xlsx

    if history is not None:
        _print_history(directory, history)
        return
    status = campaign_status(directory)
    if xlsx:
        write_status_xlsx(status, xlsx)
    if as_json:
        keys = ("name", "code", "status", "errors", "warnings", "received_at", "reminders", "reason", "check", "file", "from_report")
        out = {"agencies": [{k: a[k] for k in keys} for a in status["agencies"]], "totals": status["totals"]}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    tot = status["totals"]
    summary = (
        f"共 {len(status['agencies'])} 个单位：合格 {tot['valid']}，有错误 {tot['invalid']}，"
        f"无法读取 {tot['unreadable']}，未报送 {tot['missing']}；单位不明的文件 {status['unassigned']} 个"
    )
    say(summary)
    if status["unassigned"]:
        say(_ASSIGN_HINT.format(escape(str(directory))))
    if problems:
        late = [a for a in status["agencies"] if a["status"] != "valid" or a["check"]]
        rows = []
        for a in late:
            why = a["reason"] or ("未收到报表" + ("（名册中没有电子邮箱，未发邮件）" if not a["email"] else "") if a["status"] == "missing" else "")
            if a["status"] == "invalid" and a["errors"] > 1:
                why += f"（共 {a['errors']} 处错误）"
            where = f"文件 {a['file_label']}" if a["file_label"] else ""
            rows.append((Text(a["name"]), _status_text(a["status"]), Text("；".join(x for x in (why, where, a["check"]) if x))))
        if rows:
            console.print(message_table(console, ("单位名称", "状态", "原因"), rows, message_column=2))
        else:
            say("没有需要处理的单位。")
    else:
        agency_rows = [
            (Text(a["name"]), _status_text(a["status"], a["from_report"]), str(a["received"]), _local(a["received_at"]), str(a["reminders"]))
            for a in status["agencies"]
        ]
        console.print(message_table(console, ("单位名称", "状态", "收到文件", "最近收到", "已催报"), agency_rows, message_column=0))
        if tot["valid"] < len(status["agencies"]) or any(a["check"] for a in status["agencies"]):
            say(f"需要处理的单位和原因：xlsxgov campaign status {escape(str(directory))} --problems")
    if xlsx:
        say(f"已保存进度表：{escape(str(xlsx))}")


STATUS_COLOURS = {"valid": "green", "invalid": "red", "missing": "yellow", "unreadable": "magenta", "withdrawn": "dim", "unknown": "magenta"}


def _status_text(status: str, from_report: bool = False) -> Text:
    text = Text(STATUS_LABELS.get(status, "已撤回" if status == "withdrawn" else status), style=STATUS_COLOURS.get(status, ""))
    if from_report:
        text.append("（取自年度报告）")
    return text


def _local(utc_iso: str | None) -> str:
    """A ledger time (UTC) as Beijing time, to the minute, without the year."""
    from ..campaign.status import beijing_time

    return beijing_time(utc_iso, "%m-%d %H:%M")


def _print_history(directory: Path, agency: str) -> None:
    from ..campaign.resolve import history

    found, entries = history(directory, agency)
    say(f"{escape(found.name)}（{found.code}）的记录：")
    rows = []
    for e in entries:
        if e.what == "收到":
            state = _status_text(e.status)
            if e.current:
                state.append("（当前）")
            rows.append((Text(f"收到 {e.detail}（编号 {e.submission_id}）"), state, _local(e.at)))
        else:
            rows.append((Text(f"{e.what}：{e.detail}"), Text(e.who), _local(e.at)))
    if rows:
        console.print(message_table(console, ("经过", "结果/操作人", "时间"), rows))
    else:
        say("还没有收到这个单位的文件。")


@campaign_app.command("assign")
def assign_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    file: str = typer.Argument(..., help="单位不明或已撤回的文件：导入时列出的文件名、quarantine/ 中的文件，或其 SHA-256 前 8 位以上", metavar="文件"),
    agency: str = typer.Argument(..., help="名册中的单位：名称或统一社会信用代码", metavar="单位"),
) -> None:
    """把单位不明的文件分配给名册中的单位，按该单位的报表重新校验并记入台账（记录操作人和时间）。

    被认错单位而撤回（campaign withdraw）的文件，也用本命令分配给真正报送的单位。

    示例：
      xlsxgov campaign assign 任务 年报.xlsx 示例县教育局
      xlsxgov campaign assign 任务 任务/quarantine/3f2a9c1b0d4e_年报.xlsx 示例县教育局
      xlsxgov campaign assign 任务 3f2a9c1b 11350127MB0100010N
    """
    from ..campaign.resolve import assign

    r = assign(directory, file, agency)
    line = f"已把文件{escape(r.label)}分配给{escape(r.agency.name)}：[{STATUS_COLOURS.get(r.status, '')}]{STATUS_LABELS.get(r.status, r.status)}[/]"
    if r.status == "invalid":
        line += f"（错误 {r.errors} 处）"
    say(line)
    if r.note:
        say(f"[yellow]{escape(r.note)}[/yellow]")
    if r.feedback:
        say(_FEEDBACK_HINT.format(escape(str(directory))))


@campaign_app.command("withdraw")
def withdraw_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    agency: str = typer.Argument(..., help="名册中的单位：名称或统一社会信用代码", metavar="单位"),
    submission: Optional[int] = typer.Option(None, "--submission", help="要撤回的报送编号（见 status --history；默认为当前报表）", metavar="编号"),
    note: str = typer.Option("", "--note", help="撤回原因（记入台账）"),
) -> None:
    """撤回误导入的报表：不删除任何文件和记录，该单位上一份报表重新成为当前报表（记录操作人和时间）。

    示例：
      xlsxgov campaign withdraw 任务 示例县教育局 --note 误报了去年的表
      xlsxgov campaign withdraw 任务 示例县教育局 --submission 12
    """
    from ..campaign.resolve import withdraw

    r = withdraw(directory, agency, submission, note)
    say(f"已撤回{escape(r.agency.name)}的报送{escape(r.label)}（编号 {r.submission_id}，撤回前为{STATUS_LABELS.get(r.was, r.was)}）")
    if r.now_current:
        say(f"当前报表改为{escape(r.now_current)}")
    else:
        say(f"{escape(r.agency.name)}现在没有当前报表，状态为未报送")
