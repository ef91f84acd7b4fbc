"""The daemon's memory while it ingests a lot of feedback: its RSS sampled every 50 ms during
``--gigabytes`` of events sent over ``IngestFeedback`` (batches of ~2 MB, two streams at once),
then a single ``StreamFeedback`` (one transaction: held whole) larger than ``ingest_max_bytes``,
which must be refused with RESOURCE_EXHAUSTED naming the limit, not buffered.

Reports RSS before, the peak during (VmHWM) and after, next to the bytes sent, and the rows
stored (which must equal the events acknowledged).

    python -m bench ingest-memory [--quick] [--gigabytes 1.0]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from bench.daemon_proc import PROGRAM, DaemonProcess, print_table, upsert_program, user_id

__all__ = ["main"]

_TEXT = 60_000  # characters of output per event: large events, few Python objects per byte


def _event(i: int, tag: str) -> Any:
    from gepad.v1 import gepad_pb2 as pb

    return pb.FeedbackEvent(
        event_id=f"{tag}-{i}", user_id=user_id(i % 100), program=PROGRAM,
        kind=pb.FEEDBACK_KIND_ACCEPTANCE,
        input=[pb.ChatMessage(role="user", content=f"Summarise document {i}.")],
        output=(f"summary {i} " + "lorem ipsum dolor sit amet " * (_TEXT // 27))[:_TEXT],
    )


def _batches(total_bytes: int, per_batch: int, tag: str) -> Iterator[Any]:
    from gepad.v1 import gepad_pb2 as pb

    size = _event(0, tag).ByteSize()
    events = total_bytes // size
    for lo in range(0, events, per_batch):
        yield pb.FeedbackBatch(sequence=lo, events=[
            _event(i, tag) for i in range(lo, min(lo + per_batch, events))])


class _Sampler:
    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, _ = self.daemon.rss()
            self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    import grpc

    from gepad.v1 import gepad_pb2_grpc as pbg

    p = argparse.ArgumentParser(prog="python -m bench ingest-memory",
                                description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="50 MB")
    p.add_argument("--gigabytes", type=float, default=1.0)
    p.add_argument("--per-batch", type=int, default=32, help="events per batch (~60 KB each)")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    total = int((0.05 if args.quick else args.gigabytes) * 1e9)
    limit = 64 * 1024 * 1024
    daemon = DaemonProcess(tcp=False)
    try:
        daemon.start()
        with grpc.insecure_channel(daemon.unix_target) as channel:
            upsert_program(channel)
            stub = pbg.GepadStub(channel)
            time.sleep(1.0)
            before, _ = daemon.rss()
            acks: dict[str, int] = {}
            # Built lazily by each stream's request iterator, so the bench holds one batch
            # per stream, not the gigabyte.
            sizes: list[int] = []

            def requests(tag: str) -> Iterator[Any]:
                for batch in _batches(total // 2, args.per_batch, tag):
                    sizes.append(batch.ByteSize())
                    yield batch

            start = time.perf_counter()
            with _Sampler(daemon) as sampler:
                def stream(tag: str) -> None:
                    acks[tag] = sum(answer.stored for answer in
                                    stub.IngestFeedback(requests(tag), timeout=3600))

                workers = [threading.Thread(target=stream, args=(t,)) for t in ("a", "b")]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join()
            seconds = time.perf_counter() - start
            sent = sum(sizes)
            stored = sum(acks.values())
            after_batches, hwm = daemon.rss()

            # One legacy stream of ~2x the limit: refused once it passes it, never buffered.
            big = [_event(i, "legacy") for i in range(2 * limit // _event(0, "x").ByteSize())]
            legacy_bytes = sum(e.ByteSize() for e in big)
            with _Sampler(daemon) as legacy_sampler:
                try:
                    stub.StreamFeedback(iter(big), timeout=600)
                    legacy = "stored (unexpected)"
                except grpc.RpcError as exc:
                    legacy = f"{exc.code().name}: {exc.details()}"
            after, hwm = daemon.rss()
        code = daemon.stop()
        with sqlite3.connect(daemon.database_path) as conn:
            (rows,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()

        mb = 1024 * 1024
        print(f"# {sent / 1e9:.2f} GB of feedback over IngestFeedback in {seconds:.1f} s "
              f"({sent / 1e6 / seconds:.1f} MB/s, {stored / seconds:,.0f} events/s), batches of "
              f"{args.per_batch} events of ~{_TEXT // 1000} KB; ingest_max_bytes {limit // mb} MiB")
        print_table(["measure", "MiB"], [
            ("daemon RSS before", before / mb),
            ("peak RSS during the batches (sampled every 50 ms)", sampler.peak / mb),
            ("RSS after the batches", after_batches / mb),
            (f"peak RSS during a {legacy_bytes / mb:.0f} MiB StreamFeedback",
             legacy_sampler.peak / mb),
            ("RSS at the end", after / mb),
            ("VmHWM (the process's peak)", hwm / mb),
            ("data sent over IngestFeedback", sent / mb),
        ])
        print(f"\nlegacy StreamFeedback: {legacy}")
        ok = rows == stored and code == 0 and legacy.startswith("RESOURCE_EXHAUSTED")
        print(f"rows stored {rows:,}, acknowledged {stored:,}; exit code {code} -> "
              f"{'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        daemon.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
