"""``xlsxgov rules``: the rule catalogue (every rule id, its severity, name, expression, message)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table

from ..vocab import SEVERITY_LABELS
from .base import app, console


@app.command("rules")
def rules_command(
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="只列出这一版本的规则（默认列出所有版本）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """列出全部校验规则：规则编号、级别、名称、表达式（--json 另含提示信息模板和适用版本）。

    示例：
      xlsxgov rules -e gov2021
    """
    from ..rules import catalogue

    rules = catalogue(edition)
    if as_json:
        print(json.dumps({"rules": [r.as_json() for r in rules]}, ensure_ascii=False, indent=1))
        return
    t = Table(header_style="bold")
    t.add_column("规则", no_wrap=True)
    t.add_column("级别", no_wrap=True)
    for h in ("名称", "表达式"):
        t.add_column(h, overflow="fold")
    for r in rules:
        t.add_row(escape(r.id), SEVERITY_LABELS[r.severity], escape(r.name), escape(r.expression))
    console.print(t)
    console.print(f"共 {len(rules)} 条规则；提示信息模板和适用版本见 --json", highlight=False)
