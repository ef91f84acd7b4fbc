"""The ``gepad`` command line."""

from gepad.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
