"""The texts of the campaign's mails (Chinese): the invitation sent with each template and the reminders."""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from .roster import Agency

if TYPE_CHECKING:
    from .store import CurrentSubmission

DEFAULT_SENDER = "noreply@example.invalid"  # the From of mails written before a real sender is known
OFFICE_KEYS = ("sender", "contact", "phone")  # the ledger's campaign settings of the office


@dataclass(frozen=True)
class Office:
    """The regional office running the campaign, as its mails sign: ``sender`` is its mailbox,
    bare or as ``名称 <地址>`` (From and Reply-To of every mail, so replies reach it), ``contact``
    and ``phone`` whom agencies call; ``region`` the campaign's region."""

    sender: str = ""
    contact: str = ""
    phone: str = ""
    region: str = ""

    @cached_property  # parsed once: every mail of a campaign signs with it
    def address(self) -> str:
        return email.utils.parseaddr(self.sender)[1]

    @property
    def is_real(self) -> bool:
        """An address agencies can reply to: set, and not the placeholder (.invalid is reserved)."""
        return "@" in self.address and not self.address.lower().endswith(".invalid")

    @cached_property
    def name(self) -> str:
        display = email.utils.parseaddr(self.sender)[0]
        return display or f"{self.region}政府信息公开工作主管部门"

    def signature(self) -> str:
        """The closing lines of every mail: who sends it and how to reach them."""
        lines = [self.name]
        reach = "　".join(x for x in (f"联系人：{self.contact}" if self.contact else "", f"电话：{self.phone}" if self.phone else "") if x)
        if reach:
            lines.append(reach)
        if self.is_real:
            lines.append(f"邮箱：{self.address}（直接回复本邮件即可）")
        return "\n".join(lines) + "\n"

    def mail_builder(self):
        """The builder of this office's mails (mail.MessageBuilder): its address as From and
        Reply-To, so that replies reach it; the placeholder DEFAULT_SENDER when it has none
        (``send_outbox`` refuses those)."""
        from .mail import MessageBuilder

        if self.is_real:
            return MessageBuilder(self.sender, reply_to=self.sender)
        return MessageBuilder(DEFAULT_SENDER)

    def cover_line(self) -> str:
        """Whom to ask, printed on every template's cover: the office and how to reach it; "" when
        nothing beyond the default name is known (no contact, phone nor real mailbox)."""
        reach = [f"联系人：{self.contact}" if self.contact else "", f"电话：{self.phone}" if self.phone else "",
                 f"邮箱：{self.address}" if self.is_real else ""]
        reach = [x for x in reach if x]
        return f"填报咨询：{self.name}　" + "　".join(reach) if reach else ""




REMINDER_ERRORS_LISTED = 10  # errors quoted in a reminder's body; the feedback workbook has all


def default_deadline(year: int) -> date:
    """The reporting deadline the issued mail states: 31 January of the next year (《政府信息公开条例》
    第四十九条: departments submit last year's report to the office by 31 January)."""
    return date(year + 1, 1, 31)


def invitation(agency: Agency, year: int, attachment: str, office: Office, link: str | None = None) -> tuple[str, str]:
    """Subject and body of the mail that sends an agency its template ``attachment`` (and, with
    ``link``, its secret upload link for the web portal); the deadline is ``default_deadline``, the
    rule behind it 条例第四十九条; signed by ``office``."""
    deadline_text = cn_date(default_deadline(year))
    subject = f"请报送{year}年度政府信息公开工作年度报告统计表（{agency.name}）"
    body = (
        f"{agency.name}：\n\n"
        "根据《中华人民共和国政府信息公开条例》第四十九条，县级以上人民政府部门应当在每年1月31日前"
        f"向本级政府信息公开工作主管部门提交本行政机关上一年度政府信息公开工作年度报告。请填报本单位{year}年度"
        "政府信息公开工作年度报告统计表。\n\n"
        f"附件“{attachment}”已预填本单位名称和统一社会信用代码（{agency.code}），请在白色单元格中填写数据，"
        "填完后查看“校验”工作表，确认各项均显示“通过”。\n\n"
        f"请于{deadline_text}前将填好的表格（保持 .xlsx 格式，请勿修改表格结构）作为附件回复本邮件。\n\n"
        + (f"也可以通过本单位的专属报送链接在线上传，上传后立即显示校验结果，可随时查看审核意见：\n{link}\n"
           "（此链接仅供本单位使用，请勿转发。）\n\n" if link else "")
        + "如有疑问，请与我们联系。\n\n"
        + office.signature()
    )
    return subject, body


def cn_date(value: date) -> str:
    """A date as Chinese text: 2025年2月15日."""
    return f"{value.year}年{value.month}月{value.day}日"


def reminder_text(
    agency: Agency, year: int, reason: str, attachment: str, *, deadline: date | None, today: date, office: Office,
    submission: CurrentSubmission | None = None, errors: Sequence[tuple[str, str, str]] = (), why: str = "",
    feedback: bool = True, wrong_form: bool = False,
) -> tuple[str, str]:
    """Subject and body of a reminder: what is wrong and what to do, in Chinese, signed by ``office``.

    ``reason``: missing | invalid | unreadable (ValueError otherwise); ``submission``: the
    agency's current submission (for invalid and unreadable); ``errors``: its errors as
    (sheet, cell, message), the first REMINDER_ERRORS_LISTED quoted; ``why``: why the file could
    not be read; ``feedback``: for invalid, ``attachment`` is the submission's feedback workbook
    (False: its template again, when the feedback workbook could not be built); ``wrong_form``:
    for invalid, the file is another year's or edition's form, or the template left unfilled, so
    it cannot be corrected in place and ``attachment`` is this year's template.
    """
    when = f"请于{cn_date(deadline)}前" if deadline else "请尽快"
    table = f"{year}年度政府信息公开工作年度报告统计表"
    received = ""
    if submission is not None and submission.received_at:
        received = cn_date(datetime.fromisoformat(submission.received_at).astimezone().date())
    if reason == "missing":
        subject = f"催报：请报送{table}（{agency.name}）"
        text = (
            f"截至{cn_date(today)}，我们尚未收到贵单位的{table}。\n\n"
            f"现再次附上已预填本单位名称和统一社会信用代码（{agency.code}）的模板“{attachment}”，请在白色单元格中填写数据，"
            "填完后查看“校验”工作表，确认各项均显示“通过”，"
            f"{when}将填好的表格（保持 .xlsx 格式，请勿修改表格结构）作为附件回复本邮件。\n\n"
            "如已通过其他方式报送，请回复告知。\n\n"
        )
    elif reason == "invalid":
        assert submission is not None, "an invalid agency has a current submission"
        n = max(submission.errors, len(errors))
        subject = f"请修改后重新报送{table}（{agency.name}）：报表有 {n} 处错误"
        listed = errors[:REMINDER_ERRORS_LISTED]
        lines = []
        for i, (_sheet, cell, message) in enumerate(listed, start=1):
            # The message names the table and row; the cell says where to look.
            lines.append(f"{i}. {message}（{cell}）" if cell else f"{i}. {message}")
        head = f"前 {len(listed)} 处如下" if n > len(listed) else "如下"
        text = (
            f"贵单位{received}报送的“{submission.file_name}”经校验有 {n} 处错误，{head}：\n\n"
            + "\n".join(lines) + "\n\n"
            + (f"报送的表格不是本次下发的{year}年度模板，无法在原表中修改：请用附上的本年度模板“{attachment}”填写，" if wrong_form else
               f"附件“{attachment}”逐项列出了全部问题及所在单元格。请在原表中修改，" if feedback else
               f"请在原表中修改（也可以用再次附上的模板“{attachment}”重新填写），")
            + f"修改后查看“校验”工作表，确认各项均显示“通过”，{when}将修改后的表格（保持 .xlsx 格式）作为附件回复本邮件。\n\n"
        )
    elif reason == "unreadable":
        assert submission is not None, "an unreadable agency has a current submission"
        subject = f"请重新报送{table}（{agency.name}）：收到的文件无法读取"
        text = (
            f"贵单位{received}报送的文件“{submission.file_name}”无法读取：{why or '文件已损坏或格式不受支持'}。\n\n"
            "请用 Excel 或 WPS 打开该文件，选择“另存为”，保存类型选“Excel 工作簿（*.xlsx）”"
            "（如文件设有打开密码，请先取消密码），"
            f"{when}将另存的 .xlsx 文件作为附件回复本邮件。也可以用再次附上的模板“{attachment}”重新填写。\n\n"
        )
    else:  # a caller's bug, not a user error
        raise ValueError(f"unknown reminder reason {reason!r}")
    body = f"{agency.name}：\n\n{text}如有疑问，请与我们联系。\n\n{office.signature()}"
    return subject, body
