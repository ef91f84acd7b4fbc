"""The floor gRPC itself sets for client-streaming ingest: a bare grpc.aio server that only
counts FeedbackEvents, with no gepad code at all. Three ways to receive 5,000-event streams:

* ``iter``:  ``async for`` over the request iterator, one event per message (what gepad does);
* ``read``:  ``await context.read()`` in a loop, one event per message;
* ``batch``: 500 events per message (a ``FeedbackBatch { repeated FeedbackEvent events = 1; }``
  built at run time; not in gepad's proto).

Reports the server's CPU microseconds per event and wall events/s (client in its own process).

    python -m bench grpc-floor [--reps 3] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.daemon_proc import acceptance, cpu_seconds, median, print_table

__all__ = ["main"]

_PER_STREAM, _PER_BATCH = 5000, 500


def _batch_class() -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from gepad.v1 import gepad_pb2  # noqa: F401 - registers gepad/v1/gepad.proto in the pool

    fdp = descriptor_pb2.FileDescriptorProto(
        name="bench_batch.proto", package="bench", dependency=["gepad/v1/gepad.proto"],
        syntax="proto3",
    )
    fdp.message_type.add(name="FeedbackBatch").field.add(
        name="events", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
        type_name=".gepad.v1.FeedbackEvent",
    )
    pool = descriptor_pool.Default()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("bench.FeedbackBatch"))


async def _server(path: str, mode: str) -> None:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    async def by_iter(requests: Any, context: Any) -> pb.StreamFeedbackResponse:
        n = 0
        async for _ in requests:
            n += 1
        return pb.StreamFeedbackResponse(stored=n)

    async def by_read(requests: Any, context: Any) -> pb.StreamFeedbackResponse:
        n = 0
        while (message := await context.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
            n += len(message.events) if mode == "batch" else 1
        return pb.StreamFeedbackResponse(stored=n)

    parse = _batch_class().FromString if mode == "batch" else pb.FeedbackEvent.FromString
    handler = grpc.method_handlers_generic_handler("gepad.v1.Gepad", {
        "StreamFeedback": grpc.stream_unary_rpc_method_handler(
            by_iter if mode == "iter" else by_read, request_deserializer=parse,
            response_serializer=pb.StreamFeedbackResponse.SerializeToString,
        )
    })
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


async def _client(path: str, mode: str, events: int) -> None:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    channel = grpc.aio.insecure_channel(f"unix:{path}")
    call = channel.stream_unary(
        "/gepad.v1.Gepad/StreamFeedback", request_serializer=lambda b: b,
        response_deserializer=pb.StreamFeedbackResponse.FromString,
    )
    evs = [acceptance(i) for i in range(_PER_STREAM)]
    if mode == "batch":
        batch = _batch_class()
        data = [batch(events=evs[i:i + _PER_BATCH]).SerializeToString()
                for i in range(0, _PER_STREAM, _PER_BATCH)]
    else:
        data = [e.SerializeToString() for e in evs]
    for _ in range(events // _PER_STREAM):
        reply = await call(iter(data), timeout=300)
        assert reply.stored == _PER_STREAM, reply
    await channel.close(None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_server":
        asyncio.run(_server(argv[1], argv[2]))
        return 0
    if argv and argv[0] == "_client":
        asyncio.run(_client(argv[1], argv[2], int(argv[3])))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench grpc-floor",
                                description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.events = 1, 5_000
    path = str(Path(tempfile.mkdtemp(prefix="gepad-f-", dir="/tmp")) / "floor.sock")
    me = [sys.executable, "-m", "bench.grpc_floor"]
    rows: list[tuple[object, ...]] = []
    cpu: dict[str, list[float]] = {}
    rate: dict[str, list[float]] = {}
    for rep in range(args.reps):
        for mode in ("iter", "read", "batch"):
            server = subprocess.Popen([*me, "_server", path, mode], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
            assert server.stdout is not None and server.stdin is not None
            if server.stdout.readline().strip() != b"READY":
                raise RuntimeError("server did not start")
            c0, t0 = cpu_seconds(server.pid), time.perf_counter()
            subprocess.run([*me, "_client", path, mode, str(args.events)], check=True,
                           timeout=600)
            wall = time.perf_counter() - t0
            us = (cpu_seconds(server.pid) - c0) / args.events * 1e6
            server.stdin.close()
            server.wait(10)
            rows.append((rep, mode, us, args.events / wall))
            cpu.setdefault(mode, []).append(us)
            rate.setdefault(mode, []).append(args.events / wall)
    print_table(["rep", "receive", "server CPU us/event", "wall events/s"], rows)
    print()
    print_table(["receive", "median server CPU us/event", "median wall events/s"],
                [(m, median(cpu[m]), median(rate[m])) for m in cpu])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
