"""``cloudfolio dev-github``: the offline GitHub API double, for local development and load tests.

It serves the sample portfolio (or any folder laid out as ``<user>/<repo>/``, and optionally
generated users) with GitHub's shapes and headers, so the whole stack runs against
``CLOUDFOLIO_REPO_SOURCE=github`` with no network and no token.
"""

from __future__ import annotations

import argparse
import sys
import threading

from cloudfolio.cli.exits import RET_OK
from cloudfolio.devserver.github import FakeGitHub, start_github_server
from services.core.sources.local import sample_portfolio_root


def cmd_dev_github(args: argparse.Namespace) -> int:
    # The state is complete before the port opens: a client that sees the server answer sees every user.
    state = FakeGitHub()
    state.load_local(args.portfolio or sample_portfolio_root())
    for spec in args.generate or []:
        name, _, count = spec.partition(":")
        state.add_generated_user(name, int(count or 10))
    state.latency = args.latency
    state, server = start_github_server(state, port=args.port)
    users = ", ".join(sorted(state.users))
    print(f"GitHub API double on {server.url} serving {users}; point CloudFolio at it with "
          f"CLOUDFOLIO_REPO_SOURCE=github CLOUDFOLIO_GITHUB_API_URL={server.url}", file=sys.stderr, flush=True)
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return RET_OK


def register(commands: argparse._SubParsersAction) -> None:
    dev = commands.add_parser(
        "dev-github", help="run an offline GitHub API double on loopback (local development, load tests)",
        description="Serve GitHub's REST and GraphQL API for the sample portfolio (users yungryce and octocat) "
        "on 127.0.0.1: Link pagination, ETag/304, rate-limit headers, base64 contents, recursive trees. Point "
        "the stack at it with CLOUDFOLIO_REPO_SOURCE=github and CLOUDFOLIO_GITHUB_API_URL. Ctrl-C stops it.")
    dev.add_argument("--port", type=int, default=9100, help="port to listen on (default 9100)")
    dev.add_argument("--portfolio", help="folder laid out as <user>/<repo>/ (default: the sample portfolio)")
    dev.add_argument("--generate", action="append", metavar="USER:N",
                     help="also serve a generated user with N documented repos (repeatable)")
    dev.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer (default 0)")
    dev.set_defaults(func=cmd_dev_github)
