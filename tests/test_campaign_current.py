"""Which file is an agency's current report, and what the clerk is told about it (found by a new
user's trial): an unfilled template or a file whose agency is in doubt never replaces a report;
several reports of one agency in one import are listed; Ctrl-C during an import is one line."""

from __future__ import annotations

import email.utils
import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.remind import prepare_reminders

sys.path.insert(0, str(Path(__file__).parent))
from test_campaign import XLSXGOV, AGENCIES, _parent_of, canonical, cli, flat, read_terminal  # noqa: E402
from test_campaign_clerk import agency_status, campaign, issued, reply  # noqa: E402,F401  (fixtures)

XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def issued_template(d: Path, i: int) -> Path:
    return next((d / "outbox").glob(f"{AGENCIES[i][1]}_*.xlsx"))


def mail(path: Path, i: int, attachments: list[tuple[str, Path]], when: float = 1_767_225_600) -> Path:
    """A reply of agency ``i`` (its roster address) carrying ``attachments`` in that order."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = AGENCIES[i][3], "zwgk@example.gov.cn", "回复：年报统计表"
    msg["Date"] = email.utils.formatdate(when)
    msg.set_content("见附件")
    for name, p in attachments:
        msg.add_attachment(p.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=name)
    path.write_bytes(bytes(msg))
    return path


def current_file(d: Path, i: int) -> str:
    return agency_status(d, i)["file"]


# --- point 1: the unfilled template never replaces a report ------------------------------------


@pytest.mark.parametrize("filled_first", [True, False])
def test_forwarded_mail_with_the_blank_template_keeps_the_report(campaign: Path, tmp_path: Path, filled_first: bool):
    """An agency forwards the office's mail: its filled file and the original template, in either
    order (same received time). The report stays current, in the same import and when the
    template comes again later; the template is recorded and listed with its reason."""
    filled = reply(tmp_path / "已填写.xlsx", 1)
    template = issued_template(campaign, 1)
    pair = [("已填写.xlsx", filled), (template.name, template)]
    mail(campaign / "inbox" / "回复.eml", 1, pair if filled_first else pair[::-1])
    result = import_paths(campaign)
    outcomes = {f.name: f for f in result.files}
    assert outcomes["已填写.xlsx"].outcome == "valid"
    assert outcomes[template.name].outcome == "invalid"
    assert "与下发的模板完全相同，未取代" in outcomes[template.name].note and "已填写.xlsx" in outcomes[template.name].note
    a = agency_status(campaign, 1)
    assert (a["status"], a["file"], a["received"]) == ("valid", "已填写.xlsx", 2)
    assert AGENCIES[1][1] not in {r.code for r in prepare_reminders(campaign).reminders}


def test_template_imported_after_the_report_keeps_the_report(campaign: Path, tmp_path: Path):
    """The trial's camp6: the filled file imported, then the template (a later import, a later
    file time); and a copy of outbox/ imported after the replies: agencies with a report keep
    it, an agency with nothing else is 有错误 and reminded, as before."""
    (tmp_path / "c6a").mkdir()
    filled = reply(tmp_path / "c6a" / "教育局_已填.xlsx", 2)
    assert [f.outcome for f in import_paths(campaign, [tmp_path / "c6a"]).files] == ["valid"]
    (tmp_path / "c6b").mkdir()
    later = tmp_path / "c6b" / "教育局.xlsx"
    later.write_bytes(issued_template(campaign, 2).read_bytes())
    os.utime(later, (filled.stat().st_mtime + 3600,) * 2)
    proc = cli("import", campaign, tmp_path / "c6b")
    assert "与下发的模板完全相同，未取代" in flat(proc.stdout)
    assert (agency_status(campaign, 2)["status"], current_file(campaign, 2)) == ("valid", "教育局_已填.xlsx")
    # a copy of outbox/ imported by mistake after the replies
    copy = tmp_path / "outbox副本"
    copy.mkdir()
    for i in range(len(AGENCIES)):
        (copy / issued_template(campaign, i).name).write_bytes(issued_template(campaign, i).read_bytes())
    import_paths(campaign, [copy])
    assert agency_status(campaign, 2)["status"] == "valid"
    assert current_file(campaign, 2) == "教育局_已填.xlsx"
    alone = agency_status(campaign, 0)
    assert alone["status"] == "invalid" and "与下发的模板完全相同" in alone["reason"]
    assert AGENCIES[0][1] in {r.code for r in prepare_reminders(campaign).reminders}
    # the history keeps agency 2's template (its copy in outbox副本 is a duplicate), not current
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert conn.execute("SELECT file_name FROM submissions WHERE code=? AND superseded_by IS NOT NULL",
                        (AGENCIES[2][1],)).fetchall() == [("教育局.xlsx",)]


# --- point 2: a report on another agency's template ----------------------------------------------


def test_report_on_another_agencys_template_does_not_replace_its_report(campaign: Path, tmp_path: Path):
    """The trial's camp3: agency 3 filled in agency 1's template and sent it under its own name.
    Agency 1 keeps its own report; status --problems, --json and the progress workbook show the
    file with the warning; assign settles it."""
    reply(campaign / "inbox" / f"{AGENCIES[1][0]}终稿.xlsx", 1, seed=1)
    import_paths(campaign)
    other = tmp_path / "other"
    other.mkdir()
    reply(other / f"{AGENCIES[3][0]}_统计表.xlsx", 1, seed=31)  # agency 1's cover, agency 3's name
    out = flat(cli("import", campaign, other).stdout)
    assert f"未取代“{AGENCIES[1][0]}”的当前报表" in out
    assert current_file(campaign, 1) == f"{AGENCIES[1][0]}终稿.xlsx"
    problems = flat(cli("status", campaign, "--problems").stdout)
    assert AGENCIES[1][0] in problems and f"指向名册中的“{AGENCIES[3][0]}”" in problems and "未作为当前报表" in problems
    listed = {a["code"]: a for a in json.loads(cli("status", campaign, "--json").stdout)["agencies"]}
    assert listed[AGENCIES[1][1]]["status"] == "valid" and "指向名册中" in listed[AGENCIES[1][1]]["check"]
    cli("status", campaign, "--xlsx", tmp_path / "进度.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "进度.xlsx").active
    notes = {r[1]: r[3] for r in ws.iter_rows(min_row=5, values_only=True)}
    assert f"指向名册中的“{AGENCIES[3][0]}”" in notes[AGENCIES[1][0]]
    # the office decides: the file is agency 3's; agency 1 keeps its report and its warning goes
    proc = cli("assign", campaign, f"{AGENCIES[3][0]}_统计表.xlsx", AGENCIES[3][0])
    assert "合格" in proc.stdout
    assert current_file(campaign, 1) == f"{AGENCIES[1][0]}终稿.xlsx" and agency_status(campaign, 1)["check"] == ""
    three = agency_status(campaign, 3)
    assert three["status"] == "valid" and "封面上的单位是" in three["check"]  # cover_other: still shown
    assert agency_status(campaign, 1)["received"] == 1


def test_report_on_another_agencys_template_is_current_when_nothing_else(campaign: Path):
    """With nothing else from the cover's agency the file is its current report, as before, and
    status --problems lists the agency although its report is valid; assigned to the same
    agency after checking, the warning is gone."""
    reply(campaign / "inbox" / f"{AGENCIES[4][0]}报表.xlsx", 2, seed=41)
    import_paths(campaign)
    two = agency_status(campaign, 2)
    assert two["status"] == "valid" and "指向名册中" in two["check"]
    assert AGENCIES[2][0] in flat(cli("status", campaign, "--problems").stdout)
    cli("assign", campaign, f"{AGENCIES[4][0]}报表.xlsx", AGENCIES[2][0])
    two = agency_status(campaign, 2)
    assert two["status"] == "valid" and two["check"] == "" and two["received"] == 1
    assert AGENCIES[2][0] not in flat(cli("status", campaign, "--problems").stdout)


# --- point 3: two versions of one agency in one import -----------------------------------------


def test_two_reports_of_one_agency_in_one_import_are_listed(campaign: Path, tmp_path: Path):
    """The trial's two/: v1 (later file time) became current over v2 silently. Both are listed
    with which one is current and why; the latest received still wins."""
    two = tmp_path / "two"
    two.mkdir()
    v1 = reply(two / "v1.xlsx", 0, seed=51)
    v2 = reply(two / "v2_正确.xlsx", 0, seed=52)
    os.utime(v2, (1_767_225_600,) * 2)
    os.utime(v1, (1_767_225_600 + 600,) * 2)
    reply(two / "单独.xlsx", 5, seed=53)
    result = import_paths(campaign, [two])
    notes = {f.name: f.note for f in result.files}
    assert "2 份不同报表" in notes["v1.xlsx"] and "为当前报表" in notes["v1.xlsx"]
    assert "未作为当前报表" in notes["v2_正确.xlsx"] and "v1.xlsx" in notes["v2_正确.xlsx"]
    assert notes["单独.xlsx"] == ""
    assert current_file(campaign, 0) == "v1.xlsx"
    out = flat(cli("import", campaign, two).stdout)  # again: duplicates, nothing new to say
    assert "2份不同报表" not in out
# --- point 4: Ctrl-C ----------------------------------------------------------------------------


def _interrupt(campaign: Path, replies: Path, workers: str, delay: float | None, terminal: bool) -> tuple[int, str]:
    """Run ``campaign import`` (on a pseudo-terminal: with its progress bar), send SIGINT to its
    process group (what a terminal's Ctrl-C does) ``delay`` seconds after the import began
    (None: as soon as it has a child process), and return its exit code and its output on stderr (on the terminal: all of it)."""
    env = {**os.environ, "XLSXGOV_WORKERS": workers, "COLUMNS": "80", "TERM": "xterm"}
    if terminal:
        primary, secondary = pty.openpty()
        proc = subprocess.Popen([XLSXGOV, "campaign", "import", str(campaign), str(replies)], stdin=secondary,
                                stdout=secondary, stderr=secondary, env=env, start_new_session=True)
        os.close(secondary)
    else:
        proc = subprocess.Popen([XLSXGOV, "campaign", "import", str(campaign), str(replies)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
    while proc.poll() is None and not list((campaign / ".tmp").glob(f"import-{proc.pid}-*")):
        time.sleep(0.01)  # the import has begun: its working folder exists
    if delay is None:  # as soon as its worker processes (or the fork server starting them) appear
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not any(
                _parent_of(int(x)) == proc.pid for x in os.listdir("/proc") if x.isdigit()):
            time.sleep(0.002)
    else:
        time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        return _output(proc, primary if terminal else None)
    except subprocess.TimeoutExpired:  # hung after Ctrl-C: fail, leaving no process behind
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _output(proc: subprocess.Popen, primary: int | None) -> tuple[int, str]:
    """Exit code and output of an ``_interrupt``-ed import (``primary``: its terminal's side)."""
    if primary is None:
        _, err = proc.communicate(timeout=120)
        return proc.returncode, err.decode("utf-8", "replace")
    out = read_terminal(primary, 60)
    return proc.wait(timeout=60), out


def test_ctrl_c_during_import_is_one_line_and_rerun_completes(campaign: Path, tmp_path: Path):
    """SIGINT to the whole process group (what a terminal's Ctrl-C does) while the import and its
    workers read, output piped or on a terminal (the progress bar): one Chinese line, exit code
    130, no traceback (the workers' tracebacks were printed on a terminal); a re-run gives the
    ledger of an uninterrupted import."""
    replies = tmp_path / "replies"
    replies.mkdir()
    for i in range(60):
        reply(replies / f"r{i:02d}.xlsx", i % len(AGENCIES), seed=100 + i)
    reference = Path(shutil.copytree(campaign, tmp_path / "ref"))
    cli("import", reference, replies)
    interrupted = 0
    runs = (("2", None, False), ("2", 0.8, False), ("1", 0.4, False), ("2", None, True), ("2", 1.0, True))
    for i, (workers, delay, terminal) in enumerate(runs):
        d = Path(shutil.copytree(campaign, tmp_path / f"run{i}"))  # every run starts with all 60 files to read
        code, err = _interrupt(d, replies, workers, delay, terminal)
        assert "Traceback" not in err and "Exception" not in err and "KeyboardInterrupt" not in err, err
        # Signalled as its workers start, it cannot have finished (60 files); else it may have
        # finished before the signal, or the signal came while Python was exiting (the default
        # handler is back then): nothing more to check.
        if delay is not None and code in (0, -signal.SIGINT):
            continue
        interrupted += 1
        assert code == 130, err
        lines = [line for line in err.splitlines() if line.strip()]
        if terminal:  # the progress bar, erased, and the line
            assert "正在导入" in err and "已中断：" in lines[-1], err
        else:
            (line,) = lines
            assert line.startswith("已中断：") and "已导入的文件已记入台账，再次运行 import 继续" in line, err
        cli("import", d, replies)
        assert canonical(d) == canonical(reference)
        assert not list((d / ".tmp").iterdir())
    assert interrupted >= 2
