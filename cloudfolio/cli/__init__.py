"""The ``cloudfolio`` command line: one entry point, a module per command group.

Each module declares its sub-commands (``register``) next to their implementations; errors raised
by any command become exit codes in :mod:`cloudfolio.cli.exits`, with one clear line and no
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cloudfolio.cli import config, devserver, refresh, rollout, serve, task, usage, worker
from cloudfolio.cli.exits import RET_FAILED, RET_OK, describe, exit_code_for
from cloudfolio.memory import bound_malloc_arenas
from services.core.errors import CloudfolioError

COMMAND_MODULES = (serve, refresh, worker, task, rollout, usage, config, devserver)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudfolio",
        description="CloudFolio gateway: builds portfolio bundles from GitHub repos and migrates traffic "
        "from the legacy orchestrator to queue workers. With no configuration everything runs in one "
        "process on the sample portfolio (users yungryce and octocat); see `cloudfolio config` for the "
        "environment variables.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    bound_malloc_arenas()  # before any thread starts
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler, not at interpreter exit
        return code
    except CloudfolioError as exc:
        print(describe(exc), file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        # the reader stopped reading (`cloudfolio config | head`): not an error of ours, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return RET_OK
    except KeyboardInterrupt:
        return RET_FAILED
