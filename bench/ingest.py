"""Durable feedback ingestion: events/s acknowledged by the real daemon, against raw SQLite.

* unary ``RecordFeedback`` from 16 concurrent clients (one connection each); each ack means the
  event's group-commit batch is fsynced (``synchronous=FULL`` in WAL);
* client-streaming ``StreamFeedback``, streams of 5,000 events (one transaction per stream);
* gepad's ingest path without gRPC (parse, validate, Store.record_events via the Writer), 5,000
  events per transaction: what remains once gRPC's per-message cost is taken away;
* the ceiling, in the same run: the same rows (as the daemon's validation makes them) inserted
  with ``executemany`` into a fresh database with gepad's schema, WAL, ``synchronous=FULL``,
  5,000 rows per transaction and 16 rows per transaction.

The load generator is a separate process sending pre-serialized events, so client work barely
shows. At the end the daemon is stopped (SIGTERM: the writer flushes) and the number of rows in
``feedback_events`` must equal the number of events acknowledged as stored.
Goals: unary >= 5,000 events/s, streaming >= 30,000 events/s.

    python -m bench ingest [--quick] [--reps 3] [--unary-events 16000] [--streams 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.daemon_proc import (
    PROGRAM,
    DaemonProcess,
    acceptance,
    cpu_seconds,
    median,
    percentile,
    print_table,
    run_json_child,
    upsert_program,
)

__all__ = ["main"]

_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
_UNARY_GOAL, _STREAM_GOAL = 5_000, 30_000


def _identity(data: bytes) -> bytes:
    return data


# ---------------------------------------------------------------------------- client roles


async def _unary_client(target: str, tag: str, clients: int, count: int) -> dict[str, Any]:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    bodies = [pb.RecordFeedbackRequest(event=acceptance(i, tag=tag)).SerializeToString()
              for i in range(count)]
    channels = [grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
                for _ in range(clients)]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 10)
    latencies: list[float] = []
    stored = duplicates = 0

    async def worker(n: int) -> None:
        nonlocal stored, duplicates
        call = channels[n].unary_unary(
            "/gepad.v1.Gepad/RecordFeedback", request_serializer=_identity,
            response_deserializer=pb.RecordFeedbackResponse.FromString,
        )
        for body in bodies[n::clients]:
            t0 = time.perf_counter()
            reply = await call(body, timeout=60)
            latencies.append(time.perf_counter() - t0)
            if reply.duplicate:
                duplicates += 1
            else:
                stored += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    seconds = time.perf_counter() - start
    for channel in channels:
        await channel.close(None)
    latencies.sort()
    return {"stored": stored, "duplicates": duplicates, "seconds": seconds,
            "p50_ms": percentile(latencies, 50) * 1e3, "p99_ms": percentile(latencies, 99) * 1e3}


async def _stream_client(
    target: str, tag: str, streams: int, per_stream: int, parallel: int
) -> dict[str, Any]:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    batches = [
        [acceptance(s * per_stream + i, tag=tag).SerializeToString() for i in range(per_stream)]
        for s in range(streams)
    ]
    channels = [grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
                for _ in range(parallel)]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 10)
    stored = duplicates = 0
    durations: list[float] = []

    async def worker(n: int) -> None:
        nonlocal stored, duplicates
        call = channels[n].stream_unary(
            "/gepad.v1.Gepad/StreamFeedback", request_serializer=_identity,
            response_deserializer=pb.StreamFeedbackResponse.FromString,
        )
        for batch in batches[n::parallel]:
            t0 = time.perf_counter()
            reply = await call(iter(batch), timeout=300)
            durations.append(time.perf_counter() - t0)
            stored += reply.stored
            duplicates += reply.duplicates

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(parallel)))
    seconds = time.perf_counter() - start
    for channel in channels:
        await channel.close(None)
    return {"stored": stored, "duplicates": duplicates, "seconds": seconds,
            "stream_median_s": median(durations)}


# ---------------------------------------------------------------------------- ceiling


def _ceiling(events: int, per_txn: int, root: Path) -> float:
    """Raw ``executemany`` of the daemon's own row shape into gepad's schema (WAL, FULL)."""
    from gepad.feedback.validation import validate_event
    from gepad.rpc.messages import event_from_message
    from gepad.store.database import connect_writer

    now = time.time()
    rows = [validate_event(event_from_message(acceptance(i, tag="raw")), now=now)
            for i in range(events)]
    path = Path(tempfile.mkdtemp(prefix="raw-", dir=root)) / "raw.sqlite3"
    conn = connect_writer(path)  # gepad's schema, WAL, synchronous=FULL, busy timeout
    event_rows = [(r.user_id, r.event_id, r.program, r.kind, r.example_id, r.payload_json,
                   r.occurred_at, r.received_at) for r in rows]
    example_rows = [(r.example_id, r.user_id, r.program, r.split, r.input_json,
                     r.received_at, r.received_at) for r in rows]
    start = time.perf_counter()
    for lo in range(0, events, per_txn):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO feedback_events (user_id, event_id, program, kind, example_id, "
            "payload_json, occurred_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id, event_id) DO NOTHING",
            event_rows[lo:lo + per_txn],
        )
        conn.executemany(
            "INSERT INTO examples (example_id, user_id, program, split, input_json, event_count, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (example_id) "
            "DO UPDATE SET event_count = event_count + 1, updated_at = excluded.updated_at",
            example_rows[lo:lo + per_txn],
        )
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    (count,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()
    conn.close()
    assert count == events, (count, events)
    return events / seconds


def _pipeline(events: int, per_txn: int, root: Path) -> float:
    """gepad's own ingest path without gRPC: parse, validate, and ``Store.record_events`` through
    the group-commit Writer into a fresh database, ``per_txn`` events per call. What batching
    events into fewer gRPC messages could at best deliver."""
    import anyio

    from gepad.feedback.validation import validate_event
    from gepad.programs import Program, seed_candidate
    from gepad.rpc.messages import event_from_message
    from gepad.store.database import connect_writer
    from gepad.store.repository import Store
    from gepad.store.writer import Writer
    from gepad.v1 import gepad_pb2 as pb

    bodies = [acceptance(i, tag="pipe").SerializeToString() for i in range(events)]
    seed = seed_candidate(Program(name=PROGRAM, seed_components={"system": "seed"}))
    path = Path(tempfile.mkdtemp(prefix="pipe-", dir=root)) / "pipe.sqlite3"
    conn = connect_writer(path)
    writer = Writer(conn)
    store = Store(path, writer)

    async def run() -> float:
        async with anyio.create_task_group() as tg:
            await tg.start(writer.run)
            start = time.perf_counter()
            for lo in range(0, events, per_txn):
                batch = [validate_event(event_from_message(pb.FeedbackEvent.FromString(b)),
                                        now=time.time())
                         for b in bodies[lo:lo + per_txn]]
                await store.record_events(batch, lambda _name: seed)
            seconds = time.perf_counter() - start
            writer.close()
        return seconds

    try:
        seconds = anyio.run(run)
        (count,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()
    finally:
        store.close()
        conn.close()
    assert count == events, (count, events)
    return events / seconds


# ---------------------------------------------------------------------------- orchestration


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--clients", type=int, default=16, help="concurrent unary clients")
    p.add_argument("--unary-events", type=int, default=16_000, help="per rep")
    p.add_argument("--streams", type=int, default=8, help="streams per rep")
    p.add_argument("--per-stream", type=int, default=5_000)
    p.add_argument("--parallel", type=int, default=2, help="streams in flight at once")
    p.add_argument("--cli", action="store_true", help="start the daemon with `gepad serve`")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.unary_events, args.streams, args.per_stream = 1, 1_600, 2, 2_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_unary":
        target, tag, clients, count = argv[1:5]
        print(json.dumps(asyncio.run(_unary_client(target, tag, int(clients), int(count)))))
        return 0
    if argv and argv[0] == "_stream":
        target, tag, streams, per_stream, parallel = argv[1:6]
        print(json.dumps(asyncio.run(
            _stream_client(target, tag, int(streams), int(per_stream), int(parallel)))))
        return 0
    return _orchestrate(_parse(argv))


def _orchestrate(args: argparse.Namespace) -> int:
    import grpc

    daemon = DaemonProcess(tcp=False, use_cli=args.cli)
    acked = 0
    rows: list[tuple[object, ...]] = []
    per_rep: dict[str, list[float]] = {}
    try:
        daemon.start()
        assert daemon.root is not None
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
        print(f"# ingestion over the Unix socket; {args.reps} reps; unary: {args.clients} "
              f"clients x {args.unary_events // args.clients} events; streaming: "
              f"{args.streams} streams x {args.per_stream} events, {args.parallel} in flight; "
              f"daemon pid {daemon.pid}", flush=True)
        for rep in range(args.reps):
            cpu0 = cpu_seconds(daemon.pid)
            u = run_json_child("bench.ingest", ["_unary", daemon.unix_target, f"u{rep}",
                                                str(args.clients), str(args.unary_events)])
            u_cpu = (cpu_seconds(daemon.pid) - cpu0) / max(1, u["stored"]) * 1e6
            cpu0 = cpu_seconds(daemon.pid)
            s = run_json_child("bench.ingest", ["_stream", daemon.unix_target, f"s{rep}",
                                                str(args.streams), str(args.per_stream),
                                                str(args.parallel)])
            s_cpu = (cpu_seconds(daemon.pid) - cpu0) / max(1, s["stored"]) * 1e6
            raw_big = _ceiling(args.streams * args.per_stream // 2, args.per_stream, daemon.root)
            raw_small = _ceiling(args.unary_events // 2, args.clients, daemon.root)
            pipe = _pipeline(args.streams * args.per_stream // 2, args.per_stream, daemon.root)
            acked += u["stored"] + s["stored"]
            u_rate, s_rate = u["stored"] / u["seconds"], s["stored"] / s["seconds"]
            for key, value in (("unary", u_rate), ("stream", s_rate), ("raw5000", raw_big),
                               ("raw16", raw_small), ("pipe", pipe), ("unary_cpu", u_cpu),
                               ("stream_cpu", s_cpu), ("unary_p50", u["p50_ms"]),
                               ("unary_p99", u["p99_ms"])):
                per_rep.setdefault(key, []).append(value)
            rows.append((rep, u_rate, u["p50_ms"], u["p99_ms"], u_cpu, s_rate, s_cpu,
                         s["stream_median_s"], pipe, raw_big, raw_small))
        code = daemon.stop()
        with sqlite3.connect(daemon.database_path) as conn:
            (stored_rows,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()

        print("\n## every rep (events/s; CPU = daemon CPU us per stored event)")
        print_table(["rep", "unary ev/s", "unary p50 ms", "unary p99 ms", "unary CPU us",
                     "stream ev/s", "stream CPU us", "5k-stream s", "no-gRPC pipeline ev/s",
                     "raw 5000/txn ev/s", "raw 16/txn ev/s"], rows)
        m = {k: median(v) for k, v in per_rep.items()}
        print("\n## medians")
        print_table(
            ["path", "events/s", "goal", "vs goal", "vs raw ceiling", "daemon CPU us/event"],
            [
                ("RecordFeedback x16 clients", m["unary"], _UNARY_GOAL, m["unary"] / _UNARY_GOAL,
                 m["unary"] / m["raw16"], m["unary_cpu"]),
                ("StreamFeedback 5k/stream", m["stream"], _STREAM_GOAL,
                 m["stream"] / _STREAM_GOAL, m["stream"] / m["raw5000"], m["stream_cpu"]),
                ("gepad pipeline, no gRPC, 5000/txn", m["pipe"], "-", "-",
                 m["pipe"] / m["raw5000"], "-"),
                ("raw executemany 5000/txn", m["raw5000"], "-", "-", 1.0, "-"),
                ("raw executemany 16/txn", m["raw16"], "-", "-", 1.0, "-"),
            ],
        )
        ok = stored_rows == acked and code == 0
        print(f"\nrows in feedback_events after SIGTERM: {stored_rows:,}; acknowledged as stored: "
              f"{acked:,}; daemon exit code {code} -> {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
