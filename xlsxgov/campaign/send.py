"""``campaign send``: deliver outbox mails and pending reminders over SMTP, each recorded once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import CampaignError, MailConnectionError
from .letters import Office
from .mail import SendResult, send_messages
from .store import CampaignStore


@dataclass
class SendSummary:
    """What one ``campaign send`` run did: every delivery attempted (templates and reminders), the ones skipped as sent before, the reminders cancelled, and the connection error that stopped the run, if any."""

    results: list[SendResult]  # templates and reminders attempted in this run
    skipped: int  # templates already sent before
    connection_error: str | None = None
    reminder_paths: frozenset = frozenset()  # which results are reminders
    reminders_skipped: int = 0  # reminders already sent before
    cancelled: list[tuple[int, str, str]] = field(default_factory=list)  # (round, code, why) never to be sent
    no_address: list[str] = field(default_factory=list)  # names of the agencies with no e-mail: nothing to send them

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
    """The agency code an outbox mail is named with (``{code}_{name}_….eml``)."""
    return path.name.split("_", 1)[0]


def send_outbox(
    directory: Path | str,
    *,
    host: str,
    port: int,
    security: Literal["none", "starttls", "ssl"] = "none",
    user: str | None = None,
    password: str | None = None,
    sender: str | None = None,
    cafile: Path | str | None = None,
) -> SendSummary:
    """Send every outbox .eml not yet sent, then every pending reminder (``prepare_reminders``),
    over one connection; each delivery is committed before the next.

    Refuses (CampaignError, nothing sent) when a mail to send is not from a real office address
    (the placeholder of a campaign without ``campaign settings --sender``): replies must reach the
    office.  ``sender`` is only the SMTP envelope (default: each mail's From).
    Agencies with no e-mail address have no mail to send (``SendSummary.no_address``).
    A pending reminder of an agency that is valid by now, or of an agency a later round also
    reminds, is cancelled instead (recorded, never sent).  ``security`` is none | starttls |
    ssl; the server certificate is checked against the system's trusted CAs, or only against
    the PEM file ``cafile`` when given.
    """
    with CampaignStore.open(directory) as store:
        known = set(store.names())
        no_address = [a.name for a in store.roster() if not a.emails]
        emls = sorted(p for p in store.folder("outbox").glob("*.eml") if _code_of_eml(p) in known)
        done = store.sent_codes()
        skipped = sum(1 for p in emls if _code_of_eml(p) in done)
        cancelled = store.cancel_stale_reminders()
        reminders = store.pending_reminders()
        reminders_skipped = store.reminders_sent()
        _check_senders(store.directory, [p for p in emls if _code_of_eml(p) not in done] + list(reminders))

        def already_sent(path: Path) -> bool:
            if path in reminders:  # asked again right before sending: another send may have sent it
                return store.reminder_settled(*reminders[path])
            return _code_of_eml(path) in done

        def record(result: SendResult) -> None:
            error = None if result.ok else (result.error or "发送失败")
            if result.path in reminders:
                store.record_reminder(*reminders[result.path], result.message_id, error)
            else:
                store.record_sent(_code_of_eml(result.path), result.message_id, error)

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
    return SendSummary(results, skipped, connection_error, frozenset(reminders), reminders_skipped, cancelled, no_address)


def _check_senders(directory: Path, paths: list[Path]) -> None:
    """CampaignError unless every mail in ``paths`` is from a real address (letters.Office.is_real)."""
    import email.parser
    import email.policy

    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    for path in paths:
        sender = str(parser.parsebytes(path.read_bytes()).get("From", ""))
        if not Office(sender).is_real:
            raise CampaignError(
                f"邮件“{path.name}”的发件人是“{sender or '（空）'}”，单位回复会收不到：请先用 "
                f"xlsxgov campaign settings {directory} --sender \"单位名称 <邮箱>\" 设置本单位的发件地址，"
                f"再运行 xlsxgov campaign issue {directory}（已生成催报邮件的再运行 campaign remind）重新生成邮件，然后发送"
            )
