"""The ``cloudfolio`` command line: one entry point, a sub-command per job.

Exit codes (as Dramatiq's CLI names them): 0 ok, 1 failed, 2 bad usage or configuration,
3 a dependency (broker, storage, source) could not be reached.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from services.core.errors import CloudfolioError, InvalidName, SettingsError
from services.core.logs import configure_logging
from services.core.settings import VARIABLES, Settings

RET_OK, RET_FAILED, RET_USAGE, RET_CONNECT = 0, 1, 2, 3

log = logging.getLogger("cloudfolio.cli")


def _load_settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    settings = Settings.from_env(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    return settings


# -- serve ------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from router.app import create_app
    from services.core.components import make_storage

    settings = _load_settings(args)
    storage = make_storage(settings)
    storage.check()
    app = create_app(storage)
    print(f"CloudFolio router on http://{settings.host}:{settings.port} "
          f"(storage: {storage!r}, source: {settings.repo_source})", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return RET_OK


# -- refresh ----------------------------------------------------------------------------------
def cmd_refresh(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from services.core.cache import BundleCache
    from services.core.components import make_source, make_storage
    from services.core.keys import CacheKeys, Namespace
    from services.core.names import validate_username
    from services.sync.inline import refresh_inline

    settings = _load_settings(args)
    username = validate_username(args.username)
    storage = make_storage(settings)
    source = make_source(settings, storage)
    cache = BundleCache(storage, CacheKeys(Namespace.LIVE))
    bar: tqdm | None = None

    def planned(count: int) -> None:
        nonlocal bar
        bar = tqdm(total=count, desc=f"syncing {username}", unit="repo", disable=args.quiet, mininterval=0.2)

    def repo_done(name: str, ok: bool) -> None:
        if bar is not None:
            bar.set_postfix_str(("" if ok else "FAILED ") + name[:30])
            bar.update(1)

    try:
        result = refresh_inline(source, cache, username, force=args.force, on_planned=planned,
                                on_repo_done=repo_done)
    finally:
        if bar is not None:
            bar.close()
        source.close()
    print(f"bundle fingerprint: {result.bundle_fingerprint}")
    if result.cached:
        print(f"repos: {result.repos_count} (up to date, nothing synced)")
    else:
        print(f"repos: {result.repos_count} ({len(result.synced)} synced, {len(result.failed)} failed)")
    for name, error in sorted(result.failed.items()):
        print(f"  failed: {name}: {error}", file=sys.stderr)
    return RET_FAILED if result.failed and not result.repos_count else RET_OK


# -- config -----------------------------------------------------------------------------------
def cmd_config(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    width = max(len(var.env) for var in VARIABLES)
    for env, value, is_default in settings.describe():
        print(f"{env:<{width}}  {value or '(empty)'}{'' if is_default else '   [set]'}")
    return RET_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudfolio",
        description="CloudFolio gateway: builds portfolio bundles from GitHub repos and migrates traffic "
        "from the legacy orchestrator to queue workers. With no configuration everything runs in one "
        "process on the sample portfolio (users yungryce and octocat); see `cloudfolio config` for the "
        "environment variables.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (router) on the configured backends",
                                description="Run the router's HTTP API. With no configuration it uses "
                                "local storage under ./.cloudfolio and the sample portfolio.")
    serve.add_argument("--host", help="address to listen on (default: CLOUDFOLIO_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: CLOUDFOLIO_PORT or 8000)")
    serve.add_argument("--data-dir", help="folder for local state (default: CLOUDFOLIO_DATA_DIR or ./.cloudfolio)")
    serve.set_defaults(func=cmd_serve)

    refresh = commands.add_parser("refresh", help="build a user's bundle now, in this process",
                                  description="List USERNAME's repos from the configured source, sync the "
                                  "stale ones, merge the bundle, and print its fingerprint and repo count.")
    refresh.add_argument("username", help="GitHub login (sample portfolio: yungryce or octocat)")
    refresh.add_argument("--force", action="store_true", help="sync every repo, not only stale ones")
    refresh.add_argument("--data-dir", help="folder for local state (default: ./.cloudfolio)")
    refresh.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    refresh.set_defaults(func=cmd_refresh)

    config = commands.add_parser(
        "config", help="print every setting and its current value (secrets masked)",
        description="Print every environment variable CloudFolio reads, with the value in force (secrets "
        "shown as ****) and [set] where it differs from the default. Invalid values are reported with "
        "the variable's name and exit code 2. README's configuration table lists the same variables.",
    )
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"cloudfolio: configuration error: {exc}", file=sys.stderr)
        return RET_USAGE
    except InvalidName as exc:
        print(f"cloudfolio: {exc}", file=sys.stderr)
        return RET_USAGE
    except CloudfolioError as exc:
        print(f"cloudfolio: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RET_CONNECT if "Unavailable" in type(exc).__name__ else RET_FAILED
    except KeyboardInterrupt:
        return RET_FAILED


if __name__ == "__main__":
    sys.exit(main())
