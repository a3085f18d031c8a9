"""The ``xlsxgov`` command: a thin Typer layer, every command one call into the library.

One module per command group (template.py: template, render; files.py: validate, export; reports.py: extract, audit;
consolidate.py; campaign.py: ``campaign …``; demo.py).  A command parses its arguments, calls
one library function and prints the result.  Every user error the library raises is an
``XlsxgovError``; the command group catches that base once and prints it through ``fail``.
"""

from __future__ import annotations

# Each module adds its commands to ``app``; the import order is the order of ``xlsxgov --help``.
from . import template, files, reports, consolidate, rules, demo  # noqa: F401, I001
from .base import app, fail
from .campaign import campaign_app

app.add_typer(campaign_app, name="campaign")

from ..web.commands import serve_command, user_app  # noqa: E402  (after campaign: the order of --help)

app.add_typer(user_app, name="user")
app.command("serve")(serve_command)

__all__ = ["app", "fail"]
