"""A command line written for clerks (issue #9 points 13, 14, 15): what validate and template print
at 80 columns, a folder validated as a whole, arguments checked before anything is written."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from xlsxgov import spec as spec_mod
from xlsxgov.cli.text import wrap
from xlsxgov.template import Meta, write_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_consolidate import random_inputs  # noqa: E402

EXE = str(Path(sys.executable).with_name("xlsxgov"))
ENV = {**os.environ, "COLUMNS": "80", "TERM": "dumb", "NO_COLOR": "1"}
CODE = "11350127MB0100010N"


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=300, env=ENV)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Five workbooks: two valid, three whose 表三 is off in several columns (many errors each)."""
    d = tmp_path_factory.mktemp("replies")
    spec = spec_mod.load("gov2021")
    for i in range(5):
        values = random_inputs(spec, random.Random(i))
        if i >= 2:
            for col in ("natural", "business", "research", "ngo", "legal"):
                values[("t3", "new", col)] += 12345  # a long number in each message
        write_workbook(d / f"单位{i}.xlsx", spec, Meta(year=2025, agency=f"示例县第{i}局", code=CODE), values=values)
    return d


def test_validate_a_folder_shows_each_files_first_problems(folder, tmp_path):
    p = run("validate", folder)
    assert p.returncode == 1, p.stderr
    out = p.stdout
    for i in range(5):
        assert f"单位{i}.xlsx" in out
    assert "共 5 个文件：合格 2，有错误 3" in out
    assert out.count("……另有") == 3 and "--feedback" in out  # each invalid file cut, the way to all of them named
    # at most 80 columns, no rule ids (--json keeps them), every message leads its row
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    assert not re.search(r"\bt3\.\w+", out)
    data = json.loads(run("validate", folder, "--json").stdout)
    assert {f["rule"] for f in data["files"][2]["findings"] if f["severity"] == "error"} >= {"t3.balance"}
    # a number never split over two lines: every (12345…) of a message is whole on its line
    numbers = re.findall(r"\((\d{5,})\)", "".join(out.split()))
    assert numbers and all(re.search(rf"\({n}\)", out) for n in numbers)


def test_validate_feedback_says_where_it_wrote(folder, tmp_path):
    fb = tmp_path / "反馈"
    p = run("validate", folder, "--feedback", fb)
    assert p.returncode == 1
    made = sorted(fb.glob("*.xlsx"))
    assert len(made) == 3
    flat = "".join(p.stdout.split())
    for path in made:
        assert "".join(str(path).split()) in flat
    assert "请用--feedback" not in flat  # asked for: no need to point at it


def test_validate_empty_folder_is_a_clear_error(tmp_path):
    p = run("validate", tmp_path)
    assert p.returncode == 2 and "中没有工作簿" in "".join(p.stderr.split()) and "Traceback" not in p.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--code", CODE[:-1] + "X"], "--code 不是有效的统一社会信用代码：“11350127MB0100010X”校验位错误，应为 N"),
        (["--code", "12345"], "长度为 5 位，应为 18 位"),
        (["--year", "1999"], "报告年度 1999 不对：应在 2008–2100 之间"),
        (["--year", "2101"], "报告年度 2101 不对"),
    ],
)
def test_template_checks_its_arguments(tmp_path, args, message):
    out = tmp_path / "模板.xlsx"
    p = run("template", "-o", out, *args)
    assert p.returncode == 2 and "".join(message.split()) in "".join(p.stderr.split()), p.stderr
    assert not out.exists()


def test_template_with_good_arguments(tmp_path):
    out = tmp_path / "模板.xlsx"
    p = run("template", "-o", out, "--year", "2025", "--code", CODE, "--agency", "示例县教育局")
    assert p.returncode == 0 and out.is_file()


def test_wrap_breaks_between_characters_never_inside_numbers_or_words():
    rng = random.Random(3)
    words = ["表三", "自然人列", "第一项", "(12345)", "+", "=", "第三项（七）总计", "D6,D7,D29,D30", "，", "不相等", "report.xlsx", " "]
    for _ in range(300):
        text = "".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        width = rng.randint(10, 60)
        lines = wrap(text, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost
        for line in lines:
            assert cell_len(line) <= width or re.fullmatch(r"[\x21-\x7e]+", line)
        joined = "\n".join(lines)
        for token in re.findall(r"[\x21-\x7e]+", text):
            if cell_len(token) <= width:
                assert token in joined.replace(" ", ""), (token, lines)


def test_status_is_one_line_per_agency_at_80_columns(tmp_path):
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples", tmp_path / "ex", ignore=shutil.ignore_patterns("任务"))
    d = tmp_path / "ex"
    assert run("campaign", "init", d / "任务", "--year", 2025, "--roster", d / "名册.xlsx").returncode == 0
    assert run("campaign", "import", d / "任务", d / "回复").returncode == 0
    out = run("campaign", "status", d / "任务").stdout
    lines = out.splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    for name in ("示例县教育局", "示例县公安局", "示例县民政局", "示例县城关镇人民政府"):
        (line,) = [x for x in lines if x.startswith(name)]
        assert re.search(r"(合格|有错误|未报送)", line)
    problems = run("campaign", "status", d / "任务", "--problems").stdout
    flat = "".join(problems.split())
    assert "示例县公安局" in flat and "第一项(" in flat and "示例县民政局" in flat and "示例县教育局" not in flat


def test_message_table_lays_out_each_row_within_the_width():
    """message_table lays out its lines itself (issue #13: Rich's table was most of the CLI's
    work per file): the message column takes the room left, a short column is never wrapped, a
    row's lines line up, styles stay on the first line, control characters are shown escaped."""
    import io

    from rich.console import Console
    from rich.text import Text

    from xlsxgov.cli.text import message_table

    message = "表三 自然人列：第一项(12345)+第二项(0)=12345，第三项（七）总计(1)+第四项(0)=1，不相等"
    rows = [(Text("错误 ", style="red") + Text(message), "表三!D6,D7,D29,D30"), ("短\x1b[2J", "x")]
    for width in (40, 80, 120):
        buf = io.StringIO()
        console = Console(file=buf, width=width, force_terminal=False)
        table = message_table(console, ("说明", "位置"), rows, title="需要处理的文件")
        console.print(table)
        lines = buf.getvalue().splitlines()
        assert lines == [t.plain for t in table.lines]
        assert all(cell_len(line) <= width for line in lines), lines
        assert lines[0].strip() == "需要处理的文件" and lines[1].startswith("说明")
        place_at = cell_len(lines[1][:lines[1].index("位置")])  # in cells: a CJK character takes two

        def columns(line: str) -> tuple[str, str]:
            for i in range(len(line) + 1):
                if cell_len(line[:i]) == place_at:
                    return line[:i].rstrip(), line[i:].strip()
            raise AssertionError(f"columns do not line up: {line!r}")

        assert lines[2].startswith("错误 表三") and columns(lines[2])[1] == "表三!D6,D7,D29,D30"
        body = "".join(columns(line)[0] for line in lines[2:-1])
        assert "(12345)" in body and "不相等" in body and "\x1b" not in buf.getvalue()
        assert all(not columns(line)[1] for line in lines[3:-1])
        assert columns(lines[-1]) == ("短\\x1b[2J", "x")
        first = table.lines[2]
        assert any(str(span.style) == "red" and span.start == 0 for span in first.spans)


def test_wrap_keeps_a_run_of_closing_marks_off_the_line_start():
    """"（汇总）.xlsx": the "." may not lead a line, nor may the "）" carried down with it."""
    text = "汇总工作簿：" + "统计表" * 20 + "（汇总）.xlsx（汇总 42 个单位；未报送的单位见“未报送”表）"
    for width in range(20, 81):
        lines = wrap(text, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert all(line[:1] not in "，。、；：！？）》」』”’,.;:!?)]" for line in lines[1:]), (width, lines)


def test_say_breaks_lines_where_a_chinese_reader_expects(monkeypatch):
    """Found by a new user's trial: Rich breaks only at spaces, so the demo's summary was cut
    after "（4" and before "份", and a path was pushed alone onto its own line."""
    import io

    from rich.console import Console

    from xlsxgov.cli import base

    out = io.StringIO()
    monkeypatch.setattr(base, "console", Console(file=out, width=80, color_system=None))
    base.say("5. 反馈工作簿：demo/campaign/feedback（4 份，问题单元格标红并附说明，可发回单位修改）[bold]完成[/bold]")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "（4 份" in lines[0] and all(cell_len(line) <= 80 for line in lines)
    assert "".join(lines).replace(" ", "") == "5.反馈工作簿：demo/campaign/feedback（4份，问题单元格标红并附说明，可发回单位修改）完成"
