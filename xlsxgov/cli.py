"""The ``xlsxgov`` command: a thin Typer layer, every command one call into the library."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import spec as spec_mod
from .template import Meta, write_template

app = typer.Typer(
    help="政府信息公开工作年度报告统计表：生成模板、校验、汇总。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EditionOption = typer.Option(spec_mod.DEFAULT_EDITION, "-e", "--edition", help="表格版本：gov2021（默认）、gov2019、legacy2008，或规格文件路径")


def _load_spec(edition: str) -> spec_mod.Spec:
    try:
        return spec_mod.load(edition)
    except spec_mod.SpecError as exc:
        err_console.print(f"[red]错误：[/red]{exc}")
        raise typer.Exit(2) from None


@app.command("template")
def template_command(
    output: Path = typer.Option(..., "-o", "--output", help="输出的 .xlsx 文件"),
    edition: str = EditionOption,
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，例如 2024"),
    agency: str = typer.Option("", "--agency", help="单位名称"),
    code: str = typer.Option("", "--code", help="统一社会信用代码"),
    region: str = typer.Option("", "--region", help="所属地区"),
    password: Optional[str] = typer.Option(None, "--password", help="工作表保护密码（默认不设密码）"),
) -> None:
    """生成填报模板（每张法定表格一个工作表，带数据验证、合计公式、勾稽校验和保护）。"""
    spec = _load_spec(edition)
    if output.suffix.lower() != ".xlsx":
        err_console.print(f"[red]错误：[/red]输出文件 {output} 必须以 .xlsx 结尾")
        raise typer.Exit(2)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_template(output, spec, Meta(year=year, agency=agency, code=code, region=region), password=password)
    console.print(f"已生成模板：{output}（{spec.name}）")


def _load_previous(previous: Optional[Path]):
    """Last year's data for --previous; a bad path ends the command with its reason."""
    from .crossyear import PreviousError, load_previous

    if previous is None:
        return None
    try:
        prev = load_previous(previous)
    except PreviousError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        raise typer.Exit(2) from None
    for problem in prev.problems:
        err_console.print(f"[yellow]注意（上年数据）：[/yellow]{problem}", highlight=False)
    return prev


def main() -> None:  # pragma: no cover - console script entry
    app()


# ---------------------------------------------------------------------------------------------
# validate / export

STATUS_LABELS = {"valid": "合格", "invalid": "有错误", "unreadable": "无法读取", "missing": "未报送"}


@app.command("validate")
def validate_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿（.xlsx .xlsm .xls .ods）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（结构见 README）"),
    feedback: Optional[Path] = typer.Option(None, "--feedback", help="为有问题的文件生成反馈工作簿的目录"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理等）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年数据：上年的工作簿、汇总工作簿、文件夹或报送任务目录，用于跨年度校验"),
) -> None:
    """校验报送的工作簿：勾稽关系、数值格式、封面信息。退出码 0 全部合格，1 有错误，2 有文件无法读取。"""
    import json

    from .feedback import feedback_path, write_feedback
    from .validate import validate_paths

    if edition:
        _load_spec(edition)
    prev = _load_previous(previous)
    reports = validate_paths(files, edition=edition, previous=prev)
    if feedback:
        feedback.mkdir(parents=True, exist_ok=True)
        for rep in reports:
            if rep.submission and any(f.severity != "info" for f in rep.findings):
                write_feedback(rep.submission, rep.findings, feedback_path(feedback, rep.submission))
    if as_json:
        print(json.dumps({"files": [r.as_json() for r in reports]}, ensure_ascii=False, indent=1))
    else:
        _print_reports(reports, show_info=show_info)
    if any(r.status == "unreadable" for r in reports):
        raise typer.Exit(2)
    if any(r.status == "invalid" for r in reports):
        raise typer.Exit(1)


def _print_reports(reports, *, show_info: bool) -> None:
    from rich.table import Table as RichTable

    from .findings import SEVERITY_LABELS

    colours = {"valid": "green", "invalid": "red", "unreadable": "magenta"}
    detailed = len(reports) <= 5
    for rep in reports:
        sub = rep.submission
        who = f"{sub.agency or '（未填单位名称）'} {sub.year or ''}年 {sub.spec.name}" if sub else ""
        status = f"[{colours[rep.status]}]{STATUS_LABELS[rep.status]}[/]"
        line = f"{status} {rep.path}  {who}"
        if rep.status == "unreadable":
            line += f"  {rep.reason}"
        else:
            line += f"  错误 {rep.errors} 项，警告 {rep.warnings} 项"
        console.print(line, highlight=False)
        shown = [f for f in rep.findings if show_info or f.severity != "info"]
        if detailed and shown:
            t = RichTable(show_lines=False, header_style="bold")
            for h in ("级别", "规则", "位置", "说明"):
                t.add_column(h, overflow="fold")
            for f in shown:
                t.add_row(SEVERITY_LABELS[f.severity], f.rule, f.where, f.message)
            console.print(t)
    if len(reports) > 1:
        counts = {s: sum(1 for r in reports if r.status == s) for s in ("valid", "invalid", "unreadable")}
        console.print(f"共 {len(reports)} 个文件：合格 {counts['valid']}，有错误 {counts['invalid']}，无法读取 {counts['unreadable']}")


@app.command("export")
def export_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿、汇总工作簿，或报送任务目录"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件：.csv 或 .parquet"),
    detail: bool = typer.Option(False, "--detail", help="汇总工作簿还导出“明细”表中各单位的数据（sheet 列为“明细”）"),
) -> None:
    """把工作簿中的全部数据导出为一张长表（每个单元格一行）。

    报送任务目录：导出名册中各单位当前报送的报表（合格和有错误的，status 列区分），单位名称和代码取自名册。"""
    from .consolidate import is_campaign
    from .export import export_facts

    if output.suffix.lower() not in (".csv", ".parquet"):
        err_console.print(f"[red]错误：[/red]输出文件 {output} 必须以 .csv 或 .parquet 结尾")
        raise typer.Exit(2)
    folders = [f for f in files if f.is_dir() and not is_campaign(f)]
    if folders:
        err_console.print(f"[red]错误：[/red]“{folders[0]}”是目录，但不是报送任务目录（其中没有 ledger.sqlite）", highlight=False)
        raise typer.Exit(2)
    result = export_facts(files, output, detail=detail)
    for problem in result.unreadable:
        err_console.print(f"[magenta]无法读取：[/magenta]{problem}", highlight=False)
    if result.skipped:
        console.print(f"没有数据的单位 {len(result.skipped)} 个：{'；'.join(result.skipped)}", highlight=False)
    console.print(f"已导出 {result.rows} 行（{result.files} 个文件）到 {output}", highlight=False)
    if result.unreadable:
        raise typer.Exit(2)


@app.command("extract")
def extract_command(
    files: list[Path] = typer.Argument(..., help="年度报告文件：.docx .html .htm .mht .pdf .txt，以及经 LibreOffice 转换的 .doc .wps .rtf .odt"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（与 validate --json 结构相同）"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="写出填好数据的模板：一个文件时为 .xlsx 文件，多个文件时为目录"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理、数字拆分等）"),
) -> None:
    """从年度报告文档中读出法定表格（按表格标签定位），校验勾稽关系。退出码 0 全部合格，1 有错误，2 有文件无法读取。"""
    import json

    from .extract import extract_paths
    from .template import Meta, write_workbook

    if edition:
        _load_spec(edition)
    reports = extract_paths(files, edition=edition)
    if output is not None:
        to_dir = len(files) > 1 or output.is_dir() or output.suffix.lower() != ".xlsx"
        if to_dir:
            output.mkdir(parents=True, exist_ok=True)
        for rep in reports:
            sub = rep.submission
            if sub is None:
                continue
            target = output / f"{rep.path.stem}.xlsx" if to_dir else output
            write_workbook(target, sub.spec, Meta(year=sub.year, agency=sub.agency), values=sub.inputs)
            if not as_json:
                console.print(f"已写出 {target}", highlight=False, markup=False)
    if as_json:
        print(json.dumps({"files": [r.as_json() for r in reports]}, ensure_ascii=False, indent=1))
    else:
        _print_reports(reports, show_info=show_info)
    if any(r.status == "unreadable" for r in reports):
        raise typer.Exit(2)
    if any(r.status == "invalid" for r in reports):
        raise typer.Exit(1)


@app.command("audit")
def audit_command(
    items: list[Path] = typer.Argument(..., help="存放已公开年度报告的文件夹或报告文件"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="审查结果工作簿（.xlsx）：“报告”“问题”两个工作表"),
) -> None:
    """审查一个地区一年已公开的年度报告：每份报告一行（单位、年度、表格版本、状态、不通过的规则）。"""
    from rich.table import Table as RichTable

    from .extract.audit import STATUS_LABELS as AUDIT_STATUS, audit_paths, failing_rules, write_audit

    reports = audit_paths(items)
    if not reports:
        err_console.print("[red]错误：[/red]没有找到年度报告文件（.docx .html .htm .mht .pdf .txt .doc .wps .rtf .odt）")
        raise typer.Exit(2)
    t = RichTable(header_style="bold")
    for h in ("文件", "单位", "年度", "版本", "状态", "不通过的规则"):
        t.add_column(h, overflow="fold")
    for rep in reports:
        sub = rep.submission
        t.add_row(rep.path.name, sub.agency if sub else "", str(sub.year or "") if sub else "", sub.edition if sub else "",
                  AUDIT_STATUS[rep.status], failing_rules(rep) or (rep.reason or ""))
    console.print(t)
    counts = {s: sum(1 for r in reports if r.status == s) for s in AUDIT_STATUS}
    console.print(f"共 {len(reports)} 份报告：合格 {counts['valid']}，有错误 {counts['invalid']}，无法读取 {counts['unreadable']}", highlight=False)
    if output is not None:
        write_audit(reports, output)
        console.print(f"已写出 {output}", highlight=False, markup=False)


@app.command("demo")
def demo_command(
    directory: Path = typer.Argument(Path("demo"), help="演示用的新目录（以前的演示目录会清空重建，其他已有目录不会动）"),
    agencies: int = typer.Option(50, "--agencies", help="模拟单位数量（最多50）"),
) -> None:
    """演示一次完整的报送任务：名册 → 下发模板 → 单位填报（含几份常见错误、一份 .xls、邮件回复）→ 导入台账 → 进度 → 汇总 → 网页表格。"""
    from .demo import run_demo

    try:
        r = run_demo(directory, n=agencies)
    except FileExistsError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        raise typer.Exit(2) from None
    campaign = r.directory / "campaign"
    tot, c = r.status["totals"], r.consolidation
    first, second = r.rounds[0], r.rounds[1]
    feedback = sorted((campaign / "feedback").glob("*.xlsx"))
    say = lambda text: console.print(text, highlight=False)  # noqa: E731
    say(f"[bold]演示完成[/bold]（用时 {r.seconds:.1f} 秒）：{c.region} {c.year} 年度，{len(r.agencies)} 个单位，报送任务目录 {campaign}")
    say(f"1. 名册：{r.roster}（{len(r.agencies)} 个单位，统一社会信用代码已校验）")
    say(f"2. 下发：{campaign / 'outbox'}（{len(r.issued.templates)} 份预填单位信息的模板，{len(r.issued.emls)} 封待发邮件）")
    xls = f"，其中 .xls {r.delivered['xls']} 份" if r.delivered["xls"] else ""
    say(f"3. 收回：第一轮 {len(first.files)} 个文件（放入 inbox {r.delivered['files']} 个，邮件回复 {r.delivered['emails']} 封{xls}）；"
        f"第二轮收到修改稿 {len(second.files) - second.count('duplicate')} 份，已导入的 {second.count('duplicate')} 个文件自动跳过")
    say(f"4. 进度：合格 {tot['valid']}，有错误 {tot['invalid']}，无法读取 {tot['unreadable']}，未报送 {tot['missing']} → {r.status_xlsx}")
    for x in c.left_out:
        reason = x.reason.split("；")[0]  # the first error
        reason = reason if len(reason) <= 110 else reason[:110] + "……"
        say(f"   [red]{STATUS_LABELS.get(x.status, x.status)}[/red] {x.name}：{reason}")
    if c.missing:
        say(f"   [yellow]未报送[/yellow] {'、'.join(m.name for m in c.missing)}")
    say(f"5. 反馈工作簿：{campaign / 'feedback'}（{len(feedback)} 份，问题单元格标红并附说明，可发回单位修改）")
    say(f"6. 汇总工作簿：{c.path}（汇总 {c.consolidates} 个单位；未报送和未汇总的单位见“未报送”表）")
    say(f"7. 网页表格：{r.html}")
    say(f"8. 各单位数据：{r.facts}")
    for note in r.notes:
        say(f"[yellow]说明：[/yellow]{note}")
    say(f"可继续试用：xlsxgov campaign status {campaign}    xlsxgov validate {c.path}")
    from .demo import DEMO_ADMIN, DEMO_PORTAL

    say(f"报送平台：启动后打开 {DEMO_PORTAL}/login（用户名 {DEMO_ADMIN}，密码 {r.admin_password}）；"
        f"各单位的专属链接见 {campaign / 'outbox' / 'links.csv'}。启动命令：")
    print(f"xlsxgov serve {campaign}")


@app.command("render")
def render_command(
    file: Path = typer.Argument(..., help="报送的工作簿或汇总工作簿"),
    output: Path = typer.Option(..., "-o", "--output", help="输出的 .html 或 .md 文件"),
    fmt: str = typer.Option("html", "--format", help="html（默认）或 md"),
) -> None:
    """把工作簿中的三张法定表格输出为可直接发布的网页表格（HTML）或 Markdown。"""
    from .reader import Unreadable, read_workbook
    from .render import render_tables

    if fmt not in ("html", "md"):
        err_console.print("[red]错误：[/red]--format 只能是 html 或 md")
        raise typer.Exit(2)
    try:
        sub = read_workbook(file)
    except Unreadable as exc:
        err_console.print(f"[red]无法读取 {file}：[/red]{exc.reason}")
        raise typer.Exit(2) from None
    title = f"{sub.agency}{sub.year or ''}年政府信息公开工作年度报告" if sub.agency else None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_tables(sub.spec, sub.values, fmt=fmt, title=title), encoding="utf-8")
    console.print(f"已输出：{output}")


# ---------------------------------------------------------------------------------------------
# consolidate


@app.command("consolidate")
def consolidate_command(
    files: list[Path] = typer.Argument(..., help="报送任务目录，或各单位报送的工作簿、下级的汇总工作簿"),
    output: Path = typer.Option(..., "-o", "--output", help="输出的汇总工作簿（.xlsx）"),
    region: str = typer.Option("", "--region", help="汇总地区名称，例如 某某区（报送任务默认取任务的地区）"),
    include_invalid: bool = typer.Option(False, "--include-invalid", help="有错误的文件也计入汇总（默认不计入）"),
    year: Optional[int] = typer.Option(None, "--year", help="汇总年度；其他年度的文件不计入"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年数据：上年的汇总工作簿、工作簿、文件夹或报送任务目录，用于跨年度校验"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="只汇总这一版本的报表，其他版本的文件列入“未报送”表（报送任务取任务的版本）"),
) -> None:
    """汇总多个单位的报表为一个地区汇总工作簿（可再向上一级汇总）。

    参数为一个报送任务目录时，汇总各单位当前合格的报表，名册中未报送、有错误或无法读取的单位列入“未报送”表。"""
    from .consolidate import ConsolidationError, consolidate_campaign, consolidate_files, is_campaign

    if output.suffix.lower() != ".xlsx":
        err_console.print(f"[red]错误：[/red]输出文件 {output} 必须以 .xlsx 结尾")
        raise typer.Exit(2)
    campaign = len(files) == 1 and is_campaign(files[0])
    folders = [f for f in files if f.is_dir()]
    if folders and not campaign:
        if is_campaign(folders[0]):
            err_console.print(f"[red]错误：[/red]“{folders[0]}”是报送任务目录：汇总报送任务时只能给出这一个目录，不能再加其他文件", highlight=False)
        else:
            err_console.print(f"[red]错误：[/red]“{folders[0]}”是目录，但不是报送任务目录（其中没有 ledger.sqlite）", highlight=False)
        raise typer.Exit(2)
    if campaign and (year is not None or edition is not None):
        err_console.print("[red]错误：[/red]汇总报送任务时年度和表格版本取自任务本身，不能再指定 --year 或 -e", highlight=False)
        raise typer.Exit(2)
    if edition:
        _load_spec(edition)
    from .crossyear import consolidation_findings

    prev = _load_previous(previous)
    try:
        if campaign:
            result = consolidate_campaign(files[0], output, region=region or None, include_invalid=include_invalid)
            if prev is not None:
                result.cross_year = consolidation_findings(result, prev)
        else:
            result = consolidate_files(files, output, region=region, include_invalid=include_invalid, year=year, previous=prev, edition=edition)
    except ConsolidationError as exc:
        err_console.print(f"[red]错误：[/red]{exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"已汇总 {len(result.included)} 份报表（共 {result.consolidates} 个单位），{result.spec.name}，{result.year or ''}年度", highlight=False)
    if result.left_out:
        console.print(f"未汇总 {len(result.left_out)} 个文件：", highlight=False)
        for x in result.left_out:
            console.print(f"  [magenta]{x.name}[/magenta]：{x.reason}", highlight=False)
    if result.missing:
        console.print(f"未报送 {len(result.missing)} 个单位：{'、'.join(m.name for m in result.missing)}", highlight=False)
    for w in result.warnings:
        console.print(f"[yellow]注意：[/yellow]{w}", highlight=False)
    if prev is not None:
        shown = [f for f in result.cross_year if f.severity != "info"]
        notes = len(result.cross_year) - len(shown)
        console.print(f"跨年度校验（上年数据：{previous}）：警告 {len(shown)} 项，提示 {notes} 项", highlight=False)
        for f in shown:
            console.print(f"  [yellow]警告[/yellow] {f.rule} {f.where}：{f.message}", highlight=False)
    console.print(f"汇总工作簿：{result.path}", highlight=False)

from .campaign.commands import campaign_app  # noqa: E402

app.add_typer(campaign_app, name="campaign")

from .web.commands import serve_command, user_app  # noqa: E402

app.add_typer(user_app, name="user")
app.command("serve")(serve_command)
