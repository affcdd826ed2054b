"""``cloudfolio config``: every setting and the value in force, secrets masked."""

from __future__ import annotations

import argparse

from cloudfolio.cli.exits import RET_OK
from services.core.settings import VARIABLES, Settings


def cmd_config(args: argparse.Namespace) -> int:
    settings = Settings.from_env()  # no logging set up: this command only prints
    width = max(len(var.env) for var in VARIABLES)
    for env, value, is_default in settings.describe():
        print(f"{env:<{width}}  {value or '(empty)'}{'' if is_default else '   [set]'}")
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    config = commands.add_parser(
        "config", help="print every setting and its current value (secrets masked)",
        description="Print every environment variable CloudFolio reads, with the value in force (secrets "
        "shown as ****) and [set] where it differs from the default. Invalid values are reported with "
        "the variable's name and exit code 2. README's configuration table lists the same variables.",
    )
    config.set_defaults(func=cmd_config)
