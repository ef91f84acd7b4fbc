"""Pieces every command's parser shares: the connection options, USER PROGRAM, NAME=TEXT."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from gepad.client.connection import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from gepad.cli.invocation import Invocation

__all__ = [
    "Handler",
    "Subparsers",
    "add_connection_options",
    "add_user_program",
    "key_value",
]

Handler: TypeAlias = Callable[[argparse.Namespace, "Invocation"], int]
# Generic only in typeshed, so the alias is a string.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The global options. The top-level parser holds the defaults; each command's parser takes
    them too but with SUPPRESS defaults, so ``gepad --json prompt u p`` and ``gepad prompt u p
    --json`` both work and neither position overwrites the other with a default."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--socket", metavar="PATH", default=default(None),
        help="the daemon's Unix socket (default: from the settings)",
    )
    group.add_argument(
        "--target", default=default(None),
        help="daemon address: unix:///path or host:port (overrides --socket)",
    )
    group.add_argument(
        "--token", default=default(None),
        help="bearer token for TCP targets (default: $GEPAD_TOKEN)",
    )
    group.add_argument(
        "--tls-ca", metavar="PATH", type=Path, default=default(None),
        help="CA certificate (PEM) of a TCP daemon that serves TLS (default: $GEPAD_TLS_CA)",
    )
    group.add_argument(
        "--config", metavar="PATH", type=Path, default=default(None),
        help="settings file (default: $GEPAD_CONFIG or ~/.config/gepad/gepad.toml)",
    )
    group.add_argument(
        "--timeout", metavar="SECONDS", type=_timeout, default=default(DEFAULT_TIMEOUT),
        help=f"deadline of each call; 0 waits forever (default: {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False),
        help="print machine-readable JSON instead of text",
    )


def _timeout(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value or None


def add_user_program(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", metavar="USER", help="user id")
    parser.add_argument("program", metavar="PROGRAM", help="program name, e.g. editor.system")


def key_value(text: str) -> tuple[str, str]:
    """argparse type for ``NAME=TEXT``."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=TEXT, got {text!r}")
    return name, value
