"""Exactly once through crashes: an application records ``--events`` events with the client
library's queued ``record_feedback`` (8 threads) while the daemon is killed with SIGKILL and
restarted ``--kills`` times. Afterwards every event must be stored exactly once, and each
example must count each of its events once (a replayed batch folded twice would show there).

Reports the wall time, how many calls the client retried and how many events it spooled.

    python -m bench ingest-kill [--quick] [--events 100000] [--kills 3]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

from bench.daemon_proc import PROGRAM, DaemonProcess, upsert_program

__all__ = ["main"]


def _event(n: int) -> Any:
    from gepad.v1 import gepad_pb2 as pb

    return pb.FeedbackEvent(
        event_id=f"k-{n}", user_id=f"user{n % 50}", program=PROGRAM,
        kind=pb.FEEDBACK_KIND_REJECTION,
        input=[pb.ChatMessage(role="user", content=f"question {n % 500}")],
        output="an answer", comment="too long",
    )


def main(argv: Sequence[str] | None = None) -> int:
    import grpc

    from gepad.client import Client

    p = argparse.ArgumentParser(prog="python -m bench ingest-kill",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10,000 events, one kill")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--threads", type=int, default=8)
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.quick:
        args.events, args.kills = 10_000, 1
    daemon = DaemonProcess(tcp=False)
    try:
        daemon.start()
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
        spool = tempfile.mkdtemp(prefix="gepad-bench-spool-")
        start = time.perf_counter()
        kills: list[str] = []
        with Client(daemon.unix_target, spool=spool, timeout=5) as client:
            def app(n: int) -> None:
                for i in range(n, args.events, args.threads):
                    client.record_feedback(_event(i))
                    if i % 1000 == 0:
                        time.sleep(0.01)  # an application, not a firehose

            workers = [threading.Thread(target=app, args=(n,)) for n in range(args.threads)]
            for w in workers:
                w.start()
            for k in range(args.kills):
                # Spread the kills over the ingest: after 20%, 45%, 70% ... were acknowledged.
                goal = args.events * (0.2 + 0.25 * k)
                while client.feedback_stats.stored + client.feedback_stats.duplicates < goal:
                    time.sleep(0.002)
                daemon.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
                daemon.proc.wait()  # type: ignore[union-attr]
                acked = client.feedback_stats.stored
                time.sleep(0.5)  # the application keeps recording while the daemon is away
                daemon.start()
                kills.append(f"kill {k + 1} after {acked:,} acknowledged")
            for w in workers:
                w.join()
            if not client.flush(timeout=1800):
                print("flush timed out")
                return 1
            stats = client.feedback_stats
        seconds = time.perf_counter() - start
        code = daemon.stop()
        with sqlite3.connect(daemon.database_path) as conn:
            (rows, distinct) = conn.execute(
                "SELECT count(*), count(DISTINCT user_id || '/' || event_id) FROM feedback_events"
            ).fetchone()
            (folded,) = conn.execute("SELECT sum(event_count) FROM examples").fetchone()
        ok = rows == distinct == folded == args.events and stats.rejected == 0 and code == 0
        print(f"# {args.events:,} events from {args.threads} threads through "
              f"Client.record_feedback, daemon SIGKILLed {args.kills} times: {'; '.join(kills)}")
        print(f"wall {seconds:.1f} s; client: {stats.stored:,} stored, {stats.duplicates:,} "
              f"acknowledged as duplicates (replays of batches committed before a kill), "
              f"{stats.retries:,} calls retried, {stats.spooled:,} events spooled, "
              f"{stats.rejected} refused")
        print(f"rows {rows:,}, distinct events {distinct:,}, events folded into examples "
              f"{folded:,}, expected {args.events:,} -> {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
