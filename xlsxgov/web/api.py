"""The JSON API for the province's own systems (read-only), with a per-client bearer token.

Schema: GET /api/openapi.json. Tokens: ``xlsxgov user token DIR CLIENT``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from ..campaign import portal
from ..campaign.status import campaign_status
from .common import cfg_of, open_ledger, release

router = APIRouter(prefix="/api/v1", tags=["报送任务"])


def client(request: Request) -> str:
    """The API client named by the request's ``Authorization: Bearer`` token; 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    conn = open_ledger(cfg_of(request).directory)
    try:
        name = portal.api_client(conn, token.strip()) if scheme.lower() == "bearer" else None
    finally:
        release(conn)
    if name is None:
        raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
    return name


class AgencyStatus(BaseModel):
    name: str
    code: str
    status: str  # valid | invalid | unreadable | missing
    errors: int
    warnings: int
    received_at: str | None
    reminders: int
    review: str  # 待审核 | 审核通过 | 退回修改 | '' (nothing received)


class Status(BaseModel):
    year: int | None  # the campaign's report year
    region: str
    edition: str
    totals: dict[str, int]
    unassigned: int
    agencies: list[AgencyStatus]


class Submission(BaseModel):
    id: int
    file_name: str
    sha256: str
    received_at: str
    status: str
    errors: int
    warnings: int
    current: bool
    review: str
    comment: str


class Finding(BaseModel):
    severity: str  # error | warning | info
    rule: str | None
    sheet: str | None
    cell: str | None
    message: str | None


class Fact(BaseModel):
    table: str
    row: str
    col: str
    value: float | None
    sheet: str | None
    cell: str | None


@router.get("/status", response_model=Status, summary="各单位报送进度")
def status(request: Request, _: str = Depends(client)):
    directory = cfg_of(request).directory
    st = campaign_status(directory)
    conn = open_ledger(directory)
    try:
        reviews = portal.current_reviews(conn)
        settings = portal.settings(conn)
    finally:
        release(conn)
    agencies = [
        AgencyStatus(**{k: a[k] for k in ("name", "code", "status", "errors", "warnings", "received_at", "reminders")},
                     review=reviews.get(a["code"], "") if a["status"] != "missing" else "")
        for a in st["agencies"]
    ]
    year = settings.get("year", "")
    return Status(year=int(year) if year.isdigit() else None, region=settings.get("region", ""), edition=settings.get("edition", ""),
                  totals=st["totals"], unassigned=st["unassigned"], agencies=agencies)


@router.get("/agencies/{code}/submissions", response_model=list[Submission], summary="某单位的全部报送")
def submissions(request: Request, code: str, _: str = Depends(client)):
    conn = open_ledger(cfg_of(request).directory)
    try:
        if portal.agency(conn, code) is None:
            raise HTTPException(404)
        return [Submission(**{k: s[k] for k in Submission.model_fields}) for s in portal.submissions_of(conn, code)]
    finally:
        release(conn)


def _existing(conn, sid: int) -> None:
    if portal.submission(conn, sid) is None:
        raise HTTPException(404)


@router.get("/submissions/{sid}/findings", response_model=list[Finding], summary="某次报送的校验结果")
def findings(request: Request, sid: int, _: str = Depends(client)):
    conn = open_ledger(cfg_of(request).directory)
    try:
        _existing(conn, sid)
        return [Finding(**dict(r)) for r in portal.findings_of(conn, sid, with_info=True)]
    finally:
        release(conn)


@router.get("/submissions/{sid}/facts", response_model=list[Fact], summary="某次报送的全部数据（每个单元格一项）")
def facts(request: Request, sid: int, _: str = Depends(client)):
    conn = open_ledger(cfg_of(request).directory)
    try:
        _existing(conn, sid)
        return [Fact(**dict(r)) for r in portal.facts_of(conn, sid)]
    finally:
        release(conn)
