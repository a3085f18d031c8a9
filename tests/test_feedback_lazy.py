"""Feedback workbooks built when first asked for (issue #13, points 4 and 7).

``campaign import`` and the portal record where an invalid submission's feedback workbook goes
but do not write it; ``campaign.feedback.feedback_workbook`` builds it from the archived
original the first time, exactly as the import judged the file, and serves the kept file after
that. Real campaigns on disk, real SQLite, a real ``xlsxgov serve`` process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openpyxl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from portal_server import ledger_rows as rows, login, reply, text, upload  # noqa: E402
from test_portal import site  # noqa: E402,F401  (the served campaign, a fixture)
from test_campaign import AGENCIES, YEAR, campaign, cli, fill, flat, issued, template_of  # noqa: E402,F401  (fixtures)

from xlsxgov.campaign.feedback import build_feedback, feedback_workbook  # noqa: E402
from xlsxgov.campaign.importer import campaign_findings, import_paths  # noqa: E402
from xlsxgov.errors import CampaignError  # noqa: E402
from xlsxgov.feedback import ISSUES_SHEET, write_feedback  # noqa: E402
from xlsxgov.validate import validate_paths  # noqa: E402
from xlsxgov.vocab import SEVERITY_LABELS  # noqa: E402


def invalid(d: Path) -> list[tuple[int, str, str, str]]:
    """(id, file name, archive path, feedback path) of every submission with a feedback workbook."""
    return rows(d, "SELECT id, file_name, archive_path, feedback_path FROM submissions WHERE feedback_path IS NOT NULL ORDER BY id")


def cells(path: Path) -> dict:
    """Every sheet of a workbook: each non-empty cell's value and comment, and the sheet order."""
    wb = openpyxl.load_workbook(path)
    out: dict = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None or c.comment is not None:
                    out[(ws.title, c.coordinate)] = (c.value, c.comment.text if c.comment else None)
    for k, v in list(out.items()):
        if v[0] == "generated_at":  # when it was written: the one cell that differs between two writes
            del out[(k[0], "B" + k[1][1:])]
    return out


@pytest.fixture
def imported(campaign: Path, tmp_path: Path) -> Path:
    """The campaign after importing a file with a balance error (agency 1), the issued template
    sent back unchanged (agency 2: the campaign's own finding) and a valid file (agency 0)."""
    d = tmp_path / "in"
    d.mkdir()
    fill(template_of(campaign, 1), d / "一局_有错.xlsx", broken=True, contact="甲")
    shutil.copy(template_of(campaign, 2), d / "二局_原样.xlsx")
    fill(template_of(campaign, 0), d / "合格.xlsx", broken=False, contact="乙")
    import_paths(campaign, [d])
    return campaign


def test_import_records_where_feedback_goes_without_writing_it(imported: Path):
    subs = invalid(imported)
    assert [s[1] for s in subs] == ["一局_有错.xlsx", "二局_原样.xlsx"]
    assert all(s[3].startswith("feedback/") for s in subs)
    assert not list((imported / "feedback").iterdir())


def test_lazy_feedback_is_the_workbook_import_used_to_write(imported: Path, tmp_path: Path):
    for sid, name, archive, fb in invalid(imported):
        built = feedback_workbook(imported, sid)
        assert built == imported / fb and built.is_file()
        # What import wrote before: write_feedback on the archived file's submission, with the
        # campaign's findings first (the unchanged template is one of them).
        rep = validate_paths([imported / archive], edition="gov2021")[0]
        extra = campaign_findings(rep.submission, year=YEAR, issued=name == "二局_原样.xlsx")
        reference = write_feedback(rep.submission, extra + rep.findings, tmp_path / f"ref-{sid}.xlsx")
        assert cells(built) == cells(reference)
        # Its list of problems is the ledger's, in the ledger's order.
        listed = [tuple(v or "" for v in r[1:]) for r in openpyxl.load_workbook(built)[ISSUES_SHEET].iter_rows(min_row=2, values_only=True)]
        recorded = rows(imported, "SELECT severity, sheet, cell, message, rule FROM findings WHERE submission_id=? ORDER BY rowid", sid)
        assert listed == [(SEVERITY_LABELS[s], sh or "", c or "", m, r) for s, sh, c, m, r in recorded]
        assert (name == "二局_原样.xlsx") == (recorded[0][4] == "campaign.template_unchanged")


def test_second_request_returns_the_kept_file_without_building(imported: Path):
    sid, _, archive, _ = invalid(imported)[0]
    first = feedback_workbook(imported, sid)
    before = first.stat()
    (imported / archive).unlink()  # building again would now fail: the kept file is returned
    again = feedback_workbook(imported, sid)
    assert again == first and (again.stat().st_ino, again.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_requests_at_once_each_get_a_whole_workbook(imported: Path):
    sid = invalid(imported)[0][0]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: feedback_workbook(imported, sid), range(4)))
    assert len(set(got)) == 1
    assert [p.name for p in (imported / "feedback").iterdir()] == [got[0].name]  # no temporary file left
    assert ISSUES_SHEET in openpyxl.load_workbook(got[0]).sheetnames


def test_missing_or_damaged_original_is_a_clear_message(imported: Path):
    (gone, gone_name, gone_archive, _), (bad, bad_name, bad_archive, _) = invalid(imported)
    (imported / gone_archive).unlink()
    data = bytearray((imported / bad_archive).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (imported / bad_archive).write_bytes(bytes(data))
    with pytest.raises(CampaignError, match="已不在 archive/") as e:
        feedback_workbook(imported, gone)
    assert gone_name in str(e.value)
    with pytest.raises(CampaignError, match="已损坏") as e:
        feedback_workbook(imported, bad)
    assert bad_name in str(e.value)
    valid_id = rows(imported, "SELECT id FROM submissions WHERE status='valid'")[0][0]
    with pytest.raises(CampaignError, match="只有有错误的报表才有"):
        feedback_workbook(imported, valid_id)
    with pytest.raises(CampaignError, match="没有编号为 999"):
        feedback_workbook(imported, 999)
    # The CLI: each one named with its reason, exit code 1, no traceback, nothing half-written.
    proc = cli("feedback", imported, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    out = flat(proc.stdout)
    assert "已不在archive/" in out and "已损坏" in out and gone_name in out
    assert not list((imported / "feedback").iterdir())


def test_campaign_feedback_builds_the_pending_and_removes_a_killed_builds_leftovers(imported: Path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = imported / "feedback" / f".x_问题反馈.xlsx.{dead.pid}.0123abcd.tmp.xlsx"
    orphan.write_bytes(b"half a workbook")
    first = invalid(imported)[0]
    feedback_workbook(imported, first[0])
    r = build_feedback(imported)
    assert (len(r.built), r.existing, r.failed) == (1, 1, [])
    assert not orphan.exists()
    assert sorted(p.name for p in (imported / "feedback").iterdir()) == sorted(Path(s[3]).name for s in invalid(imported))


# ---------------------------------------------------------------------------------------------
# the portal: uploads record, downloads build


def test_portal_feedback_built_at_first_download_then_served(site):
    d, base = site["dir"], site["base"]
    code = AGENCIES[0][1]
    c = httpx.Client(timeout=120)
    r = upload(c, site["links"][code], reply(d, 0, site["tmp"] / "a0.xlsx", broken=True, contact="张三"))
    assert "有错误" in text(r.text)
    ((sid, fb),) = rows(d, "SELECT id, feedback_path FROM submissions WHERE code=?", code)
    assert not (d / fb).exists()  # the upload's verdict did not wait for it
    # The office without a session gets the login page, and nothing is built.
    anon = httpx.Client(base_url=base, timeout=60)
    r = anon.get(f"/office/submission/{sid}/feedback")
    assert r.status_code in (303, 401, 403) or "登录" in r.text
    assert not (d / fb).exists()
    # The agency's download builds it; the office's is the same file.
    first = c.get(f"{site['links'][code]}/s/{sid}/feedback")
    assert first.status_code == 200 and first.content[:2] == b"PK"
    assert first.content == (d / fb).read_bytes()
    mtime = (d / fb).stat().st_mtime_ns
    office = login(base, "reader").get(f"/office/submission/{sid}/feedback")
    assert office.status_code == 200 and office.content == first.content
    assert c.get(f"{site['links'][code]}/s/{sid}/feedback").content == first.content
    assert (d / fb).stat().st_mtime_ns == mtime  # served, not built again
    # Another agency's link never reaches it.
    other = c.get(f"{site['links'][AGENCIES[1][1]]}/s/{sid}/feedback")
    assert other.status_code == 404


def test_portal_feedback_of_a_lost_original_is_a_chinese_page(site):
    d = site["dir"]
    code = AGENCIES[3][1]
    c = httpx.Client(timeout=120)
    upload(c, site["links"][code], reply(d, 3, site["tmp"] / "a3.xlsx", broken=True, contact="王五"))
    ((sid, archive, fb),) = rows(d, "SELECT id, archive_path, feedback_path FROM submissions WHERE code=?", code)
    os.unlink(d / archive)
    r = c.get(f"{site['links'][code]}/s/{sid}/feedback")
    assert r.status_code == 500 and "已不在archive/中" in text(r.text) and "Traceback" not in r.text
    assert not (d / fb).exists()


def test_feedback_folder_removed_by_hand_is_made_again(imported: Path):
    shutil.rmtree(imported / "feedback")
    sid, _, _, fb = invalid(imported)[0]
    assert feedback_workbook(imported, sid) == imported / fb and (imported / fb).is_file()
