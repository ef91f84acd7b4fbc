"""``serve``: run the daemon in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
from functools import partial

import anyio

from gepad.cli.arguments import Subparsers
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.logs import configure_logging
from gepad.settings import Settings

__all__ = ["listening_on", "register"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", parents=parents, help="run the daemon in the foreground",
        description="Run the gepad daemon with the settings from --config (or the defaults) "
        "until SIGTERM or Ctrl-C, which shut it down gracefully. --socket overrides the "
        "socket path.",
    )
    p.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"],
        help="daemon log level (logs go to stderr)",
    )
    p.set_defaults(handler=_serve)


def listening_on(settings: Settings) -> str:
    where = f"unix://{settings.socket_path}"
    if settings.tcp_address:
        where += f" and tcp {settings.tcp_address} (bearer token required)"
    return where


def _serve(args: argparse.Namespace, inv: Invocation) -> int:
    settings = inv.settings()
    configure_logging(args.log_level)
    # The daemon pulls in the engine and litellm; client commands should not pay for that.
    from gepad.daemon import run_daemon
    from gepad.rpc.server import SocketInUseError

    out = inv.output

    def ready() -> None:
        if out.json_mode:
            out.json(
                {
                    "event": "serving",
                    "socket": str(settings.socket_path),
                    "tcp": settings.tcp_address,
                    "state_dir": str(settings.state_dir),
                },
                stream=True,
            )
        else:
            out.line(f"gepad serving on {listening_on(settings)}")
            out.line(f"state in {settings.state_dir}; Ctrl-C or SIGTERM stops it")

    try:
        anyio.run(partial(run_daemon, settings, ready=ready))
    except SocketInUseError as exc:
        raise CommandError(
            f"{exc}; stop that daemon first, or serve on another --socket", ExitCode.FAILED
        ) from None
    return ExitCode.OK
