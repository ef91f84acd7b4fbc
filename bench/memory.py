"""Daemon memory with many users each holding a served prompt.

Users are created the way a person creates them: one PROMPT_EDIT event each, sent through
``StreamFeedback`` (5,000 per stream), which makes the user a ``human_edit`` lineage node and
serves it. Each user's prompt is distinct, about 400 characters. RSS (``VmRSS`` from /proc) is
taken on the empty daemon (program registered), after the ingest (the live daemon, which also
holds what the ingest itself allocated), and after a restart, when the daemon has loaded every
served prompt from SQLite at start-up: the steady-state figure. Goal: <= 500 MB at 100,000 users.

    python -m bench memory [--quick] [--users 100000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Sequence

from bench.daemon_proc import (
    PROGRAM,
    DaemonProcess,
    print_table,
    prompt_edit,
    stream_events,
    upsert_program,
    user_id,
)

__all__ = ["main"]

_GOAL_BYTES = 500 * 1024 * 1024
_MB = 1024 * 1024


def _settle(daemon: DaemonProcess, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return daemon.rss()[0]


def _spot_check(target: str, users: int) -> None:
    import grpc

    from bench.daemon_proc import edited_text
    from gepad.v1 import gepad_pb2 as pb
    from gepad.v1 import gepad_pb2_grpc as pb_grpc

    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GepadStub(channel)
        for i in (0, users // 2, users - 1):
            prompt = stub.GetPrompt(pb.GetPromptRequest(user_id=user_id(i), program=PROGRAM),
                                    timeout=10)
            if prompt.version != 1 or prompt.components["system"] != edited_text(i):
                raise AssertionError(f"user {i} is not served their edit: {prompt}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10,000 users")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--cli", action="store_true", help="start the daemon with `gepad serve`")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    users = 10_000 if args.quick else args.users

    import grpc

    daemon = DaemonProcess(tcp=False, use_cli=args.cli)
    try:
        daemon.start()
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
        empty = _settle(daemon)
        t0 = time.perf_counter()
        with grpc.insecure_channel(daemon.unix_target) as channel:
            stored = stream_events(channel, (prompt_edit(i) for i in range(users)))
        ingest_s = time.perf_counter() - t0
        if stored != users:
            raise AssertionError(f"{stored} of {users} edits stored")
        _spot_check(daemon.unix_target, users)
        live, live_peak = _settle(daemon), daemon.rss()[1]
        daemon.stop()
        with sqlite3.connect(daemon.database_path) as conn:
            (served_rows,) = conn.execute("SELECT count(*) FROM served").fetchone()
        db_bytes = daemon.database_path.stat().st_size

        t0 = time.perf_counter()
        daemon.start()
        start_s = time.perf_counter() - t0
        _spot_check(daemon.unix_target, users)
        loaded, loaded_peak = _settle(daemon), daemon.rss()[1]
    finally:
        daemon.cleanup()

    print(f"# {users:,} users, one served ~400-char prompt each, created by PROMPT_EDIT over "
          f"StreamFeedback in {ingest_s:.1f}s ({users / ingest_s:,.0f} users/s); served rows "
          f"{served_rows:,}; database {db_bytes / _MB:.0f} MiB; restart to READY {start_s:.1f}s")
    print_table(
        ["state", "RSS MiB", "peak (VmHWM) MiB", "over empty MiB", "bytes/user", "goal MiB",
         "verdict"],
        [
            ("empty (program registered)", empty / _MB, "-", 0.0, "-", "-", "-"),
            ("after ingest (live)", live / _MB, live_peak / _MB, (live - empty) / _MB,
             (live - empty) // users, _GOAL_BYTES / _MB,
             "met" if live <= _GOAL_BYTES else "MISSED"),
            ("after restart (loaded)", loaded / _MB, loaded_peak / _MB, (loaded - empty) / _MB,
             (loaded - empty) // users, _GOAL_BYTES / _MB,
             "met" if loaded <= _GOAL_BYTES else "MISSED"),
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
