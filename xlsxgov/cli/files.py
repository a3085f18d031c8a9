"""``xlsxgov validate`` and ``xlsxgov export``: check returned workbooks, export their data."""

from __future__ import annotations

import json
from collections import Counter
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from ..safetext import for_markup as escape  # data, never markup nor terminal control

from ..vocab import SEVERITY_LABELS, STATUS_LABELS
from .base import app, console, err_console, exit_code, fail, say
from .text import message_table


def load_previous(previous: Optional[Path]):
    """Last year's data for --previous (None without it); its problems are printed as notes.

    A bad path raises ``PreviousError`` (an ``XlsxgovError``), which ends the command."""
    from ..crossyear import load_previous as load

    if previous is None:
        return None
    prev = load(previous)
    for problem in prev.problems:
        err_console.print(f"[yellow]注意（上年数据）：[/yellow]{escape(problem)}", highlight=False)
    return prev


@app.command("validate")
def validate_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿（.xlsx .xlsm .xls .ods），或存放工作簿的文件夹", metavar="文件或文件夹"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（结构见 README，含规则编号）"),
    feedback: Optional[Path] = typer.Option(None, "--feedback", help="为有问题的文件生成反馈工作簿的目录", metavar="目录"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理等）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年数据：上年的工作簿、汇总工作簿、文件夹或报送任务目录，用于跨年度校验"),
) -> None:
    """校验报送的工作簿：勾稽关系、数值格式、封面信息。退出码 0 全部合格，1 有错误，2 有文件无法读取。

    示例：
      xlsxgov validate 教育局.xlsx
      xlsxgov validate 回复 --feedback 反馈
    """
    from ..crossyear import folder_files
    from ..feedback import FeedbackFolder
    from ..review import iter_review

    paths: list[Path] = []
    not_workbooks: list[str] = []  # files of a given folder left out, and why: said, never silently skipped
    for f in files:
        if f.is_dir():
            found, others = folder_files(f)
            if not found:  # fail's message is data, shown as is
                fail(f"文件夹“{f}”中没有工作簿（.xlsx .xlsm .xls .ods）" + "".join(f"\n{o}：{why}" for o, why in others[:NOT_WORKBOOKS_SHOWN]))
            not_workbooks += [f"{escape(str(o))}：{escape(why)}" for o, why in others]
            paths += found
        else:
            paths.append(f)
    # Streamed: each report is written and dropped as it comes, so memory does not grow with
    # the number of files (issue #13: 5,000 files in under 400 MB).
    folder = FeedbackFolder(feedback) if feedback else None
    reports = iter_review(paths, edition=edition, previous=load_previous(previous), feedback_dir=folder)
    seen: set[str] = set()
    if as_json:
        out = sys.stdout
        out.write('{"files": [')
        for i, rep in enumerate(reports):
            out.write(("," if i else "") + "\n" + json.dumps(rep.as_json(), ensure_ascii=False))
            seen.add(rep.status)
        out.write("\n]}\n")
        out.flush()
        _say_not_workbooks(not_workbooks, "未校验", to_stderr=True)  # stdout is the JSON
    else:
        for rep in _print_each(reports, len(paths), show_info=show_info, feedback=feedback):
            seen.add(rep.status)
        _say_not_workbooks(not_workbooks, "未校验")
        written = folder.written if folder else []
        names = Counter(src.name for src, _ in written)  # two files of one name in two folders: say which
        for src, path in written:
            say(f"问题反馈：{escape(src.name if names[src.name] == 1 else str(src))} → {escape(str(path))}")
    if exit_code(seen):
        raise typer.Exit(exit_code(seen))


NOT_WORKBOOKS_SHOWN = 20  # files of a folder that are no workbook, listed one a line; the rest counted


def _say_not_workbooks(lines: list[str], verb: str, *, to_stderr: bool = False) -> None:
    """The files of the folders given that are no workbook (``crossyear.folder_files``, escaped
    "path：why" lines): a count, then one line each, up to NOT_WORKBOOKS_SHOWN."""
    if not lines:
        return
    shown = [f"{verb} {len(lines)} 个文件（不是工作簿）：", *(f"  {line}" for line in lines[:NOT_WORKBOOKS_SHOWN])]
    if len(lines) > NOT_WORKBOOKS_SHOWN:
        shown.append(f"  ……另有 {len(lines) - NOT_WORKBOOKS_SHOWN} 个")
    for line in shown:
        if to_stderr:
            err_console.print(line, highlight=False)
        else:
            say(line)


# With more files than this, each file shows only its first problems (the feedback has them all).
ALL_PROBLEMS_UP_TO = 3
FIRST_PROBLEMS = 3


def _print_reports(reports, *, show_info: bool, feedback: Optional[Path] = None) -> None:
    """Print a list of reports as :func:`_print_each` does."""
    for _ in _print_each(reports, len(reports), show_info=show_info, feedback=feedback):
        pass


def _print_each(reports, total: int, *, show_info: bool, feedback: Optional[Path] = None):
    """Per file a line (status, file, agency, counts), then its problems as a table that leads
    with the message (the numbers on both sides) and says where; rule ids only in --json.
    ``reports`` is consumed as it comes (``total`` of them) and each report is yielded back
    once printed."""
    colours = {"valid": "green", "invalid": "red", "unreadable": "magenta"}
    severity_styles = {"error": "red", "warning": "yellow", "info": "cyan"}
    few = total <= ALL_PROBLEMS_UP_TO
    cut = False
    counts = {"valid": 0, "invalid": 0, "unreadable": 0}
    n = 0
    for rep in reports:
        n += 1
        counts[rep.status] += 1
        sub = rep.submission
        who = f"{sub.agency or '（未填单位名称）'} {sub.year or ''}年 {sub.spec.name}" if sub else ""
        status = f"[{colours[rep.status]}]{STATUS_LABELS[rep.status]}[/]"
        line = f"{status} {escape(str(rep.path))}  {escape(who)}"
        if rep.status == "unreadable":
            line += f"  {escape(rep.reason)}"
        else:
            line += f"  错误 {rep.errors} 项，警告 {rep.warnings} 项"
        say(line)
        shown = [f for f in rep.findings if show_info or f.severity != "info"]
        if not few and len(shown) > FIRST_PROBLEMS:
            rest, shown = len(shown) - FIRST_PROBLEMS, shown[:FIRST_PROBLEMS]
            cut = True
        else:
            rest = 0
        if shown:
            rows = [
                (
                    Text(SEVERITY_LABELS[f.severity] + " ", style=severity_styles.get(f.severity, "")) + Text(f.message),
                    Text(f.place(sub.spec if sub else None)),
                )
                for f in shown
            ]
            console.print(message_table(console, ("说明", "位置"), rows))
        if rest:
            say(f"  ……另有 {rest} 项")
        yield rep
    if n > 1:
        say(f"共 {n} 个文件：合格 {counts['valid']}，有错误 {counts['invalid']}，无法读取 {counts['unreadable']}")
    if cut and feedback is None:
        say("每个文件只列了前几项问题；全部问题请用 --feedback 目录 生成问题反馈工作簿查看（或 --json）")


@app.command("export")
def export_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿、汇总工作簿、存放工作簿的文件夹，或报送任务目录", metavar="文件"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件：.csv、.xlsx 或 .parquet"),
    detail: bool = typer.Option(False, "--detail", help="汇总工作簿还导出“明细”表中各单位的数据（sheet 列为“明细”）"),
) -> None:
    """把工作簿中的全部数据导出为一张长表（每个单元格一行）。

    报送任务目录：导出名册中各单位当前报送的报表（合格和有错误的，status 列区分），单位名称和代码取自名册；
    其他文件夹：导出其中的工作簿（与 validate 相同）。
    .xlsx 中统一社会信用代码等文字列保存为文本（CSV 用 Excel 打开时会变成 9.13501E+17）。

    示例：
      xlsxgov export 任务 -o 各单位数据.xlsx
      xlsxgov export 汇总.xlsx --detail -o 数据.csv
    """
    from ..export import export_facts

    result = export_facts(files, output, detail=detail)
    _say_not_workbooks([escape(line) for line in result.not_workbooks], "未导出")
    for problem in result.unreadable:
        err_console.print(f"[magenta]无法读取：[/magenta]{escape(problem)}", highlight=False)
    if result.skipped:
        say(f"没有数据的单位 {len(result.skipped)} 个：{escape('；'.join(result.skipped))}")
    say(f"已导出 {result.rows} 行（{result.files} 个文件）到 {escape(str(output))}")
    if result.unreadable:
        raise typer.Exit(2)
