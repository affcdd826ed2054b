"""What every command shares: settings read once (with command-line overrides) and who is acting."""

from __future__ import annotations

import argparse
import getpass
import socket

from services.core.logs import configure_logging
from services.core.settings import Settings


def load_settings(args: argparse.Namespace, *, one_shot: bool = False) -> Settings:
    """Settings from the environment, ``--data-dir``/``--host``/``--port`` winning; logging set up.

    ``one_shot`` commands (they run once and print their own result or error line) leave out the
    broker's connection chatter: their own error line says what failed."""
    overrides = {}
    for name in ("data_dir", "host", "port"):
        if getattr(args, name, None):
            overrides[name] = getattr(args, name)
    settings = Settings.from_env(**overrides)
    level = settings.log_level
    if getattr(args, "verbose", None) is False and level in ("debug", "info"):
        level = "warning"  # keep a command's own output (a progress bar) readable
    configure_logging(level, settings.log_format, one_shot=one_shot)
    return settings


def human() -> str:
    """``user@host`` of whoever runs the command, for change histories."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder for local state (default: CLOUDFOLIO_DATA_DIR or ./.cloudfolio)")
