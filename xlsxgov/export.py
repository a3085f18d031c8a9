"""Facts as one long table (CSV or Parquet): of workbooks, of a consolidated workbook, of a campaign.

- A workbook (an agency's, or a consolidated one, which reads like any other: its agency is
  ``<地区>（汇总）`` and its values are the sums) gives one row per cell of its tables.
- ``detail=True`` adds, for every consolidated workbook, one row per agency and cell of its
  明细 sheet (``sheet`` is 明细, ``agency``/``code``/``status`` those of the agency's row). Off by
  default: the summed facts and the detail rows together would count every number twice.
- A campaign folder (one holding ``ledger.sqlite``) gives the facts of every roster agency's
  current submission, read from the campaign's store (what the import recorded): both ``valid`` and ``invalid`` ones (an
  analyst wants to see the numbers of a form that still has an error, and filters on
  ``status``), with the roster's agency name and code. Agencies whose current file is
  unreadable, and those with nothing received, have no facts; they are listed in ``skipped``.
- Any other folder stands for the workbooks in it (``crossyear.folder_files``, as ``validate``
  reads a folder); its other files are listed in ``not_workbooks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .errors import ExportError
from .validate import FileReport, iter_reports
from .values import raw_text

if TYPE_CHECKING:
    import pandas as pd

FACT_COLUMNS = ["file", "agency", "code", "year", "edition", "status", "table", "row", "col", "row_label", "col_label", "sheet", "cell", "value", "raw"]


@dataclass
class ExportResult:
    """How many fact rows and files were exported, the files that could not be read, a campaign's agencies without facts, and the files of a folder that are no workbook."""

    rows: int
    files: int
    unreadable: list[str] = field(default_factory=list)  # given files that could not be read
    skipped: list[str] = field(default_factory=list)  # campaign agencies without facts, and why
    not_workbooks: list[str] = field(default_factory=list)  # files of a given folder that are no workbook: "path：why"


def _records(rep: FileReport, *, agency: str | None = None, code: str | None = None, status: str | None = None,
             file: str | None = None) -> list[dict]:
    sub = rep.submission
    head = {
        "file": str(rep.path) if file is None else file,
        "agency": sub.agency if agency is None else agency, "code": sub.code if code is None else code,
        "year": sub.year, "edition": sub.edition, "status": status or rep.status,
    }
    records = []
    for fact in sub.facts():
        rec = {**head, **fact.as_json()}
        rec["raw"] = raw_text(rec["raw"])
        records.append(rec)
    return records


def detail_records(rep: FileReport) -> list[dict]:
    """The 明细 rows of a consolidated workbook, one record per agency and cell ([] for any other
    workbook). Columns are found by their headers (``detail.read_detail``); a 明细 sheet missing
    some of its edition's columns is refused (ExportError) rather than half exported."""
    from .detail import DETAIL_SHEET, read_detail

    sub = rep.submission
    if sub is None or sub.meta.get("kind") != "consolidated":
        return []
    sheet = read_detail(rep.path, sub.spec)  # the file was read already: Unreadable cannot surprise here
    if sheet is None:
        return []
    if sheet.missing:
        raise ExportError(f"{rep.path.name}：“{DETAIL_SHEET}”表的列与{sub.spec.name}的单元格不一致（表格结构可能被修改），无法导出明细")
    cells = list(sub.spec.cells())
    records = []
    for row in sheet.rows:
        head = {"file": str(rep.path), "agency": row.name, "code": row.code, "year": sub.year, "edition": sub.edition, "status": row.status}
        for cell in cells:
            k = (cell.table.id, cell.row.id, cell.col.id)
            value = row.cells[k]
            raw = None if value is None else str(value)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            records.append({
                **head, "table": cell.table.id, "row": cell.row.id, "col": cell.col.id, "row_label": cell.row_label,
                "col_label": cell.col_label, "sheet": DETAIL_SHEET, "cell": sheet.ref(row, k), "value": value, "raw": raw,
            })
    return records


def campaign_records(directory: Path | str) -> tuple[list[dict], list[str]]:
    """Facts of every roster agency's current valid or invalid submission; (records, skipped).

    Read from the campaign's store: the facts, cover and typed text recorded at import, never the
    archived files (a submission recorded before the typed text was kept is read from its file)."""
    skipped: list[str] = []
    return [r for batch in _campaign_batches(directory, skipped) for r in batch], skipped


def _campaign_batches(directory: Path | str, skipped: list[str]) -> Iterator[list[dict]]:
    """``campaign_records`` an agency at a time; the agencies without facts appended to ``skipped``."""
    from .campaign.store import CampaignStore

    with CampaignStore.open(directory) as store:
        agencies = store.roster()
        current = store.current_files()
        # Both in roster order: the submissions are taken one at a time as the agencies come.
        subs = store.iter_current_submissions(("valid", "invalid"), raw=True)
        pending = next(subs, None)
        for agency, status, path, _ in current:
            if pending is None or pending[0].code != agency.code:
                skipped.append(f"{agency.name}：报送的文件无法读取")
                continue
            _, status, sub = pending
            pending = next(subs, None)
            # The file as the agency sent it (and its mail), never the archive's hash name.
            yield _records(FileReport(path, status, sub), agency=agency.name, code=agency.code, status=status,
                           file=sub.sent_as)
    received = {a.code for a, _, _, _ in current}
    skipped += [f"{a.name}：未报送" for a in agencies if a.code not in received]


def fact_batches(paths: Sequence[Path | str], result: ExportResult, *, detail: bool = False, output: Path | None = None) -> Iterator[list[dict]]:
    """The fact records of ``paths``, a file (a campaign: an agency) at a time, so that a writer
    holds one batch whatever the number of files (issue #13); files that cannot be read and
    agencies without facts are noted in ``result``. A folder that is not a campaign stands for
    its workbooks (its other files noted in ``result.not_workbooks``; ``output``, when inside it,
    is not read); one without any workbook raises ExportError here, before anything is read."""
    from .campaign.ledger import LEDGER_NAME
    from .campaign.store import is_campaign
    from .crossyear import folder_files

    given: list[Path | str] = []
    target = output.resolve() if output is not None else None
    for p in paths:
        if not Path(p).is_dir() or is_campaign(p):
            given.append(p)
            continue
        found, others = folder_files(Path(p))
        result.not_workbooks += [f"{f}：{why}" for f, why in others]
        found = [f for f in found if f.resolve() != target]  # the output of an earlier export into this folder
        if not found:
            raise ExportError(f"文件夹“{p}”中没有工作簿（.xlsx .xlsm .xls .ods），也不是报送任务目录（其中没有 {LEDGER_NAME}）")
        given += found
    campaigns = {i for i, p in enumerate(given) if is_campaign(p)}
    return _batches(given, campaigns, result, detail)


def _batches(paths, campaigns: set[int], result: ExportResult, detail: bool) -> Iterator[list[dict]]:
    reports = iter_reports([p for i, p in enumerate(paths) if i not in campaigns])  # one streamed batch
    for i, p in enumerate(paths):
        if i in campaigns:
            yield from _campaign_batches(p, result.skipped)
            continue
        rep = next(reports)
        if rep.submission is None:
            result.unreadable.append(_report_document_hint(rep.path) or rep.reason or str(rep.path))
            continue
        yield _records(rep)
        if detail:
            try:
                yield detail_records(rep)
            except ExportError as exc:
                result.unreadable.append(str(exc))


def _report_document_hint(path: Path) -> str | None:
    """For a report document (Word, web page, PDF, text) given instead of a workbook: the way on,
    ``extract -o``, rather than the workbook reader's advice to resave it from Excel."""
    from .extract import is_report
    from .filecheck import check_file

    if not is_report(path) or check_file(path).code not in ("not_spreadsheet", "html", "word", "csv"):
        return None
    return (f"{path.name}：这是年度报告文档，不是 Excel 工作簿；请先用 xlsxgov extract {path.name} -o {path.stem}.xlsx "
            f"读出其中的表格，再导出写出的工作簿")


def _file_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """Which file a record comes from, for counting: a campaign's agencies may have sent files
    of the same name, and a consolidated workbook's 明细 rows belong to that one workbook."""
    from .detail import DETAIL_SHEET

    return record["file"], "" if record["sheet"] == DETAIL_SHEET else record["code"]


def _frame(records: list[dict]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=FACT_COLUMNS)
    # Keep counts as integers next to money decimals instead of turning every value into a float.
    frame["value"] = pd.Series([r["value"] for r in records], dtype=object)
    return frame


def facts_frame(paths: Sequence[Path | str], *, detail: bool = False) -> tuple[pd.DataFrame, ExportResult]:
    """Every cell of every readable file (valid or invalid), one row each; a campaign folder
    stands for its agencies' current submissions, any other folder for its workbooks. Raises
    ExportError for a folder with neither."""
    result = ExportResult(0, 0)
    frame = _frame([r for batch in fact_batches(paths, result, detail=detail) for r in batch])
    result.rows = len(frame)
    result.files = len({_file_key(r) for r in frame[["file", "code", "sheet"]].to_dict("records")})
    return frame, result


EXPORT_SUFFIXES = (".csv", ".xlsx", ".parquet")


def export_facts(paths: Sequence[Path | str], output: Path, *, detail: bool = False) -> ExportResult:
    """Write the facts of ``paths`` (as ``facts_frame`` has them) to ``output`` by its suffix
    (EXPORT_SUFFIXES), a file at a time, so memory does not grow with the number of files
    (.parquet: row groups of PARQUET_ROW_GROUP rows, the value column always float64).

    .xlsx keeps every text column as text cells, so the 18-character 统一社会信用代码 stays a code
    (in a CSV, Excel turns an all-digit code into 9.13501E+17 when it opens the file). Raises
    ExportError for another suffix or a folder with no workbook that is not a campaign."""
    if output.suffix.lower() not in EXPORT_SUFFIXES:
        raise ExportError(f"输出文件 {output} 必须以 {'、'.join(EXPORT_SUFFIXES)} 结尾")
    result = ExportResult(0, 0)
    batches = fact_batches(paths, result, detail=detail, output=output)
    output.parent.mkdir(parents=True, exist_ok=True)
    suffix = output.suffix.lower()
    files: set[tuple[str, str]] = set()

    def counted() -> Iterator[list[dict]]:
        for batch in batches:
            result.rows += len(batch)
            files.update(_file_key(r) for r in batch)
            yield batch

    if suffix == ".parquet":
        _write_parquet(counted(), output)
    elif suffix == ".xlsx":
        _write_xlsx(counted(), output)
    else:
        _write_csv(counted(), output)
    result.files = len(files)
    return result


PARQUET_ROW_GROUP = 20_000  # rows buffered per row group: about 100 workbooks


def _write_parquet(batches: Iterator[list[dict]], output: Path) -> None:
    """The facts as a Parquet file with one fixed schema (``year`` int64, ``value`` float64, every
    other column text), a row group per PARQUET_ROW_GROUP rows as they come."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"year": pa.int64(), "value": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.large_string())) for name in FACT_COLUMNS])
    with pq.ParquetWriter(output, schema) as writer:
        pending: list[dict] = []
        for batch in batches:
            pending += batch
            if len(pending) >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(pending, schema=schema))
                pending = []
        if pending:
            writer.write_table(pa.Table.from_pylist(pending, schema=schema))


def _write_csv(batches: Iterator[list[dict]], output: Path) -> None:
    """A header, then each batch as it comes. Text from files never becomes a formula in a
    spreadsheet opening the CSV; numbers stay numbers. utf-8-sig: Excel opens Chinese CSV right."""
    import pandas as pd

    from .safetext import for_csv

    with open(output, "w", encoding="utf-8-sig", newline="") as fh:
        header = True
        for batch in batches:
            safe = _frame(batch)
            for col in safe.columns:
                if not pd.api.types.is_numeric_dtype(safe[col]):  # object or string columns
                    safe[col] = safe[col].map(for_csv)
            safe.to_csv(fh, index=False, header=header)
            header = False
        if header:  # no facts at all: the header alone
            _frame([]).to_csv(fh, index=False)


def _write_xlsx(batches: Iterator[list[dict]], output: Path) -> None:
    """One sheet 数据: a header row, then the facts as they come (xlsxwriter's constant-memory
    mode: rows go to disk as written); text columns as text (format @) so that what a clerk
    types there later stays text too, numbers as numbers."""
    import xlsxwriter

    text_columns = {"file", "agency", "code", "edition", "status", "table", "row", "col", "row_label", "col_label", "sheet", "cell", "raw"}
    wb = xlsxwriter.Workbook(str(output), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
                                           "constant_memory": True})
    try:
        ws = wb.add_worksheet("数据")
        bold, text = wb.add_format({"bold": True}), wb.add_format({"num_format": "@"})
        for c, name in enumerate(FACT_COLUMNS):
            ws.set_column(c, c, 20 if name in ("code", "row_label", "col_label") else 12, text if name in text_columns else None)
            ws.write_string(0, c, name, bold)
        r = 0
        for batch in batches:
            for record in batch:
                r += 1
                for c, name in enumerate(FACT_COLUMNS):
                    value = record[name]
                    if value is None or (isinstance(value, float) and value != value):
                        continue
                    if name in text_columns:
                        ws.write_string(r, c, str(value), text)
                    else:
                        ws.write(r, c, value)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, r, len(FACT_COLUMNS) - 1)
    finally:
        wb.close()
