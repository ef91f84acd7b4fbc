"""Where the daemon's event loop spends batched ingest: the daemon runs in this process under
cProfile (its event loop thread; the writer's SQLite work runs in a worker thread and shows as
the loop waiting), while a client process sends ``--events`` events over ``IngestFeedback`` in
batches of 1,000 on two streams. Prints each hot function's share of the loop's busy time.

    python -m bench ingest-profile [--events 20000]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from bench.daemon_proc import print_table, upsert_program

__all__ = ["main"]

# (label, function name as cProfile keys it: file suffix, function)
_HOT = [
    ("validate_event (all of it)", "gepad/feedback/validation.py", "validate_event"),
    ("  payload JSON (event_to_json)", "gepad/feedback/event.py", "event_to_json"),
    ("  input's canonical JSON", "gepad/identity.py", "canonical_messages"),
    ("  example id (SHA-256)", "gepad/identity.py", "example_id_of"),
    ("  split (SHA-256)", "gepad/identity.py", "split_of"),
    ("event_from_message (protobuf -> record)", "gepad/rpc/messages.py", "event_from_message"),
    ("batch_result_message", "gepad/rpc/messages.py", "batch_result_message"),
]


def main(argv: Sequence[str] | None = None) -> int:
    import anyio
    import anyio.lowlevel
    import grpc

    from gepad.daemon import run_daemon
    from gepad.settings import Settings

    p = argparse.ArgumentParser(prog="python -m bench ingest-profile",
                                description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=20_000)
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    root = Path(tempfile.mkdtemp(prefix="gepad-p-", dir="/tmp"))
    settings = Settings(state_dir=root / "state", runtime_dir=root / "run",
                        socket_path=root / "run" / "gepad.sock")
    ready = threading.Event()
    outcome: dict[str, str] = {}
    stop: anyio.Event | None = None
    token: object = None

    def drive() -> None:
        ready.wait(60)
        with grpc.insecure_channel(f"unix://{settings.socket_path}") as channel:
            upsert_program(channel)
        out = subprocess.run(
            [sys.executable, "-m", "bench.ingest_batches", "_batched",
             f"unix:{settings.socket_path}", "p", str(args.events), "1000", "2"],
            capture_output=True, text=True, check=False,
        )
        outcome["client"] = (out.stdout.strip().splitlines() or [out.stderr[-2000:]])[-1]
        assert stop is not None
        anyio.from_thread.run_sync(stop.set, token=token)  # type: ignore[arg-type]

    async def serve() -> None:
        nonlocal stop, token
        stop = anyio.Event()
        token = anyio.lowlevel.current_token()
        threading.Thread(target=drive, daemon=True).start()
        await run_daemon(settings, ready=ready.set, stop=stop, handle_signals=False)

    profile = cProfile.Profile()
    profile.enable()
    anyio.run(serve)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    idle = sum(tt for (file, _, name), (_, _, tt, _, _) in stats.items()
               if name == "<method 'poll' of 'select.epoll' objects>")
    busy = total - idle

    def cumulative(suffix: str, function: str) -> float:
        return sum(ct for (file, _, name), (_, _, _, ct, _) in stats.items()
                   if file.endswith(suffix) and name == function)

    print(f"# client: {outcome.get('client')}")
    print(f"# event loop under cProfile: {total:.2f} s, of which waiting (epoll) {idle:.2f} s "
          f"(the writer thread commits meanwhile), busy {busy:.2f} s")
    print_table(["function (cumulative)", "seconds", "share of busy"], [
        (label, cumulative(suffix, fn), f"{cumulative(suffix, fn) / busy:.0%}")
        for label, suffix, fn in _HOT
    ])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
