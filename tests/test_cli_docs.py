"""The command line documents itself, in Chinese, for clerks (issue #9 points 12 and the README).

- every command (walked from the Typer app, so a new one is covered without editing this file)
  is documented in README.md as `xlsxgov <command path>`, like sqlite-utils' documentation test;
- every command's ``--help`` has an example (示例) that starts with the command itself, is
  Chinese throughout (no Click/Typer English: Usage, Options, [required], <bool> …) and is not
  cut with "…" at 80 columns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from xlsxgov.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("xlsxgov"))

# What Typer and Click print in English when nothing translates it.
ENGLISH_CHROME = re.compile(
    r"Usage:|Options|Arguments|Commands|\[required\]|\[default|<bool>|<int>|<path>|<str>|<text>|"
    r"Show this message|Missing (?:option|argument)|Invalid value|No such (?:option|command)|Try '|Error|\bOPTIONS\b|\bARGS\b"
)


def _walk(command, path: tuple[str, ...] = ()):
    sub = getattr(command, "commands", None)
    if sub:
        for name, child in sub.items():
            yield from _walk(child, path + (name,))
    else:
        yield path


COMMANDS = sorted(_walk(typer.main.get_command(app)))


def test_commands_are_walked():
    # The walk finds the nested campaign commands, not only the top level.
    assert ("template",) in COMMANDS and ("campaign", "import") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_is_documented_in_readme(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    needle = "`xlsxgov " + " ".join(path)
    # Followed by a space or the closing backtick: `xlsxgov campaign import 目录` or `xlsxgov demo`.
    assert re.search(re.escape(needle) + r"[ `]", readme), f"README.md does not document `xlsxgov {' '.join(path)}`"


HELP_PATHS = COMMANDS + [("campaign",), ()]

# Every command's --help, rendered by the real CLI in one fresh process at 80 columns (not a
# process per command: 30 starts of the CLI cost more than the rest of this file).
_RENDER_HELPS = """
import contextlib, io, json, sys
import typer.main
from xlsxgov.cli import app
command = typer.main.get_command(app)
out = {}
for path in json.loads(sys.argv[1]):
    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf):
        try:
            command.main(args=[*path, "--help"], prog_name="xlsxgov")
        except SystemExit as exc:
            code = exc.code or 0
    out[" ".join(path)] = [code, buf.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helps() -> dict[str, list]:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", _RENDER_HELPS, json.dumps([list(p) for p in HELP_PATHS])],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_help_of_the_installed_command_is_the_same(helps):
    """The console script prints what the in-process rendering above printed."""
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"}
    for path in (["campaign", "import"], []):
        out = subprocess.run([EXE, *path, "--help"], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout == helps[" ".join(path)][1]


@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda p: " ".join(p) or "xlsxgov")
def test_help_is_chinese_with_an_example_and_uncut(path, helps):
    code, text = helps[" ".join(path)]
    assert code == 0, text
    assert not ENGLISH_CHROME.search(text), ENGLISH_CHROME.search(text).group(0) + "\n" + text
    assert "…" not in text, text
    assert all(len(line) <= 80 for line in text.splitlines())
    if path and path != ("campaign",):
        assert "示例" in text, text
        assert "xlsxgov " + " ".join(path) in text.split("示例", 1)[1], text


def test_parse_errors_are_chinese():
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)

    missing = run("campaign", "init", "任务")
    assert missing.returncode == 2 and "缺少必填的选项 --year" in missing.stderr, missing.stderr
    bad = run("template", "-o", "a.xlsx", "--year", "abc")
    assert bad.returncode == 2 and "选项 --year 的值应为整数" in bad.stderr, bad.stderr
    unknown = run("validate", "--bogus")
    assert unknown.returncode == 2 and "没有选项 --bogus" in unknown.stderr
    no_value = run("template", "-o")
    assert no_value.returncode == 2 and "选项 -o 后面需要一个值" in no_value.stderr
    no_command = run("nosuch")
    assert no_command.returncode == 2 and "没有命令“nosuch”" in no_command.stderr
    for r in (missing, bad, unknown, no_value, no_command):
        assert not ENGLISH_CHROME.search(r.stderr), r.stderr
