"""``campaign send``: deliver outbox mails and pending reminders over SMTP, each recorded once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MailConnectionError
from . import ledger
from .mail import SendResult, send_messages
from .store import current_by_code, now, open_ledger


@dataclass
class SendSummary:
    results: list[SendResult]  # templates and reminders attempted in this run
    skipped: int  # templates already sent before
    connection_error: str | None = None
    reminder_paths: frozenset = frozenset()  # which results are reminders
    reminders_skipped: int = 0  # reminders already sent before
    cancelled: list[tuple[int, str, str]] = field(default_factory=list)  # (round, code, why) never to be sent

    def _of(self, reminders: bool, ok: bool) -> list[SendResult]:
        return [r for r in self.results if (r.path in self.reminder_paths) == reminders and r.ok == ok]

    @property
    def sent(self) -> list[SendResult]:
        """Templates delivered in this run."""
        return self._of(False, True)

    @property
    def failed(self) -> list[SendResult]:
        """Templates that failed in this run."""
        return self._of(False, False)

    @property
    def reminders_sent(self) -> list[SendResult]:
        return self._of(True, True)

    @property
    def reminders_failed(self) -> list[SendResult]:
        return self._of(True, False)


def _code_of_eml(path: Path) -> str:
    return path.name.split("_", 1)[0]


def send_outbox(
    directory: Path | str,
    *,
    host: str,
    port: int,
    security: str = "none",
    user: str | None = None,
    password: str | None = None,
    sender: str | None = None,
    cafile: Path | str | None = None,
) -> SendSummary:
    """Send every outbox .eml not yet sent, then every pending reminder (``prepare_reminders``),
    over one connection; each delivery is committed before the next.

    A pending reminder of an agency that is valid by now, or of an agency a later round also
    reminds, is cancelled instead (recorded, never sent).  ``security`` is none | starttls |
    ssl; the server certificate is checked against the system's trusted CAs, or only against
    the PEM file ``cafile`` when given.
    """
    directory = Path(directory)
    conn = open_ledger(directory)
    try:
        known = {r[0] for r in conn.execute("SELECT code FROM agencies")}
        emls = sorted(p for p in (directory / "outbox").glob("*.eml") if _code_of_eml(p) in known)
        done = {r[0] for r in conn.execute("SELECT DISTINCT code FROM sent WHERE error IS NULL")}
        skipped = sum(1 for p in emls if _code_of_eml(p) in done)
        with ledger.transaction(conn):
            cancelled = _cancel_stale_reminders(conn)
        reminders = {
            directory / r["path"]: (r["round"], r["code"])
            for r in conn.execute(
                "SELECT round, code, path FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL ORDER BY round, rowid"
            )
        }
        reminders_skipped = conn.execute("SELECT COUNT(*) FROM reminders WHERE sent_at IS NOT NULL").fetchone()[0]

        def already_sent(path: Path) -> bool:
            if path in reminders:  # asked again right before sending: another send may have sent it
                row = conn.execute("SELECT sent_at, cancelled FROM reminders WHERE round=? AND code=?", reminders[path]).fetchone()
                return row["sent_at"] is not None or row["cancelled"] is not None
            return _code_of_eml(path) in done

        def record(result: SendResult) -> None:
            error = None if result.ok else (result.error or "发送失败")
            with ledger.transaction(conn):
                if result.path in reminders:
                    if result.ok:
                        conn.execute(
                            "UPDATE reminders SET message_id=?, sent_at=?, error=NULL WHERE round=? AND code=?",
                            (result.message_id, now(), *reminders[result.path]),
                        )
                    else:
                        conn.execute("UPDATE reminders SET error=? WHERE round=? AND code=?", (error, *reminders[result.path]))
                    return
                conn.execute(
                    "INSERT INTO sent(code, message_id, at, error) VALUES (?, ?, ?, ?)",
                    (_code_of_eml(result.path), result.message_id, now(), error),
                )

        connection_error = None
        try:
            results = send_messages(
                emls + list(reminders), host=host, port=port, security=security, user=user, password=password, sender=sender,
                already_sent=already_sent, on_sent=record, cafile=cafile,
            )
        except MailConnectionError as exc:
            results = exc.results
            connection_error = str(exc)
        for r in results:
            if not r.ok:
                record(r)
    finally:
        conn.close()
    return SendSummary(results, skipped, connection_error, frozenset(reminders), reminders_skipped, cancelled)


def _cancel_stale_reminders(conn) -> list[tuple[int, str, str]]:
    """Cancel unsent reminders no longer wanted: the agency's current submission is valid, or a
    later round reminds the same agency.  Call inside a transaction."""
    current = current_by_code(conn)
    latest = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(round) FROM reminders GROUP BY code")}
    out = []
    for r in conn.execute("SELECT round, code FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL").fetchall():
        cur = current.get(r["code"])
        if cur is not None and cur["status"] == "valid":
            why = "单位已报送合格的报表"
        elif latest[r["code"]] > r["round"]:
            why = f"已由第 {latest[r['code']]} 轮催报取代"
        else:
            continue
        conn.execute("UPDATE reminders SET cancelled=? WHERE round=? AND code=?", (why, r["round"], r["code"]))
        out.append((r["round"], r["code"], why))
    return out
