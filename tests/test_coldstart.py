"""Cold start (issue #13, point 6): the commands a clerk runs most (help, template, campaign
status, and validate) do not import pandas or pandera (their import alone costs most of a
second). Proved by the modules a real CLI process has loaded when the command has run, never
by timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xlsxgov.campaign.roster import uscc_check_char

HEAVY = ("pandas", "pandera")

# Runs the CLI in this process, then reports the heavy top-level packages it has loaded.
PROBE = """
import json, sys
from xlsxgov.cli import app
argv = json.loads(sys.argv[1])
try:
    app(argv, prog_name="xlsxgov")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def probe(*argv: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(argv)), json.dumps(HEAVY)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_help_template_and_campaign_status_do_not_import_pandas(tmp_path):
    assert probe("--help", cwd=tmp_path) == {"code": 0, "loaded": []}
    out = tmp_path / "模板.xlsx"
    assert probe("template", "-o", str(out), "--year", "2024", "--agency", "某局", cwd=tmp_path) == {"code": 0, "loaded": []}
    assert out.is_file()
    roster = tmp_path / "roster.csv"
    body = "11350100MB0000001"
    roster.write_text(f"单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n某局,{body + uscc_check_char(body)},某市,张三,a@example.gov.cn\n",
                      encoding="utf-8")
    campaign = tmp_path / "c"
    init = probe("campaign", "init", str(campaign), "--year", "2024", "--roster", str(roster), cwd=tmp_path)
    assert init["code"] == 0
    assert probe("campaign", "status", str(campaign), cwd=tmp_path) == {"code": 0, "loaded": []}


def test_validate_runs_without_pandas_and_the_probe_sees_it_where_needed(tmp_path):
    """``validate`` evaluates the schema's checks on the numbers (the pandera run is the full
    path, for the property tests): it starts without pandas. ``export`` builds a pandas frame:
    the probe must see that (otherwise the assertions above would prove nothing)."""
    out = tmp_path / "t.xlsx"
    probe("template", "-o", str(out), "--year", "2024", "--agency", "某局", cwd=tmp_path)
    assert probe("validate", str(out), cwd=tmp_path)["loaded"] == []
    seen = probe("export", str(out), "-o", str(tmp_path / "facts.csv"), cwd=tmp_path)
    assert "pandas" in seen["loaded"]
