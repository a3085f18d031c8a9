"""``xlsxgov template`` and ``xlsxgov render``: workbooks and pages made from an edition spec."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import XlsxgovError
from .base import EditionOption, app, fail, say


@app.command("template")
def template_command(
    output: Path = typer.Option(..., "-o", "--output", help="输出的 .xlsx 文件"),
    edition: str = EditionOption,
    year: Optional[int] = typer.Option(None, "--year", help="报告年度（2008–2100），例如 2025"),
    agency: str = typer.Option("", "--agency", help="单位名称"),
    code: str = typer.Option("", "--code", help="统一社会信用代码（18 位，校验位须正确）"),
    region: str = typer.Option("", "--region", help="所属地区"),
    password: Optional[str] = typer.Option(None, "--password", help="工作表保护密码（默认不设密码）"),
) -> None:
    """生成填报模板（每张法定表格一个工作表，带数据验证、合计公式、勾稽校验和保护）。

    示例：
      xlsxgov template -o 模板.xlsx --year 2025
      xlsxgov template -o 教育局.xlsx --year 2025 --agency 示例县教育局
        --code 11350127MB0100010N --region 示例县
    """
    from ..template import Meta, write_template

    from .. import spec as spec_mod
    from ..campaign.init import check_year
    from ..campaign.roster import uscc_error

    problems = []  # every bad option at once: the clerk fixes the command in one go
    if year is not None:
        try:
            check_year(year)
        except XlsxgovError as exc:
            problems.append(exc.message_zh)
    if code and (problem := uscc_error(code)):
        problems.append(f"--code 不是有效的统一社会信用代码：{problem}")
    if problems:
        fail("\n".join(problems))
    spec = spec_mod.load(edition)
    if output.suffix.lower() != ".xlsx":
        fail(f"输出文件 {output} 必须以 .xlsx 结尾")
    output.parent.mkdir(parents=True, exist_ok=True)
    write_template(output, spec, Meta(year=year, agency=agency, code=code, region=region), password=password)
    say(f"已生成模板：{output}（{spec.name}）")


@app.command("render")
def render_command(
    file: Path = typer.Argument(..., help="报送的工作簿或汇总工作簿", metavar="工作簿"),
    output: Path = typer.Option(..., "-o", "--output", help="输出的 .html 或 .md 文件"),
    fmt: Optional[str] = typer.Option(None, "--format", help="html 或 md（默认按输出文件的扩展名：.html 或 .md）"),
) -> None:
    """把工作簿中的三张法定表格输出为可直接发布的网页表格（HTML）或 Markdown。

    示例：
      xlsxgov render 汇总.xlsx -o 汇总.html
      xlsxgov render 教育局.xlsx -o 教育局.md
    """
    from ..render import render_file

    render_file(file, output, fmt)
    say(f"已输出：{output}")
