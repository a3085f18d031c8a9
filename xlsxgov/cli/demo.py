"""``xlsxgov demo``: one whole campaign, run on made-up agencies, explained step by step."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from ..safetext import for_markup as escape  # data, never markup nor terminal control

from ..vocab import status_label
from .base import app, console, say
from .text import message_table


@app.command("demo")
def demo_command(
    directory: Path = typer.Argument(Path("demo"), help="演示用的新目录（以前的演示目录会清空重建，其他已有目录不会动）", metavar="目录"),
    agencies: int = typer.Option(50, "--agencies", help="模拟单位数量（最多50）"),
) -> None:
    """演示一次完整的报送任务：名册 → 下发模板 → 单位填报（含几份常见错误、一份 .xls、邮件回复）→ 导入台账 → 进度 → 汇总 → 网页表格。

    示例：
      xlsxgov demo 演示
    """
    from ..demo import run_demo

    r = run_demo(directory, n=agencies)
    campaign = r.directory / "campaign"
    tot, c = r.status["totals"], r.consolidation
    first, second = r.rounds[0], r.rounds[1]
    feedback = sorted((campaign / "feedback").glob("*.xlsx"))
    say(f"[bold]演示完成[/bold]（用时 {r.seconds:.1f} 秒）：{c.region} {c.year} 年度，{len(r.agencies)} 个单位，报送任务目录 {campaign}")
    say(f"1. 名册：{r.roster}（{len(r.agencies)} 个单位，统一社会信用代码已校验）")
    say(f"2. 下发：{campaign / 'outbox'}（{len(r.issued.templates)} 份预填单位信息的模板，{len(r.issued.emls)} 封待发邮件）")
    xls = f"，其中 .xls {r.delivered['xls']} 份" if r.delivered["xls"] else ""
    say(f"3. 收回：第一轮 {len(first.files)} 个文件（放入 inbox {r.delivered['files']} 个，邮件回复 {r.delivered['emails']} 封{xls}）；"
        f"第二轮收到修改稿 {len(second.files) - second.count('duplicate')} 份，已导入的 {second.count('duplicate')} 个文件自动跳过")
    say(f"4. 进度：合格 {tot['valid']}，有错误 {tot['invalid']}，无法读取 {tot['unreadable']}，未报送 {tot['missing']} → {r.status_xlsx}")
    # Each agency left out with its first problem, whole: the numbers are in the message.
    rows = [
        (Text(f"{status_label(a['status'])} ", style="red") + Text(f"{a['name']}：{a['reason']}"),)
        for a in r.status["agencies"] if a["status"] in ("invalid", "unreadable")
    ]
    if rows:
        console.print(message_table(console, ("未汇总的单位和第一处问题",), rows))
    if c.missing:
        say(f"   [yellow]未报送[/yellow] {escape('、'.join(m.name for m in c.missing))}")
    say(f"5. 反馈工作簿：{campaign / 'feedback'}（{len(feedback)} 份，问题单元格标红并附说明，可发回单位修改）")
    say(f"6. 汇总工作簿：{c.path}（汇总 {c.consolidates} 个单位；未报送和未汇总的单位见“未报送”表）")
    say(f"7. 网页表格：{r.html}")
    say(f"8. 各单位数据：{r.facts}")
    for note in r.notes:
        say(f"[yellow]说明：[/yellow]{escape(note)}")
    say(f"可继续试用：xlsxgov campaign status {campaign}    xlsxgov validate {c.path}")
    from ..demo import DEMO_ADMIN, DEMO_PORTAL

    say(f"报送平台：启动后打开 {DEMO_PORTAL}/login（用户名 {DEMO_ADMIN}，密码 {r.admin_password}）；"
        f"各单位的专属链接见 {campaign / 'outbox' / 'links.csv'}。启动命令：")
    print(f"xlsxgov serve {campaign}")
