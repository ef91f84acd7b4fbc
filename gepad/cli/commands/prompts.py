"""``prompt``, ``watch``, ``rollback``, ``unpin``: what a user is served, and changing that."""

from __future__ import annotations

import argparse
import logging
import sys

from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.text import now_local
from gepad.cli.views import components_lines, prompt_header, prompt_lines
from gepad.enums import CANDIDATE_ORIGIN
from gepad.v1 import gepad_pb2 as pb

__all__ = ["register", "resolve_candidate"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prompt", parents=parents, help="show the prompt served to a user",
        description="Show the prompt the daemon serves to USER for PROGRAM: its components, "
        "version, candidate and whether it is pinned.",
    )
    add_user_program(p)
    p.add_argument(
        "--component", metavar="NAME",
        help="print only this component's text, as is (for scripts)",
    )
    p.set_defaults(handler=_prompt)

    p = sub.add_parser(
        "watch", parents=parents, help="print the served prompt and each change (until Ctrl-C)",
        description="Print the prompt served to USER for PROGRAM, then every change as it is "
        "hot-swapped, until Ctrl-C. Reconnects if the daemon restarts.",
    )
    add_user_program(p)
    p.add_argument(
        "--count", type=int, metavar="N", default=0,
        help="stop after N prompts (the current one counts)",
    )
    p.set_defaults(handler=_watch)

    p = sub.add_parser(
        "rollback", parents=parents, help="serve an earlier candidate and pin it",
        description="Serve an earlier lineage node to USER and pin it, so evolution will not "
        "replace it until `gepad unpin`. CANDIDATE_ID may be the short id `gepad lineage` shows.",
    )
    add_user_program(p)
    p.add_argument("candidate", metavar="CANDIDATE_ID")
    p.add_argument("--note", default="", help="why (kept in the served-change history)")
    p.set_defaults(handler=_rollback)

    p = sub.add_parser(
        "unpin", parents=parents, help="let evolution replace the served prompt again",
    )
    add_user_program(p)
    p.set_defaults(handler=_unpin)


def _prompt(args: argparse.Namespace, inv: Invocation) -> int:
    prompt = inv.client().fetch_prompt(args.user, args.program)
    out = inv.output
    if args.component is not None:
        if args.component not in prompt.components:
            names = ", ".join(sorted(prompt.components)) or "none"
            raise CommandError(f"no component {args.component!r} (this prompt has: {names})")
        if out.json_mode:
            out.json({"component": args.component, "text": prompt.components[args.component]})
        else:
            out.out.write(prompt.components[args.component])
            out.out.flush()
        return ExitCode.OK
    if out.json_mode:
        out.json(prompt)
    else:
        out.lines(prompt_lines(prompt))
    return ExitCode.OK


class _ConnectionNotes(logging.Handler):
    """The client's word that a watch lost the daemon and got it back, as a line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().removeprefix("gepad: ")
        print(f"── {now_local()} {text}", file=sys.stderr, flush=True)


def _watch(args: argparse.Namespace, inv: Invocation) -> int:
    notes = _ConnectionNotes(logging.WARNING)
    client_log = logging.getLogger("gepad.client")
    client_log.addHandler(notes)
    try:
        return _follow(args, inv)
    finally:
        client_log.removeHandler(notes)


def _follow(args: argparse.Namespace, inv: Invocation) -> int:
    out = inv.output
    seen = 0
    try:
        for prompt in inv.client().watch_prompt(args.user, args.program):
            if out.json_mode:
                out.json(prompt, stream=True)
            else:
                label = "now" if seen == 0 else "changed"
                out.lines([f"── {now_local()} {label}: {prompt_header(prompt)}"])
                out.lines(components_lines(prompt.components, indent="  "))
            seen += 1
            if args.count and seen >= args.count:
                break
    except KeyboardInterrupt:
        # Ctrl-C is how a watch is meant to end.
        pass
    return ExitCode.OK


def resolve_candidate(lineage: pb.ListLineageResponse, given: str) -> str:
    """A full candidate id from a unique prefix of one (as ``gepad lineage`` prints them)."""
    ids = [c.id for c in lineage.candidates]
    if given in ids:
        return given
    matches = [i for i in ids if i.startswith(given)]
    if len(matches) > 1:
        raise CommandError(
            f"candidate id {given!r} is ambiguous: {len(matches)} candidates start with it "
            f"({', '.join(m[:12] for m in matches[:5])}); give more characters"
        )
    # No match: pass it on unchanged and let the daemon say what is wrong with it.
    return matches[0] if matches else given


def _rollback(args: argparse.Namespace, inv: Invocation) -> int:
    client = inv.client()
    lineage = client.list_lineage(args.user, args.program)
    candidate = resolve_candidate(lineage, args.candidate)
    prompt = client.rollback(args.user, args.program, candidate, note=args.note)
    out = inv.output
    if out.json_mode:
        out.json(prompt)
        return ExitCode.OK
    origin = next(
        (CANDIDATE_ORIGIN.get(c.origin, "?") for c in lineage.candidates if c.id == candidate),
        "candidate",
    )
    out.line(
        f"rolled back {args.user} / {args.program} to {origin} {prompt.candidate_id[:12]}; "
        f"pinned (evolution will not replace it until `gepad unpin {args.user} {args.program}`)"
    )
    out.lines(["", *prompt_lines(prompt)])
    return ExitCode.OK


def _unpin(args: argparse.Namespace, inv: Invocation) -> int:
    prompt = inv.client().unpin(args.user, args.program)
    out = inv.output
    if out.json_mode:
        out.json(prompt)
        return ExitCode.OK
    out.line(
        f"unpinned {args.user} / {args.program}: evolution may replace the served prompt again"
    )
    out.line(prompt_header(prompt))
    return ExitCode.OK
