"""Thin, robust wrapper around LibreOffice headless (``soffice --convert-to``).

Used by the test-suite (recalculate and re-save real files), the README
picture and a user command.

Design notes (verified with LibreOffice 7.4):

* Recalculation on load is controlled by
  ``/org.openoffice.Office.Calc/Formula/Load`` ``OOXMLRecalcMode`` and
  ``ODFRecalcMode`` (0 = always, 1 = never, 2 = prompt).  The shipped default
  (share/registry/main.xcd) is 1 = never for both, so a stock LibreOffice keeps
  the cached values written by xlsxwriter.  We still write the value explicitly
  for ``recalc=False`` so a distro/admin override cannot change behaviour.
* Each setting gets its own persistent user profile (``-env:UserInstallation``)
  so the registry seed applies and the slow first start is paid only once.
* Two soffice processes on one profile interfere: the second one hands its
  job to the first over a pipe, or exits with status 1 and converts nothing.
  Every profile is therefore guarded by ``fcntl.flock``.
* soffice exits with status 0 even when it cannot load an input, so success is
  judged only by the existence of a freshly written output file.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OfficeError, OfficeInputError

__all__ = [
    "OfficeError",
    "soffice_path",
    "convert",
    "convert_many",
    "pdf_to_png",
    "pdf_page_texts",
    "pdf_sheet_pages",
    "pdf_to_png_page",
    "FILTERS",
]

# Output format -> ``--convert-to`` argument.  The csv options are
# separator ',' (44), quote '"' (34), charset UTF-8 (76), first line 1.
FILTERS: dict[str, str] = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "xls": "xls:MS Excel 97",
    "ods": "ods",
    "pdf": "pdf:calc_pdf_Export",
    "csv": "csv:Text - txt - csv (StarCalc):44,34,76,1",
    "docx": "docx:MS Word 2007 XML",
    "odt": "odt",
}

_RECALC_ALWAYS = 0
_RECALC_NEVER = 1

_TAIL_CHARS = 2000


def soffice_path() -> str | None:
    """Return the LibreOffice executable on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


# --------------------------------------------------------------------------
# profile handling


def _profile_root(recalc: bool) -> Path:
    # Persistent across calls (first start of a fresh profile is the slow
    # part); keyed by uid so users on a shared machine do not collide.
    base = os.environ.get("XLSXGOV_LO_PROFILE_ROOT") or tempfile.gettempdir()
    tag = "recalc" if recalc else "norecalc"
    return Path(base) / f"xlsxgov-lo-profile-{tag}-{os.getuid()}"


def _registry_xcu(mode: int) -> str:
    items = "".join(
        f'<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
        f'<prop oor:name="{name}" oor:op="fuse"><value>{mode}</value></prop></item>\n'
        for name in ("OOXMLRecalcMode", "ODFRecalcMode")
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}</oor:items>\n"
    )


def _has_mode(xcu_text: str, mode: int) -> bool:
    return all(
        re.search(
            rf'oor:path="/org\.openoffice\.Office\.Calc/Formula/Load">\s*'
            rf'<prop oor:name="{name}"[^>]*>\s*<value>{mode}</value>',
            xcu_text,
        )
        for name in ("OOXMLRecalcMode", "ODFRecalcMode")
    )


def _ensure_profile(root: Path, recalc: bool) -> Path:
    """Create/repair the profile; return the UserInstallation directory.

    Must be called with the profile lock held.
    """
    profile = root / "profile"
    xcu = profile / "user" / "registrymodifications.xcu"
    mode = _RECALC_ALWAYS if recalc else _RECALC_NEVER
    xcu.parent.mkdir(parents=True, exist_ok=True)
    try:
        text = xcu.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if _has_mode(text, mode):
        return profile
    if "</oor:items>" in text:
        # LibreOffice rewrites this file on exit with everything it changed;
        # keep its entries, replace only ours.
        lines = [
            ln
            for ln in text.splitlines(keepends=True)
            if not re.search(r'oor:name="(OOXML|ODF)RecalcMode"', ln)
        ]
        text = "".join(lines)
        ours = _registry_xcu(mode).split("\n", 2)[2].replace("</oor:items>\n", "")
        text = text.replace("</oor:items>", ours + "</oor:items>", 1)
    else:
        text = _registry_xcu(mode)
    tmp = xcu.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, xcu)
    return profile


@contextmanager
def _locked_profile(recalc: bool) -> Iterator[Path]:
    """Hold an exclusive lock on the profile of this recalc setting.

    flock locks belong to the open file description, so separate open() calls
    serialize both processes and threads.
    """
    root = _profile_root(recalc)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = root.stat()
    if st.st_uid != os.getuid():
        # A predictable name under /tmp could be planted by another user.
        raise OfficeError(f"LibreOffice 配置目录 {root} 不属于当前用户，拒绝使用")
    lock_path = root.parent / (root.name + ".lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------
# running soffice


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "…" + text[-_TAIL_CHARS:]


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # No display is available/needed; svp is the pure headless backend.
    env["SAL_USE_VCLPLUGIN"] = "svp"
    home = env.get("HOME")
    if not home or not os.access(home, os.W_OK):
        # LibreOffice/fontconfig write caches under HOME.
        h = root / "home"
        h.mkdir(exist_ok=True)
        env["HOME"] = str(h)
    return env


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run soffice in its own process group; return (returncode, output tail).

    Output goes to a temp file rather than a pipe so that a stray child holding
    the pipe open can never block us.  returncode is None on timeout.
    """
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: killpg reaches soffice.bin
        )
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            # Also reap leftovers after a normal exit; the group is ours alone.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    return rc, _tail(text)


def _check_fmt(fmt: str) -> str:
    key = fmt.lower().lstrip(".")
    if key not in FILTERS:
        raise OfficeInputError(f"不支持的输出格式 {fmt!r}，可选：{', '.join(FILTERS)}")
    return key


def convert_many(
    srcs: list[Path],
    fmt: str,
    outdir: Path,
    *,
    recalc: bool = True,
    timeout: float | None = None,
    filter: str | None = None,
    infilter: str | None = None,
) -> list[Path]:
    """Convert many files with one soffice process; return outputs in order.

    Much faster than one process per file.  Outputs are named
    ``outdir/<stem>.<fmt>``, so input stems must be unique.  Raises
    OfficeError naming every file that was not produced.  ``filter``
    replaces the export filter of ``fmt`` (``pdf:writer_pdf_Export`` for a
    text document); ``infilter`` forces the import filter (``HTML
    (StarWriter)`` opens a web page in Writer, which can save .docx/.odt).
    """
    key = _check_fmt(fmt)
    exe = soffice_path()
    if exe is None:
        raise OfficeError("未找到 LibreOffice（soffice/libreoffice 不在 PATH 中），请先安装 LibreOffice")
    srcs = [Path(s).resolve() for s in srcs]
    if not srcs:
        return []
    missing = [str(s) for s in srcs if not s.is_file()]
    if missing:
        raise OfficeError("输入文件不存在：" + "、".join(missing))
    outdir = Path(outdir).resolve()
    outs = [outdir / f"{s.stem}.{key}" for s in srcs]
    if len(set(outs)) != len(outs):
        raise OfficeInputError("多个输入文件同名（不含扩展名），输出会互相覆盖")
    for s, o in zip(srcs, outs):
        if s == o:
            raise OfficeInputError(f"输出文件与输入文件相同：{s}，请换一个输出目录")
    if timeout is None:
        timeout = 180 + 30 * len(srcs)
    outdir.mkdir(parents=True, exist_ok=True)
    # Remove stale outputs so that "file exists" really means "just written".
    for o in outs:
        o.unlink(missing_ok=True)

    with _locked_profile(recalc) as root:
        profile = _ensure_profile(root, recalc)
        cmd = [
            exe,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            *([f"--infilter={infilter}"] if infilter else []),
            "--convert-to",
            filter or FILTERS[key],
            "--outdir",
            str(outdir),
            *map(str, srcs),
        ]
        started = time.monotonic()
        rc, tail = _run(cmd, _env(root), timeout)

    if rc is None:
        raise OfficeError(
            f"LibreOffice 转换超时（{timeout:.0f} 秒，已用 {time.monotonic() - started:.0f} 秒），"
            f"进程已终止。输出：\n{tail}"
        )
    failed = [s for s, o in zip(srcs, outs) if not (o.is_file() and o.stat().st_size > 0)]
    if failed:
        names = "、".join(str(s) for s in failed)
        raise OfficeError(
            f"LibreOffice 未能将以下文件转换为 {key}：{names}"
            f"（文件可能已损坏或格式不受支持；退出码 {rc}）。输出：\n{tail}"
        )
    return outs


def convert(
    src: Path,
    fmt: str,
    outdir: Path,
    *,
    recalc: bool = True,
    timeout: float = 180,
    filter: str | None = None,
    infilter: str | None = None,
) -> Path:
    """Open src in LibreOffice headless and save it as fmt; return the new path.

    fmt is one of "xlsx", "xls", "ods", "pdf", "csv" (csv: first sheet, UTF-8),
    "docx", "odt" (text documents; a web page needs infilter="HTML (StarWriter)").
    recalc=True recalculates all formulas on load (OOXML and ODF); recalc=False
    uses "never recalculate" (LibreOffice's shipped default), so cached values
    stay as written.  Note: LibreOffice 7.4 still recalculated ODS files it had
    written itself even with "never"; only rely on recalc=False for xlsx/xls.
    """
    return convert_many([src], fmt, outdir, recalc=recalc, timeout=timeout, filter=filter, infilter=infilter)[0]


def pdf_to_png(pdf: Path, out_prefix: Path, dpi: int = 80) -> list[Path]:
    """Render every page of pdf to ``<out_prefix>-<n>.png`` with pdftoppm."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise OfficeError("未找到 pdftoppm，请安装 poppler-utils")
    pdf = Path(pdf)
    if not pdf.is_file():
        raise OfficeError(f"PDF 文件不存在：{pdf}")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    # Drop stale pages from an earlier, longer render.
    pattern = re.compile(re.escape(out_prefix.name) + r"-\d+\.png$")
    for old in out_prefix.parent.iterdir():
        if pattern.fullmatch(old.name):
            old.unlink()
    proc = subprocess.run(
        [exe, "-png", "-r", str(int(dpi)), str(pdf), str(out_prefix)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    pages = sorted(
        (p for p in out_prefix.parent.iterdir() if pattern.fullmatch(p.name)),
        key=lambda p: int(p.stem.rsplit("-", 1)[1]),
    )
    if proc.returncode != 0 or not pages:
        raise OfficeError(
            f"pdftoppm 未能渲染 {pdf}（退出码 {proc.returncode}）：\n"
            f"{_tail(proc.stderr + proc.stdout)}"
        )
    return pages


def pdf_page_texts(pdf: Path, *, layout: bool = True) -> list[str]:
    """The text of every page of pdf (pdftotext), one string per page; ``layout``: as placed
    on the page, else in content order (a wrapped cell's lines stay together).

    Used to check printed workbooks: which sheet a page belongs to (the footer names it) and
    whether a page shows a sheet's first and last columns."""
    exe = shutil.which("pdftotext")
    if exe is None:
        raise OfficeError("未找到 pdftotext，请安装 poppler-utils")
    proc = subprocess.run(
        [exe, *(["-layout"] if layout else []), "-enc", "UTF-8", str(pdf), "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise OfficeError(f"pdftotext 未能读取 {pdf}（退出码 {proc.returncode}）：\n{_tail(proc.stderr.decode('utf-8', 'replace'))}")
    pages = proc.stdout.decode("utf-8", errors="replace").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


_PAGE_OF = re.compile(r"第\s*\d+\s*页\s*共\s*\d+\s*页")


def pdf_sheet_pages(pdf: Path, sheets: list[str]) -> dict[str, list[int]]:
    """Page numbers (1-based) of each sheet in a workbook's PDF, found by the sheet name that
    xlsxgov prints in every page footer (``&A``); pages naming no sheet are left out."""
    out: dict[str, list[int]] = {s: [] for s in sheets}
    for n, text in enumerate(pdf_page_texts(pdf), start=1):
        footer = next((ln for ln in reversed(text.splitlines()) if _PAGE_OF.search(ln)), "")
        words = _PAGE_OF.sub(" ", footer).split()
        names = [s for s in sheets if s in words]
        if names:
            out[max(names, key=len)].append(n)
    return out


def pdf_to_png_page(pdf: Path, page: int, out_prefix: Path, dpi: int = 60) -> list[Path]:
    """Render one page (1-based) of pdf to ``<out_prefix>.png`` with pdftoppm."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise OfficeError("未找到 pdftoppm，请安装 poppler-utils")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    target = out_prefix.with_name(out_prefix.name + ".png")
    target.unlink(missing_ok=True)
    proc = subprocess.run(
        [exe, "-png", "-singlefile", "-r", str(int(dpi)), "-f", str(page), "-l", str(page), str(pdf), str(out_prefix)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 or not target.is_file():
        raise OfficeError(f"pdftoppm 未能渲染 {pdf} 第 {page} 页（退出码 {proc.returncode}）：\n{_tail(proc.stderr + proc.stdout)}")
    return [target]
