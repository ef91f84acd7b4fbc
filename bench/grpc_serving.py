"""GetPrompt latency and throughput against a bare grpc.aio echo server on the same transport.

Three processes: the real daemon (``gepad serve`` equivalent), an echo server (a generic handler
answering ``/gepad.v1.Gepad/GetPrompt`` with a fixed ``Prompt`` of the same size as the daemon's),
and a load generator with N concurrent async clients, one channel (one connection) each. Each
(transport, concurrency) point is measured for both servers back to back, ``--reps`` times,
alternating which goes first; the table reports medians over reps and the median of the per-rep
ratios gepad / echo. Goal: gepad p99 <= 1.5x echo p99.

On a small machine the Python load generator, not the server, can be what saturates; so the
server's own CPU time per request (utime+stime from /proc over the run, warm-up included) is
reported too: it is the capacity figure that does not depend on the client.

    python -m bench serving [--quick] [--reps 3] [--duration 3] [--concurrency 1,16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.daemon_proc import (
    ADMIN_TOKEN,
    PROGRAM,
    DaemonProcess,
    cpu_seconds,
    free_port,
    median,
    percentile,
    print_table,
    prompt_edit,
    stream_events,
    upsert_program,
    user_id,
)

__all__ = ["main"]

METHOD = "/gepad.v1.Gepad/GetPrompt"
_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]  # one connection per client


# ---------------------------------------------------------------------------- echo server role


async def _echo_server(socket_path: str, port: int, prompt_file: str) -> None:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    fixed = pb.Prompt.FromString(Path(prompt_file).read_bytes())  # noqa: ASYNC240 - start-up

    async def get_prompt(request: pb.GetPromptRequest, context: Any) -> pb.Prompt:
        return fixed

    handler = grpc.method_handlers_generic_handler(
        "gepad.v1.Gepad",
        {
            "GetPrompt": grpc.unary_unary_rpc_method_handler(
                get_prompt,
                request_deserializer=pb.GetPromptRequest.FromString,
                response_serializer=pb.Prompt.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{socket_path}")
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop(0)


# ---------------------------------------------------------------------------- client role


async def _client(
    target: str, token: str, concurrency: int, users: int, warmup: float, duration: float
) -> dict[str, Any]:
    import grpc

    from gepad.v1 import gepad_pb2 as pb

    metadata = (("authorization", f"Bearer {token}"),) if token else None
    requests = [pb.GetPromptRequest(user_id=user_id(i), program=PROGRAM) for i in range(users)]
    channels = [grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
                for _ in range(concurrency)]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), 10)
    latencies: list[list[int]] = [[] for _ in range(concurrency)]
    errors = 0
    total = 0
    start = time.perf_counter_ns()
    measure_from = start + int(warmup * 1e9)
    end = measure_from + int(duration * 1e9)

    async def worker(n: int) -> None:
        nonlocal errors, total
        call = channels[n].unary_unary(
            METHOD,
            request_serializer=pb.GetPromptRequest.SerializeToString,
            response_deserializer=pb.Prompt.FromString,
        )
        mine = latencies[n]
        k = n * 7919
        while True:
            t0 = time.perf_counter_ns()
            if t0 >= end:
                return
            try:
                await call(requests[k % users], metadata=metadata, timeout=10)
            except grpc.aio.AioRpcError:
                errors += 1
            t1 = time.perf_counter_ns()
            total += 1
            if t0 >= measure_from and t1 <= end:
                mine.append(t1 - t0)
            k += 1

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    for channel in channels:
        await channel.close(None)
    flat = sorted(x / 1e6 for lat in latencies for x in lat)
    return {
        "total": total,
        "count": len(flat),
        "rps": len(flat) / duration,
        "p50_ms": percentile(flat, 50),
        "p90_ms": percentile(flat, 90),
        "p99_ms": percentile(flat, 99),
        "max_ms": flat[-1] if flat else float("nan"),
        "errors": errors,
    }


# ---------------------------------------------------------------------------- orchestration


def _run_client(target: str, token: str, concurrency: int, users: int,
                warmup: float, duration: float) -> dict[str, Any]:
    import subprocess

    args = [sys.executable, "-m", "bench.grpc_serving", "_client", target, token or "-",
            str(concurrency), str(users), str(warmup), str(duration)]
    out = subprocess.run(args, capture_output=True, timeout=120 + warmup + duration, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"client failed:\n{out.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench serving", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=float, default=3.0, help="measured seconds per point")
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", default="1,16", help="comma-separated client counts")
    p.add_argument("--users", type=int, default=1000, help="users with a served prompt")
    p.add_argument("--transports", default="unix,tcp")
    p.add_argument("--cli", action="store_true", help="start the daemon with `gepad serve`")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.duration, args.warmup, args.users = 1, 0.5, 0.2, 50
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_echo":
        asyncio.run(_echo_server(argv[1], int(argv[2]), argv[3]))
        return 0
    if argv and argv[0] == "_client":
        target, token, conc, users, warmup, duration = argv[1:7]
        result = asyncio.run(_client(target, "" if token == "-" else token, int(conc),
                                     int(users), float(warmup), float(duration)))
        print(json.dumps(result))
        return 0
    return _orchestrate(_parse(argv))


def _orchestrate(args: argparse.Namespace) -> int:
    import subprocess

    import grpc

    from gepad.v1 import gepad_pb2 as pb
    from gepad.v1 import gepad_pb2_grpc as pb_grpc

    concurrencies = [int(c) for c in args.concurrency.split(",")]
    transports = args.transports.split(",")
    daemon = DaemonProcess(use_cli=args.cli)
    echo: subprocess.Popen[bytes] | None = None
    try:
        daemon.start()
        assert daemon.root is not None
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
            stream_events(channel, (prompt_edit(i) for i in range(args.users)))
            sample = pb_grpc.GepadStub(channel).GetPrompt(
                pb.GetPromptRequest(user_id=user_id(0), program=PROGRAM), timeout=10
            )
        prompt_file = daemon.root / "prompt.bin"
        prompt_file.write_bytes(sample.SerializeToString())
        echo_sock, echo_port = daemon.root / "echo.sock", free_port()
        echo = subprocess.Popen(
            [sys.executable, "-m", "bench.grpc_serving", "_echo", str(echo_sock),
             str(echo_port), str(prompt_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert echo.stdout is not None
        if echo.stdout.readline().strip() != b"READY":
            raise RuntimeError("echo server did not start")

        targets = {
            ("unix", "gepad"): (daemon.unix_target, ""),
            ("unix", "echo"): (f"unix:{echo_sock}", ""),
            ("tcp", "gepad"): (daemon.tcp_target, ADMIN_TOKEN),
            ("tcp", "echo"): (f"127.0.0.1:{echo_port}", ADMIN_TOKEN),
        }
        print(f"# GetPrompt: {args.users} users with a served prompt, response "
              f"{len(sample.SerializeToString())} bytes; {args.reps} reps x {args.duration}s "
              f"per point (+{args.warmup}s warm-up); daemon pid {daemon.pid}", flush=True)
        results: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
        raw_rows = []
        for rep in range(args.reps):
            for transport in transports:
                for conc in concurrencies:
                    order = ("echo", "gepad") if rep % 2 == 0 else ("gepad", "echo")
                    for server in order:
                        target, token = targets[(transport, server)]
                        pid = daemon.pid if server == "gepad" else echo.pid
                        cpu0 = cpu_seconds(pid)
                        r = _run_client(target, token, conc, args.users, args.warmup,
                                        args.duration)
                        r["cpu_us"] = (cpu_seconds(pid) - cpu0) / max(1, r["total"]) * 1e6
                        results.setdefault((transport, conc, server), []).append(r)
                        raw_rows.append((rep, transport, conc, server, r["rps"], r["p50_ms"],
                                         r["p99_ms"], r["max_ms"], r["cpu_us"], r["errors"]))
        print("\n## every measurement")
        print_table(["rep", "transport", "clients", "server", "req/s", "p50 ms", "p99 ms",
                     "max ms", "server CPU us/req", "errors"], raw_rows)

        print("\n## medians over reps (ratios: median of per-rep gepad/echo)")
        rows = []
        worst = 0.0
        for transport in transports:
            for conc in concurrencies:
                g, e = results[(transport, conc, "gepad")], results[(transport, conc, "echo")]
                ratio = {key: median(a[key] / b[key] for a, b in zip(g, e, strict=True))
                         for key in ("rps", "p50_ms", "p99_ms", "cpu_us")}
                worst = max(worst, ratio["p99_ms"])
                rows.append((
                    transport, conc,
                    median(r["rps"] for r in g), median(r["rps"] for r in e), ratio["rps"],
                    median(r["p50_ms"] for r in g), median(r["p50_ms"] for r in e),
                    ratio["p50_ms"],
                    median(r["p99_ms"] for r in g), median(r["p99_ms"] for r in e),
                    ratio["p99_ms"],
                    median(r["cpu_us"] for r in g), median(r["cpu_us"] for r in e),
                    ratio["cpu_us"],
                ))
        print_table(["transport", "clients", "gepad req/s", "echo req/s", "rps ratio",
                     "gepad p50 ms", "echo p50 ms", "p50 ratio", "gepad p99 ms", "echo p99 ms",
                     "p99 ratio", "gepad CPU us/req", "echo CPU us/req", "CPU ratio"], rows)
        verdict = "met" if worst <= 1.5 else "MISSED"
        print(f"\ngoal gepad p99 <= 1.5x echo p99: worst ratio {worst:.2f} -> {verdict}")
        return 0
    finally:
        if echo is not None:
            assert echo.stdin is not None
            echo.stdin.close()
            try:
                echo.wait(10)
            except subprocess.TimeoutExpired:
                echo.kill()
        daemon.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
