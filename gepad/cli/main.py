"""``gepad``'s entry point: the parser, and how failures become messages and exit statuses.

No traceback reaches a user for an error the daemon reported or for a daemon that is not there:
those print one ``error:`` line (plus a hint) on stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata

from gepad.cli.arguments import add_connection_options
from gepad.cli.commands import (
    adapters,
    demo,
    evaluators,
    feedback,
    hook,
    lineage,
    programs,
    prompts,
    report,
    rounds,
    rubric,
    serve,
)
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.client.status_errors import DeadlineExceeded, GepadError, Unavailable, Unimplemented
from gepad.settings import ConfigError

__all__ = ["build_parser", "main"]

_EPILOG = """\
exit status: 0 ok, 1 the daemon reported an error (or a run failed), 2 bad usage or a feature
this daemon lacks, 3 no daemon answered, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gepad",
        description="gepad: per-user prompt evolution served over gRPC.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gepad {_version()}")
    add_connection_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common, defaults=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (
        serve, feedback, prompts, lineage, programs, rounds, rubric, adapters, hook, demo,
        evaluators, report,
    ):
        module.register(sub, [common])
    return parser


def _version() -> str:
    try:
        return metadata.version("gepad")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    inv = Invocation(args, os.environ if env is None else env)
    try:
        code: int = args.handler(args, inv)
        return code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BaseException as exc:
        # Exception groups too: anyio wraps a failure inside a task group (the demo's) in one.
        report = _report_json if inv.output.json_mode else _report
        status = report(_unwrap(exc), inv)
        if status is None:
            raise
        return status
    finally:
        inv.close()


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _report_json(exc: BaseException, inv: Invocation) -> int | None:
    """With --json, the same report as one JSON document on stderr, so a script reads failures
    the way it reads results: {"error": {"code", "message", "hints", "exit_status"}}."""
    text = io.StringIO()
    with contextlib.redirect_stderr(text):
        status = _report(exc, inv)
    if status is None:
        return None
    lines = [line.strip() for line in text.getvalue().splitlines() if line.strip()]
    message = lines[0].removeprefix("error: ") if lines else type(exc).__name__
    if isinstance(exc, GepadError):
        code, message = exc.status, message.removeprefix(f"{exc.status}: ")
    elif isinstance(exc, ConfigError):
        code = "CONFIG"
    elif isinstance(exc, KeyboardInterrupt):
        code = "INTERRUPTED"
    else:
        code = "COMMAND"
    document = {"error": {"code": code, "message": message, "hints": lines[1:],
                          "exit_status": int(status)}}
    print(json.dumps(document, ensure_ascii=False), file=sys.stderr, flush=True)
    return status


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr, flush=True)


def _report(exc: BaseException, inv: Invocation) -> int | None:
    """Print what went wrong and return the exit status; None for a bug (keep its traceback)."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`gepad ... | head`): stop quietly, as other Unix tools do, and
        # keep Python from complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    if isinstance(exc, CommandError):
        _error(exc.message)
        return exc.code
    if isinstance(exc, ConfigError):
        _error(f"config: {exc}")
        return ExitCode.USAGE
    if isinstance(exc, Unimplemented) and getattr(inv.args, "evolution", False):
        print(
            f"evolution is not available in this daemon build: {exc.message or exc.status}",
            file=sys.stderr, flush=True,
        )
        return ExitCode.USAGE
    if isinstance(exc, Unavailable):
        target = inv.target()
        _error(f"{exc.status}: cannot reach the gepad daemon at {target.target}")
        print(f"  (that address comes from {target.source}; gRPC said: {exc.message})",
              file=sys.stderr)
        if target.start_hint:
            print(f"  is it running? start it with `{target.start_hint}`", file=sys.stderr)
        else:
            print("  is it running there, with TCP enabled in its config?", file=sys.stderr)
        return ExitCode.UNREACHABLE
    if isinstance(exc, DeadlineExceeded):
        _error(f"{exc}")
        print(f"  the daemon at {inv.target().target} did not answer within "
              f"{inv.args.timeout or 0:g}s; --timeout changes the limit", file=sys.stderr)
        return ExitCode.FAILED
    if isinstance(exc, GepadError):
        _error(str(exc))
        return ExitCode.FAILED
    return None
