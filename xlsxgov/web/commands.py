"""``xlsxgov serve`` and ``xlsxgov user …``: the web portal's commands, each one library call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from ..cli.base import console, fail, new_app

# The portal module (SQLite store, argon2) is imported by the command that runs: `xlsxgov --help`
# stays light. Library errors (CampaignError …) reach the command group, which prints them once.
user_app = new_app("报送平台的工作人员账户和接口令牌")


@user_app.command("add")
def user_add(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    name: str = typer.Argument(..., help="用户名", metavar="用户名"),
    role: str = typer.Option(..., "--role", help="角色：管理员、审核员 或 只读"),
    password_env: Optional[str] = typer.Option(None, "--password-env", help="保存密码的环境变量名（不指定则在终端输入）"),
) -> None:
    """新建工作人员账户（同名则更新角色和密码，并结束该账户已登录的会话）。密码用 argon2 加密保存。

    示例：
      xlsxgov user add 任务 张三 --role 管理员
    """
    from ..campaign import portal

    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            fail(f"环境变量 {password_env} 未设置")
    else:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    ended = portal.add_user(directory, name, role, password)
    console.print(Text(f"已保存账户：{name}（{role}）" + (f"；该账户已登录的 {ended} 个会话已结束，需要重新登录" if ended else "")), highlight=False)


@user_app.command("remove")
def user_remove(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    name: str = typer.Argument(..., help="用户名", metavar="用户名"),
) -> None:
    """删除工作人员账户，并立即结束它已登录的会话。不能删除唯一的管理员。

    示例：
      xlsxgov user remove 任务 张三
    """
    from ..campaign import portal

    ended = portal.remove_user(directory, name)
    console.print(Text(f"已删除账户：{name}" + (f"；已结束其 {ended} 个登录会话" if ended else "")), highlight=False)


@user_app.command("token")
def user_token(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    client: str = typer.Argument(..., help="使用接口的系统名称，例如 省平台", metavar="系统名称"),
    revoke: bool = typer.Option(False, "--revoke", help="作废该系统的全部令牌"),
) -> None:
    """为其他系统生成一个接口令牌（只读 JSON 接口，见 /api/openapi.json）。令牌只显示这一次；--revoke 作废。

    示例：
      xlsxgov user token 任务 省平台
    """
    from ..campaign import portal

    if revoke:
        n = portal.revoke_api_tokens(directory, client)
        console.print(Text(f"已作废“{client}”的 {n} 个接口令牌"), highlight=False)
        return
    token = portal.add_api_token(directory, client)
    console.print(Text(f"已为“{client}”生成接口令牌（只显示这一次，请妥善保存）："), highlight=False)
    print(token)


def _check_port_free(host: str, port: int) -> None:
    """Fail in one Chinese line, before the banner says the site runs, when ``host:port`` cannot
    be listened on (another program, or a portal already running, holds it)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"端口 {port} 已被占用（可能报送平台已经在运行），请换一个端口：--port")
            fail(f"无法在 {host}:{port} 上启动（系统错误 {exc.errno}），请检查 --host 和 --port")


def serve_command(
    directory: Path = typer.Argument(..., help="报送任务目录", metavar="目录"),
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址；内网访问用本机的内网地址或 0.0.0.0"),
    port: int = typer.Option(8000, "--port", help="端口"),
    workers: int = typer.Option(1, "--workers", help="服务进程数"),
    max_upload_mb: int = typer.Option(20, "--max-upload-mb", help="上传文件大小上限（MB）"),
) -> None:
    """启动报送平台网站：各单位通过专属链接上传报表并立即看到校验结果，工作人员登录后审核、汇总。

    示例：
      xlsxgov serve 任务 --host 0.0.0.0 --port 8000
    """
    import uvicorn

    from ..campaign import portal
    from .serverlog import log_config

    if not portal.has_admin(directory):
        fail(f"还没有管理员账户：请先运行 xlsxgov user add {directory} 用户名 --role 管理员")
    if workers < 1 or max_upload_mb < 1:
        fail("--workers 和 --max-upload-mb 至少为 1")
    os.environ["XLSXGOV_CAMPAIGN"] = str(Path(directory).resolve())
    os.environ["XLSXGOV_MAX_UPLOAD"] = str(max_upload_mb * 1024 * 1024)
    os.environ["XLSXGOV_POOL"] = str(max(1, (os.cpu_count() or 2) // workers))
    _check_port_free(host, port)
    # What the server and its processes write (archive/, exports/, feedback/ …) is the owner's
    # only, like the campaign folder `campaign init` makes (0700).
    os.umask(0o077)
    if Path(directory).stat().st_mode & 0o077:
        console.print(Text(f"注意：任务目录 {Path(directory).resolve()} 本机其他用户也可以访问（其中有各单位的专属链接和报表），"
                           f"建议运行 chmod 700 {directory}"), highlight=False)
    shown = f"[{host}]" if ":" in host else host
    console.print(Text(f"报送平台：http://{shown}:{port}/login（工作人员登录）；数据保存在 {Path(directory).resolve()}；按 Ctrl+C 停止；日志时间为北京时间"), highlight=False)
    # uvicorn's own access log would print agency links; ours (xlsxgov.web) redacts them.
    uvicorn.run(
        "xlsxgov.web.app:env_app", factory=True, host=host, port=port, workers=workers, access_log=False,
        proxy_headers=True, forwarded_allow_ips="127.0.0.1", log_config=log_config(), timeout_graceful_shutdown=5,
    )
