"""`./dev mutate`: run mutmut over the modules that carry gepad's promises, one group at a time.

    ./dev mutate [GROUP...]                  run the groups (default: all), then print the report
    ./dev mutate engine --only 'gepad.engine.pareto.*'
                                             (re)run only the mutants whose names match
    ./dev mutate rounds --sample 150         a random sample (seed 0) of the group's mutants
    ./dev mutate --report [GROUP...]         print the report from the cached verdicts
    ./dev mutate --list-survivors [GROUP...] surviving mutant names, one a line
    ./dev mutate --show MUTANT               the diff of one mutant (`mutmut show`)
    ./dev mutate --fresh GROUP               forget a group's cache first

Groups are the tables [tool.gepad.mutate.<group>] in pyproject.toml (modules, tests). Each group
runs in mutants/<group>/: a pyproject.toml holding [tool.mutmut] from the root pyproject.toml with
only_mutate and the test selection of that group, a link to gepad/, and mutmut's own mutants/
(mutated copies, verdicts, which test reached which function). mutmut keeps the verdicts: a
re-run tests only the mutants of functions whose source changed and collects stats for new tests.
When the tests changed since a group's last run, its surviving, timed-out and untested mutants
are tested again (mutmut itself never re-tests a mutant that has a verdict).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mutation_report as report

ROOT = report.ROOT
MUTMUT = Path(sys.executable).parent / "mutmut"
# Verdicts new tests may change. A timeout is already a catch (pytest-timeout fails it in CI).
RETEST = ("survived", "no tests", "suspicious", "segfault")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def group_pyproject(group: str, pyproject: dict[str, Any]) -> str:
    """The pyproject.toml of mutants/<group>/: the root's [tool.mutmut] narrowed to the group, and
    [tool.pytest.ini_options], which mutmut's pytest runs read from the copy of this file."""
    tool = pyproject["tool"]
    spec = tool["gepad"]["mutate"][group]
    mutmut = dict(tool["mutmut"])
    mutmut["only_mutate"] = list(spec["modules"])
    mutmut["pytest_add_cli_args_test_selection"] = list(spec["tests"]) + [
        f"--deselect={test}" for test in spec.get("deselect", [])
    ]
    lines = [f"# Written by scripts/mutate.py for group {group!r}; edit the root pyproject.toml."]
    for name, table in (
        ("tool.mutmut", mutmut),
        ("tool.pytest.ini_options", tool["pytest"]["ini_options"]),
    ):
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def tests_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def prepare(group: str, pyproject: dict[str, Any]) -> Path:
    workdir = report.MUTANTS / group
    workdir.mkdir(parents=True, exist_ok=True)
    # mutmut reads the sources from gepad/ and copies tests/ and also_copy from the directory it
    # runs in.
    for name in ("gepad", "tests", *pyproject["tool"]["mutmut"].get("also_copy", [])):
        link = workdir / name
        if not link.is_symlink():
            link.symlink_to(Path("..", "..", name))
    config = workdir / "pyproject.toml"
    text = group_pyproject(group, pyproject)
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    # mutmut copies tests/ over its old copy; start from a clean copy so deleted tests go away.
    shutil.rmtree(workdir / "mutants" / "tests", ignore_errors=True)
    return workdir


def mutmut(workdir: Path, *args: str) -> int:
    return subprocess.run([str(MUTMUT), *args], cwd=workdir, check=False).returncode


def sample_of(
    group: str, workdir: Path, size: int, children: int, retest: bool
) -> list[str]:
    """The group's sample of ``size`` mutants (`mutation_report.draw_sample`), of which those
    without a verdict yet (and, when the tests changed, those the old tests let through). mutmut
    generates mutants and collects test stats before it filters by name, so a run with a name
    that matches nothing does just that."""
    probe = [str(MUTMUT), "run", "--max-children", str(children), "no-mutant-has-this-name"]
    # It ends in mutmut's "nothing matches" assertion, by design: keep that out of the log.
    subprocess.run(probe, cwd=workdir, check=False, capture_output=True)
    verdicts = {
        name: status for _g, result, _m in report.results([group], whole=True)
        if result is not None
        for name, status in result.status_by_mutant.items()
    }
    todo = ("not checked", *RETEST) if retest else ("not checked",)
    return [name for name in report.draw_sample(verdicts, size) if verdicts[name] in todo]


def run_group(
    group: str, pyproject: dict[str, Any], only: Sequence[str], children: int, sample: int = 0
) -> bool:
    workdir = prepare(group, pyproject)
    stamp = workdir / ".tests-sha256"
    digest = tests_digest()
    started = time.monotonic()
    print(
        f"== mutate {group}: {', '.join(pyproject['tool']['gepad']['mutate'][group]['modules'])}",
        flush=True,
    )
    if sample:
        # Without a stamp nobody knows which tests gave the verdicts: test the undecided again.
        changed = not stamp.exists() or stamp.read_text() != digest
        only = sample_of(group, workdir, sample, children=children, retest=changed)
        print(f"== mutate {group}: {len(only)} of a sample of {sample} still to test", flush=True)
        if not only:
            stamp.write_text(digest)
            return True
    rc = mutmut(workdir, "run", "--max-children", str(children), *only)
    if rc == 0 and not only and stamp.exists() and stamp.read_text() != digest:
        again = [
            name
            for _g, result, _m in report.results([group])
            if result is not None
            for status in RETEST
            for name in result.names(status)
        ]
        if again:
            print(
                f"== mutate {group}: tests changed, testing {len(again)} undecided mutants again",
                flush=True,
            )
            rc = mutmut(workdir, "run", "--max-children", str(children), *again)
    if rc == 0:
        stamp.write_text(digest)
    print(
        f"== mutate {group}: mutmut exited {rc} after {time.monotonic() - started:.0f}s", flush=True
    )
    return rc == 0


def group_of(mutant: str) -> str:
    for group, modules in report.groups().items():
        for module in modules:
            if mutant.startswith(module.removesuffix(".py").replace("/", ".") + "."):
                return group
    raise SystemExit(f"{mutant}: not a mutant of any group's modules")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev mutate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("groups", nargs="*", help="groups to run (default: all)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only the mutants whose names match (always re-runs them)",
    )
    parser.add_argument("--max-children", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument(
        "--sample", type=int, default=None, metavar="N",
        help="test a random sample of N mutants (seed 0) instead of all: an unbiased estimate of "
        "the score when a full run would take hours (a group's `sample` in pyproject.toml sets "
        "its default; --sample 0 tests every mutant)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete the groups' caches first")
    parser.add_argument("--report", action="store_true", help="only print the report")
    parser.add_argument("--list-survivors", action="store_true", help="only list surviving mutants")
    parser.add_argument("--show", metavar="MUTANT", help="print one mutant's diff")
    args = parser.parse_args(argv)

    with (ROOT / "pyproject.toml").open("rb") as f:
        pyproject = tomllib.load(f)
    known = list(pyproject["tool"]["gepad"]["mutate"])
    selected: list[str] = args.groups or known
    unknown = [g for g in selected if g not in known]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; groups: {', '.join(known)}")

    if args.show:
        workdir = report.MUTANTS / group_of(args.show)
        return mutmut(workdir, "show", args.show)
    if args.list_survivors:
        return report.main(["--survivors", *selected])
    if not args.report:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        failed = []
        for group in selected:
            if args.fresh:
                shutil.rmtree(report.MUTANTS / group, ignore_errors=True)
            spec = pyproject["tool"]["gepad"]["mutate"][group]
            sample = int(spec.get("sample", 0)) if args.sample is None else args.sample
            if not run_group(group, pyproject, args.only, args.max_children, sample):
                failed.append(group)
        if failed:
            print(f"mutmut failed for: {', '.join(failed)}", file=sys.stderr)
        print()
        report.main(selected)
        return 1 if failed else 0
    return report.main(selected)


if __name__ == "__main__":
    raise SystemExit(main())
