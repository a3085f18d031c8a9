"""The web portal of a campaign (``xlsxgov serve``): agencies upload through their secret link,
the office reviews and runs the campaign in a browser, other systems read the JSON API.

Pages are rendered on the server (Jinja2, autoescaped); the two small scripts (drag and drop,
print) and the stylesheet are local static files, so the Content-Security-Policy allows no
inline script or style. Validation runs in a process pool (``campaign.importer.import_file``, the same call
the CLI's import makes), never on the event loop. Everything persistent is in the campaign
folder: the ledger (SQLite, WAL) and the files beside it; any number of server processes can
share it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..campaign import ledger, portal
from .common import ERROR_TEXT, LABELS, Config, client_address, not_found, page
from .upload import DEFAULT_LIMIT, clean_stale

HERE = Path(__file__).parent
log = logging.getLogger("xlsxgov.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the agency link is a secret: never sent to another site
    "Cache-Control": "no-store",
}
# Secrets in paths (agency links) are replaced before anything is logged.
_SECRET_PATH = re.compile(r"^/a/[^/]+")


def redact(path: str) -> str:
    """The request path as logged: an agency link's token replaced by ***."""
    return _SECRET_PATH.sub("/a/***", path)


class HeadersAndLog:
    """Every response gets SECURITY_HEADERS (unless the route set its own) and a log line
    (client, method, path with any link token redacted, status). A plain ASGI middleware:
    Starlette's ``@app.middleware("http")`` runs each request in a task of its own behind a
    streaming wrapper, a sixth of the server's CPU in a burst of uploads (py-spy, issue #13)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_with_headers(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        await self.app(scope, receive, send_with_headers)
        log.info("%s %s %s %s", client_address(Request(scope)), scope["method"], redact(scope["path"]), status)


# The routes that take a file, each parsing its body itself with its own limit (upload.receive).
_UPLOAD_PATH = re.compile(r"^/(a/[^/]+|office/agency/[^/]+)/upload$")
FORM_LIMIT = 64 * 1024  # bytes: the body of any other request (login, review comment …); no form takes a file


class BodyLimit:
    """Every request body but an upload's is read here, at most FORM_LIMIT bytes, before a route
    sees it; a longer one gets 413 at once. Starlette's ``Form()`` parses a body before the
    route's checks (session, CSRF) run and spools a file part to the system's temp folder: a
    chunked 400 MB ``POST /logout`` without any session was written to /tmp (found by a security
    review). Uploads stream into the campaign folder under their own limit (upload.receive)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") or _UPLOAD_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        body: list[bytes] = []
        size = int(declared) if declared.isdigit() else 0  # a declared length over the limit: refused unread
        more = size <= FORM_LIMIT
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body.append(message.get("body", b""))
            size = sum(map(len, body))
            more = message.get("more_body", False) and size <= FORM_LIMIT
        if size > FORM_LIMIT:
            request = Request(scope)
            if scope["path"].startswith("/api/"):
                response: Response = JSONResponse({"error": "请求内容过长"}, status_code=413)
            else:
                response = page(request, "error.html", {"message": "请求内容过长（表单内容不能超过 64 KB）"}, status=413)
            await response(scope, receive, send)
            return
        whole = {"type": "http.request", "body": b"".join(body), "more_body": False}
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return whole
            return await receive()  # after the body: waits for the client's disconnect

        await self.app(scope, replay, send)


def _warm(edition: str) -> None:
    """Validate a blank template once in a pool process, so the first agency's upload does not
    pay for importing pandas/pandera and building the edition's schemas."""
    import tempfile

    from .. import spec as spec_mod
    from ..template import Meta, write_template
    from ..validate import validate_paths

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm.xlsx"
        write_template(path, spec_mod.load(edition), Meta())
        validate_paths([path], edition=edition)


def _campaign_secret(directory: Path) -> bytes:
    """The campaign's key for agency-form CSRF tokens, made once and shared by every process."""
    conn = ledger.connect(directory)
    try:
        with ledger.transaction(conn):
            conn.execute("INSERT OR IGNORE INTO campaign(key, value) VALUES ('portal_secret', ?)", (secrets.token_hex(32),))
        return bytes.fromhex(ledger.get_setting(conn, "portal_secret"))
    finally:
        conn.close()


def local_time(iso: str | None) -> str:
    """A ledger timestamp (UTC, ISO 8601) as Beijing time to the second, whatever the server's
    time zone (a receipt must not be eight hours off on a UTC server); every page says so."""
    from ..campaign.status import beijing_time

    return beijing_time(iso, "%Y-%m-%d %H:%M:%S")


def create_app(directory: Path | str, *, max_upload: int = DEFAULT_LIMIT, pool_size: int = 2) -> FastAPI:
    """The ASGI application serving the campaign in ``directory``. Raises CampaignError when the
    folder is no campaign."""
    directory = Path(directory).resolve()
    portal.open_ledger(directory).close()  # CampaignError early; migrates an older ledger
    cfg = Config(directory, max_upload, pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        cfg.secret = _campaign_secret(directory)
        clean_stale(cfg.tmp)
        pool = cfg.start_pool()
        conn = ledger.connect(directory)
        try:
            edition = ledger.get_setting(conn, "edition") or "gov2021"
        finally:
            conn.close()
        for _ in range(pool_size):  # start and warm every pool process now, not at the first upload
            pool.submit(_warm, edition)
        cfg.batcher.start()
        try:
            yield
        finally:
            cfg.batcher.stop()
            # Waits for the uploads being validated (seconds at most); not waiting left the pool's
            # processes running after the server had gone (found by a new user's trial).
            if cfg.pool is not None:
                cfg.pool.shutdown(wait=True, cancel_futures=True)
            cfg.login_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="xlsxgov 报送平台 API",
        version="1",
        description="政府信息公开工作年度报告统计表报送任务的只读 JSON 接口。每个请求须带 Authorization: Bearer <令牌>"
        "（令牌用 xlsxgov user token 生成）。",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema itself is served
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.cfg = cfg
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.auto_reload = False  # the templates ship with the package: no stat per page
    templates.env.globals["labels"] = LABELS
    templates.env.filters["local"] = local_time
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    app.add_middleware(BodyLimit)
    app.add_middleware(HeadersAndLog)  # added last: the outermost, so a 413 of BodyLimit gets the headers too

    @app.exception_handler(BrokenProcessPool)
    async def pool_broken(request: Request, exc: BrokenProcessPool):
        # Config.in_pool replaced the pool once already; the next request gets a fresh one.
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": ERROR_TEXT[503]}, status_code=503)
        return page(request, "error.html", {"message": ERROR_TEXT[503]}, status=503)

    @app.exception_handler(OverflowError)
    async def id_out_of_range(request: Request, exc: OverflowError):
        # An id past SQLite's 64-bit integers (/a/…/s/99999999999999999999999/receipt) names
        # nothing: the normal 404, not a 500 (found by a security review).
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": ERROR_TEXT[404]}, status_code=404)
        return not_found(request)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        # Runs outside the other middleware (Starlette's ServerErrorMiddleware, which logs the
        # traceback after): the security headers are set here.
        if request.url.path.startswith("/api/"):
            response: Response = JSONResponse({"error": "服务器内部错误"}, status_code=500)
        else:
            response = page(request, "error.html", {"message": "服务器内部错误，请稍后再试；如果一再出现，请联系汇总单位"}, status=500)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": ERROR_TEXT.get(exc.status_code, "请求错误")}, status_code=exc.status_code)
        if exc.status_code == 303:  # no session: to the login page, showing nothing
            from fastapi.responses import RedirectResponse

            return RedirectResponse(exc.headers["Location"], status_code=303)
        if exc.status_code == 404:
            return not_found(request)
        return page(request, "error.html", {"message": exc.detail if isinstance(exc.detail, str) else ERROR_TEXT.get(exc.status_code, "请求错误")}, status=exc.status_code)

    from . import agency, api, office

    app.include_router(agency.router)
    app.include_router(office.router)
    app.include_router(api.router)
    return app


def env_app() -> FastAPI:
    """The app for uvicorn's worker processes (``serve --workers N``), configured by environment."""
    return create_app(
        os.environ["XLSXGOV_CAMPAIGN"],
        max_upload=int(os.environ.get("XLSXGOV_MAX_UPLOAD", DEFAULT_LIMIT)),
        pool_size=int(os.environ.get("XLSXGOV_POOL", "2")),
    )
