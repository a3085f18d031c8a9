"""The rule catalogue: every rule id a finding can carry is catalogued, documented in the README
(the table is generated from the catalogue) and listed by ``xlsxgov rules``."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import xlsxgov
from xlsxgov import rules, spec as spec_mod
from xlsxgov.values import Kind

PACKAGE = Path(xlsxgov.__file__).parent
README = PACKAGE.parent / "README.md"
XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
RULE_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def rule_ids_in_code() -> set[str]:
    """Rule ids the code writes into findings: the literal second argument of every Finding(...)
    (f"cell.{kind.value}" expanded over the cell kinds, a variable followed to the strings
    assigned to it in the same function), and the rules the campaign import records."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                strings = {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
                assigned.setdefault(node.targets[0].id, set()).update(strings)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Finding"):
                continue
            if len(node.args) < 2:
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Constant):
                found.add(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                assert prefix == "cell.", ast.unparse(arg)  # the one computed id: cell.<kind>
                found |= {f"cell.{k.value}" for k in Kind}
            elif isinstance(arg, ast.Name) and arg.id == "rule":
                found |= {s for s in assigned.get("rule", set()) if RULE_ID.fullmatch(s)}
    return found | {"file.unreadable", "agency.unknown"}  # recorded by the campaign import (store.record_submission)


def test_every_rule_of_the_code_and_the_specs_is_catalogued():
    ids = {r.id for r in rules.catalogue()}
    in_code = rule_ids_in_code()
    assert {"t3.balance", "t3.carry_over", "cell.error_value", "blank", "cover.code"} <= in_code | ids
    assert in_code - ids == set(), "rule ids written by the code but missing from rules.BUILTIN"
    for edition in spec_mod.available_editions():
        spec_ids = {c.id for c in spec_mod.load(edition).checks}
        assert spec_ids <= {r.id for r in rules.catalogue(edition)}, edition


def test_readme_rule_table_is_generated_from_the_catalogue():
    section = rules.readme_section(README.read_text(encoding="utf-8"))
    assert section == rules.markdown(rules.catalogue()), "run: python -m xlsxgov.rules README.md"
    for rule in rules.catalogue():
        assert f"`{rule.id}`" in section, f"{rule.id} is not documented in README.md"


def test_expression_text_is_the_spec_rule():
    balance = next(r for r in rules.catalogue("gov2021") if r.id == "t3.balance")
    assert balance.expression == "new + carried_in == results_total + carried_over"
    assert balance.severity == "error" and balance.name == "第一项加第二项之和应等于第三项加第四项之和"


def test_cli_rules_json_and_unknown_edition():
    p = subprocess.run([XLSXGOV, "rules", "-e", "gov2019", "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    listed = json.loads(p.stdout)["rules"]
    assert [r["id"] for r in listed] == [r.id for r in rules.catalogue("gov2019")]
    assert {"id", "severity", "name", "expression", "message", "scope"} <= set(listed[0])
    p = subprocess.run([XLSXGOV, "rules", "-e", "gov1999"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "未知的表格版本" in p.stderr and "Traceback" not in p.stderr
