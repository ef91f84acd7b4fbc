"""Dispatch ``python -m bench <name> [args...]`` to a benchmark's ``main(argv)``.

To add a benchmark, add one line to ``BENCHMARKS``: name -> "module:function". Modules are imported
lazily so that one benchmark's heavy imports (gepa, litellm, grpc) never slow down another.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

BENCHMARKS: dict[str, str] = {
    "engine": "bench.engine_vs_gepa:main",
    "gate": "bench.gate:main",
    "loop": "bench.daemon_loop:main",
    "serving": "bench.grpc_serving:main",
    "ingest": "bench.ingest:main",
    "ingest-batches": "bench.ingest_batches:main",
    "ingest-memory": "bench.ingest_memory:main",
    "ingest-kill": "bench.ingest_kill:main",
    "ingest-profile": "bench.ingest_profile:main",
    "memory": "bench.memory:main",
    "grpc-floor": "bench.grpc_floor:main",
    "reflection-format": "bench.reflection_format:main",
    "calibration": "bench.calibration:main",
}


def _resolve(target: str) -> Callable[[Sequence[str]], int | None]:
    module_name, _, attr = target.partition(":")
    fn: Callable[[Sequence[str]], int | None] = getattr(importlib.import_module(module_name), attr)
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"} or args[0] not in BENCHMARKS:
        if args and args[0] not in {"-h", "--help", "help"}:
            print(f"unknown benchmark: {args[0]}", file=sys.stderr)
        print("usage: python -m bench <name> [args...]\nbenchmarks:", file=sys.stderr)
        for name, target in sorted(BENCHMARKS.items()):
            print(f"  {name:<12} {target}", file=sys.stderr)
        return 0 if not args or args[0] in {"-h", "--help", "help"} else 2
    return _resolve(BENCHMARKS[args[0]])(args[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
