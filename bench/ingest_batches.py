"""Batched feedback ingestion against its references, all in the same run (ratios first):

* ``IngestFeedback``: streams of ``FeedbackBatch`` messages (1,000 events each), every batch
  acknowledged after its commit, next to raw ``executemany`` of the same rows into gepad's schema
  (WAL, ``synchronous=FULL``) at 1,000 rows per transaction;
* unary ``RecordFeedback`` from 16 concurrent clients, next to a bare ``grpc.aio`` unary server
  that parses the same request and answers at once (the most one Python gRPC call per event can
  do on this CPU), driven by the same client code;
* the original one-event-per-message ``StreamFeedback`` (streams of 5,000, two at once), for the
  gain from batching on the wire;
* the client library's queued ``record_feedback`` (``Client``, which batches in the background)
  from 16 application threads, timed until ``flush()`` saw every acknowledgement.

Each client runs in its own process. At the end the daemon is stopped (SIGTERM) and the rows in
``feedback_events`` must equal the events acknowledged as stored. Goals: batched >= 30,000
events/s, unary >= 0.8x the echo server, client library >= 20,000 events/s.

    python -m bench ingest-batches [--quick] [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.daemon_proc import (
    DaemonProcess,
    acceptance,
    cpu_seconds,
    median,
    print_table,
    run_json_child,
    upsert_program,
)
from bench.ingest import _ceiling, _stream_client, _unary_client

__all__ = ["main"]

_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
_BATCH_GOAL, _UNARY_RATIO_GOAL, _LIBRARY_GOAL = 30_000, 0.8, 20_000


def _identity(data: bytes) -> bytes:
    return data


# ---------------------------------------------------------------------------- client roles


async def _batched_client(
    target: str, tag: str, events: int, per_batch: int, parallel: int
) -> dict[str, Any]:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    bodies = [
        pb.FeedbackBatch(sequence=lo, events=[
            acceptance(i, tag=tag) for i in range(lo, min(lo + per_batch, events))
        ]).SerializeToString()
        for lo in range(0, events, per_batch)
    ]
    channels = [grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
                for _ in range(parallel)]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 10)
    stored = duplicates = 0

    async def worker(n: int) -> None:
        nonlocal stored, duplicates
        call = channels[n].stream_stream(
            "/gepad.v1.Gepad/IngestFeedback", request_serializer=_identity,
            response_deserializer=pb.FeedbackBatchResult.FromString,
        )
        async for answer in call(iter(bodies[n::parallel]), timeout=600):
            stored += answer.stored
            duplicates += answer.duplicates

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(parallel)))
    seconds = time.perf_counter() - start
    for channel in channels:
        await channel.close(None)
    return {"stored": stored, "duplicates": duplicates, "seconds": seconds}


def _library_client(target: str, tag: str, events: int, threads: int) -> dict[str, Any]:
    from gepad.client import Client

    prepared = [acceptance(i, tag=tag) for i in range(events)]
    spool = tempfile.mkdtemp(prefix="gepad-bench-spool-")
    with Client(target, spool=spool) as client:
        def app(n: int) -> None:
            for event in prepared[n::threads]:
                client.record_feedback(event)

        workers = [threading.Thread(target=app, args=(n,)) for n in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        enqueued = time.perf_counter() - start
        assert client.flush(timeout=600)
        seconds = time.perf_counter() - start
        stats = client.feedback_stats
        return {"stored": stats.stored, "duplicates": stats.duplicates,
                "rejected": stats.rejected, "seconds": seconds, "enqueue_seconds": enqueued}


async def _echo_server(path: str) -> None:
    """A bare grpc.aio server: RecordFeedback parses its request and answers, nothing else."""
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    async def record(request: pb.RecordFeedbackRequest, context: Any) -> pb.RecordFeedbackResponse:
        return pb.RecordFeedbackResponse(event_id=request.event.event_id)

    handler = grpc.method_handlers_generic_handler("gepad.v1.Gepad", {
        "RecordFeedback": grpc.unary_unary_rpc_method_handler(
            record, request_deserializer=pb.RecordFeedbackRequest.FromString,
            response_serializer=pb.RecordFeedbackResponse.SerializeToString,
        )
    })
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


# ---------------------------------------------------------------------------- orchestration


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench ingest-batches",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--batched-events", type=int, default=60_000, help="per rep")
    p.add_argument("--per-batch", type=int, default=1_000)
    p.add_argument("--parallel", type=int, default=2, help="IngestFeedback streams at once")
    p.add_argument("--clients", type=int, default=16, help="unary clients / library threads")
    p.add_argument("--unary-events", type=int, default=8_000, help="per rep")
    p.add_argument("--library-events", type=int, default=40_000, help="per rep")
    p.add_argument("--legacy-streams", type=int, default=4, help="StreamFeedback calls of 5,000")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.batched_events = 1, 4_000
        args.unary_events, args.library_events, args.legacy_streams = 800, 2_000, 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_batched":
        target, tag, events, per_batch, parallel = argv[1:6]
        print(json.dumps(asyncio.run(
            _batched_client(target, tag, int(events), int(per_batch), int(parallel)))))
        return 0
    if argv and argv[0] == "_unary":
        target, tag, clients, count = argv[1:5]
        print(json.dumps(asyncio.run(_unary_client(target, tag, int(clients), int(count)))))
        return 0
    if argv and argv[0] == "_stream":
        target, tag, streams, per_stream, parallel = argv[1:6]
        print(json.dumps(asyncio.run(
            _stream_client(target, tag, int(streams), int(per_stream), int(parallel)))))
        return 0
    if argv and argv[0] == "_library":
        target, tag, events, threads = argv[1:5]
        print(json.dumps(_library_client(target, tag, int(events), int(threads))))
        return 0
    if argv and argv[0] == "_echo":
        asyncio.run(_echo_server(argv[1]))
        return 0
    return _orchestrate(_parse(argv))


def _start_echo(root: Path) -> tuple[subprocess.Popen[str], str]:
    path = str(root / "echo.sock")
    proc = subprocess.Popen([sys.executable, "-m", "bench.ingest_batches", "_echo", path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError("the echo server did not start")
    return proc, f"unix:{path}"


def _orchestrate(args: argparse.Namespace) -> int:
    import grpc

    daemon = DaemonProcess(tcp=False)
    echo: subprocess.Popen[str] | None = None
    acked = 0
    rows: list[tuple[object, ...]] = []
    per_rep: dict[str, list[float]] = {}
    try:
        daemon.start()
        assert daemon.root is not None
        echo, echo_target = _start_echo(daemon.root)
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
        print(f"# {args.reps} reps over the Unix socket; IngestFeedback: {args.batched_events} "
              f"events in batches of {args.per_batch}, {args.parallel} streams; unary: "
              f"{args.clients} clients x {args.unary_events // args.clients} events; library: "
              f"{args.clients} threads x {args.library_events // args.clients} events; "
              f"daemon pid {daemon.pid}", flush=True)
        for rep in range(args.reps):
            cpu0 = cpu_seconds(daemon.pid)
            b = run_json_child("bench.ingest_batches", [
                "_batched", daemon.unix_target, f"b{rep}", str(args.batched_events),
                str(args.per_batch), str(args.parallel)])
            b_cpu = (cpu_seconds(daemon.pid) - cpu0) / max(1, b["stored"]) * 1e6
            cpu0 = cpu_seconds(daemon.pid)
            s = run_json_child("bench.ingest_batches", [
                "_stream", daemon.unix_target, f"s{rep}", str(args.legacy_streams), "5000", "2"])
            s_cpu = (cpu_seconds(daemon.pid) - cpu0) / max(1, s["stored"]) * 1e6
            u = run_json_child("bench.ingest_batches", [
                "_unary", daemon.unix_target, f"u{rep}", str(args.clients),
                str(args.unary_events)])
            e = run_json_child("bench.ingest_batches", [
                "_unary", echo_target, f"x{rep}", str(args.clients), str(args.unary_events)])
            lib = run_json_child("bench.ingest_batches", [
                "_library", daemon.unix_target, f"l{rep}", str(args.library_events),
                str(args.clients)])
            raw = _ceiling(args.batched_events // 2, args.per_batch, daemon.root)
            acked += b["stored"] + s["stored"] + u["stored"] + lib["stored"]
            rates = {
                "batched": b["stored"] / b["seconds"], "batched_cpu": b_cpu,
                "legacy": s["stored"] / s["seconds"], "legacy_cpu": s_cpu,
                "unary": u["stored"] / u["seconds"],
                "echo": (e["stored"] + e["duplicates"]) / e["seconds"],
                "library": lib["stored"] / lib["seconds"],
                "library_enqueue": args.library_events / lib["enqueue_seconds"],
                "raw": raw,
            }
            for key, value in rates.items():
                per_rep.setdefault(key, []).append(value)
            rows.append((rep, rates["batched"], b_cpu, rates["raw"], rates["legacy"], s_cpu,
                         rates["unary"], rates["echo"], rates["library"],
                         rates["library_enqueue"]))
        code = daemon.stop()
        with sqlite3.connect(daemon.database_path) as conn:
            (stored_rows,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()

        print("\n## every rep (events/s, or calls/s for the echo server)")
        print_table(["rep", "IngestFeedback", "daemon CPU us/event", "raw executemany",
                     "StreamFeedback 1/msg", "its CPU us/event",
                     "RecordFeedback x16", "bare echo x16",
                     "client library x16", "library enqueue"], rows)
        m = {k: median(v) for k, v in per_rep.items()}
        print("\n## medians and ratios")
        print_table(["path", "events/s", "reference", "ratio", "goal", "met"], [
            ("IngestFeedback, 1,000/batch", m["batched"], "raw executemany 1,000/txn",
             m["batched"] / m["raw"], f">= {_BATCH_GOAL:,} ev/s",
             "yes" if m["batched"] >= _BATCH_GOAL else "no"),
            ("StreamFeedback, 1 event/message", m["legacy"], "IngestFeedback",
             m["legacy"] / m["batched"], "-", "-"),
            ("daemon CPU us/event: IngestFeedback", m["batched_cpu"], "StreamFeedback",
             m["batched_cpu"] / m["legacy_cpu"], "-", "-"),
            ("RecordFeedback x16 clients", m["unary"], "bare grpc.aio echo x16",
             m["unary"] / m["echo"], f">= {_UNARY_RATIO_GOAL}x echo",
             "yes" if m["unary"] >= _UNARY_RATIO_GOAL * m["echo"] else "no"),
            ("Client.record_feedback x16 threads", m["library"], "-", "-",
             f">= {_LIBRARY_GOAL:,} ev/s", "yes" if m["library"] >= _LIBRARY_GOAL else "no"),
            ("raw executemany 1,000/txn", m["raw"], "-", 1.0, "-", "-"),
            ("bare grpc.aio echo x16 (calls/s)", m["echo"], "-", 1.0, "-", "-"),
        ])
        ok = stored_rows == acked and code == 0
        print(f"\nrows in feedback_events after SIGTERM: {stored_rows:,}; acknowledged as stored: "
              f"{acked:,}; daemon exit code {code} -> {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        if echo is not None:
            echo.communicate("", timeout=10)
        daemon.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
