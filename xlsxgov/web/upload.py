"""Receive one uploaded file from a multipart/form-data body, streaming, with a size limit.

The body is parsed chunk by chunk as it arrives (python-multipart's push parser) and the file
part written straight to a temp file, so an oversized upload is refused after at most
``limit`` bytes were read, never held in memory. The file name the browser sends is kept as
text only: the bytes go to ``upload<ext>`` in a fresh private folder (ext only when it is a
plain short extension), so a name like ``../../x`` or ``C:\\x`` never becomes a path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

DEFAULT_LIMIT = 20 * 1024 * 1024  # bytes; `serve --max-upload-mb`
FIELDS_ALLOWANCE = 64 * 1024  # bytes of form fields and part headers allowed on top of the file
_EXT = re.compile(r"\.[A-Za-z0-9]{1,5}")


class UploadError(Exception):
    """A refused upload: ``status`` (400, 413) and a Chinese message for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Upload:
    folder: Path  # private temp folder; ``discard()`` removes it
    path: Path | None = None  # the received bytes
    name: str = ""  # the sender's file name (last path component only), as text
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        # The folder holds the one received file: two unlinks, not rmtree's walk (a tenth of
        # the server's CPU in a burst of uploads).
        try:
            for entry in os.scandir(self.folder):
                os.unlink(entry.path)
            os.rmdir(self.folder)
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)


def clean_stale(tmp_root: Path) -> None:
    """Remove upload folders of server processes that were killed (their process is gone)."""
    from ..atomic import pid_alive as _pid_alive

    for d in tmp_root.glob("upload-*-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def display_name(raw: str) -> str:
    """The last component of a browser-sent file name (some send C:\\path\\name), stripped of
    control characters; '' when nothing is left."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable()).strip()[:200]


async def receive(request: Request, tmp_root: Path, limit: int = DEFAULT_LIMIT, file_field: str = "file") -> Upload:
    """Parse the request body; returns the Upload (caller discards it). Raises UploadError."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UploadError(400, "请求格式不对：请通过页面上的表单上传文件")
    budget = limit + FIELDS_ALLOWANCE
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > budget:
        raise UploadError(413, f"文件太大：上传的文件不能超过 {limit // (1024 * 1024)} MB")
    tmp_root.mkdir(parents=True, exist_ok=True)
    up = Upload(Path(tempfile.mkdtemp(prefix=f"upload-{os.getpid()}-", dir=tmp_root)))
    state: dict = {"headers": {}, "field": b"", "value": b"", "name": None, "filename": None, "out": None, "buf": []}

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished():
        _, opts = parse_options_header(state["headers"].get("content-disposition", b""))
        state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        fname = opts.get(b"filename")
        state["filename"] = None if fname is None else fname.decode("utf-8", "replace")
        if state["name"] == file_field and state["filename"] is not None and up.path is None:
            name = display_name(state["filename"])
            m = _EXT.fullmatch(Path(name).suffix or "")
            up.name, up.path = name, up.folder / f"upload{m.group(0).lower() if m else '.bin'}"
            state["out"] = open(up.path, "wb")

    def on_part_data(data, start, end):
        if state["out"] is not None:
            up.size += end - start
            if up.size > limit:
                raise UploadError(413, f"文件太大：上传的文件不能超过 {limit // (1024 * 1024)} MB")
            state["out"].write(data[start:end])
        elif state["filename"] is None:
            state["buf"].append(data[start:end])
            if sum(map(len, state["buf"])) > FIELDS_ALLOWANCE:
                raise UploadError(413, "表单内容过长")

    def on_part_end():
        if state["out"] is not None:
            state["out"].close()
            state["out"] = None
        elif state["filename"] is None and state["name"]:
            up.fields[state["name"]] = b"".join(state["buf"]).decode("utf-8", "replace")
        state["buf"], state["headers"], state["name"], state["filename"] = [], {}, None, None

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > budget:
                raise UploadError(413, f"文件太大：上传的文件不能超过 {limit // (1024 * 1024)} MB")
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        up.discard()
        raise
    except Exception:
        up.discard()
        raise UploadError(400, "上传未完成或格式不对，请重新选择文件上传") from None
    finally:
        if state["out"] is not None:
            state["out"].close()
    if up.path is None or (up.size == 0 and not up.name):  # a browser sends an empty part when no file was chosen
        up.discard()
        raise UploadError(400, "没有收到文件：请先选择要上传的报表文件")
    if up.size == 0:
        up.discard()
        raise UploadError(400, f"文件“{up.name}”是空的（0 字节），请重新导出或另存后再上传")
    return up
