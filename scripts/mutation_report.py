"""Per-module mutation scores from the verdicts mutmut cached under mutants/<group>/.

    python scripts/mutation_report.py [GROUP...]               the table `./dev mutate` prints
    python scripts/mutation_report.py --survivors [GROUP...]   surviving mutant names, one a line

mutmut 3 keeps one ``<module>.py.meta`` JSON file per mutated module, next to the mutated copy
(``mutants/<group>/mutants/gepad/.../<module>.py.meta``); its ``exit_code_by_key`` maps each
mutant's name to the exit code of the test run against it (``null`` until it has run). Mutants
that cannot be killed because they do not change behaviour are listed in
scripts/mutation_equivalents.txt (``mutant_name  # one-line reason``) and left out of the score,
which is over the mutants checked so far (all of them after a full run; a random sample after
``./dev mutate GROUP --sample N``):

    score = (killed + timeout) / (checked - equivalent)

A timeout is a mutant that made its tests hang, which pytest-timeout fails in CI. "No tests" and
anything else count against the score, like survivors.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.txt"

# mutmut 3.8.1's mutmut/stats.py: status_by_exit_code (anything else is "suspicious").
_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",  # pytest's internal error: the mutant broke something
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "interrupted",
    None: "not checked",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}


def status_of(exit_code: int | None) -> str:
    return _STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


def _table() -> dict[str, dict[str, object]]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        table: dict[str, dict[str, object]] = tomllib.load(f)["tool"]["gepad"]["mutate"]
    return table


def groups() -> dict[str, list[str]]:
    """The groups in pyproject.toml's [tool.gepad.mutate], name -> modules, in file order."""
    return {name: list(spec["modules"]) for name, spec in _table().items()}  # type: ignore[call-overload]


def sample_sizes() -> dict[str, int]:
    """Groups measured on a random sample of their mutants (``sample = N``), name -> N."""
    return {name: int(spec["sample"]) for name, spec in _table().items() if "sample" in spec}  # type: ignore[call-overload]


def draw_sample(names: Iterable[str], size: int, seed: int = 0) -> list[str]:
    """The same ``size`` names for the same set of names, on any machine."""
    pool = sorted(names)
    return random.Random(seed).sample(pool, min(size, len(pool)))


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """mutant name -> reason; blank lines and lines starting with # are skipped."""
    equivalents: dict[str, str] = {}
    if not path.exists():
        return equivalents
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        name = name.strip()
        if not name or " " in name:
            raise SystemExit(f"{path}:{number}: expected 'mutant_name  # reason', got {raw!r}")
        equivalents[name] = reason.strip()
    return equivalents


@dataclass
class ModuleResult:
    module: str  # gepad/store/writer.py
    status_by_mutant: dict[str, str] = field(default_factory=dict)

    def names(self, status: str) -> list[str]:
        return sorted(n for n, s in self.status_by_mutant.items() if s == status)

    def count(self, status: str) -> int:
        return sum(1 for s in self.status_by_mutant.values() if s == status)


def load_module(group: str, module: str) -> ModuleResult | None:
    """The cached verdicts of one module, or None when the group has not run on it yet."""
    meta = MUTANTS / group / "mutants" / (module + ".meta")
    if not meta.exists():
        return None
    data = json.loads(meta.read_text(encoding="utf-8"))
    exit_codes: dict[str, int | None] = data["exit_code_by_key"]
    return ModuleResult(module, {name: status_of(code) for name, code in exit_codes.items()})


def results(
    selected: Iterable[str], *, whole: bool = False
) -> list[tuple[str, ModuleResult | None, str]]:
    """(group, verdicts or None, module) for every module of the selected groups; for a sampled
    group only its sample's verdicts (unless ``whole``)."""
    known = groups()
    sizes = {} if whole else sample_sizes()
    rows: list[tuple[str, ModuleResult | None, str]] = []
    for group in selected:
        if group not in known:
            raise SystemExit(f"unknown group {group!r}; groups: {', '.join(known)}")
        loaded = [(module, load_module(group, module)) for module in known[group]]
        if group in sizes:
            everyone = [n for _m, r in loaded if r is not None for n in r.status_by_mutant]
            chosen = set(draw_sample(everyone, sizes[group]))
            loaded = [
                (m, None if r is None else ModuleResult(m, {
                    n: s for n, s in r.status_by_mutant.items() if n in chosen
                }))
                for m, r in loaded
            ]
        rows.extend((group, result, module) for module, result in loaded)
    return rows


def format_table(
    rows: Sequence[tuple[str, ModuleResult | None, str]], equivalents: dict[str, str]
) -> str:
    header = (
        "module",
        "total",
        "checked",
        "killed",
        "survived",
        "timeout",
        "no tests",
        "other",
        "equiv",
        "score",
    )
    lines = [header]
    sampled = sample_sizes()
    for group, result, module in rows:
        if result is None:
            lines.append((module, "-", "-", "-", "-", "-", "-", "-", "-", "not run"))
            continue
        statuses = result.status_by_mutant
        total = len(statuses)
        killed = result.count("killed")
        survived = result.count("survived")
        timeout = result.count("timeout")
        no_tests = result.count("no tests")
        unchecked = result.count("not checked")
        checked = total - unchecked
        other = checked - killed - survived - timeout - no_tests
        equivalent = sum(
            1 for name, status in statuses.items()
            if name in equivalents and status != "not checked"
        )
        denominator = checked - equivalent
        # A mutant that hangs its tests is caught: pytest-timeout fails the test in CI.
        score = f"{100 * (killed + timeout) / denominator:.1f}%" if denominator else "-"
        if group in sampled:
            score += " (sample)"
        if unchecked:
            score += " (incomplete)"
        lines.append(
            (
                module,
                str(total),
                str(checked),
                str(killed),
                str(survived),
                str(timeout),
                str(no_tests),
                str(other),
                str(equivalent),
                score,
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    out = []
    for row in lines:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def survivors(
    rows: Sequence[tuple[str, ModuleResult | None, str]], equivalents: dict[str, str]
) -> list[tuple[str, str, list[str]]]:
    """(group, module, names) of mutants that survived, timed out or had no tests and are not
    listed as equivalent."""
    out = []
    for group, result, module in rows:
        if result is None:
            continue
        names = [
            n
            for status in ("survived", "no tests", "suspicious", "segfault")
            for n in result.names(status)
            if n not in equivalents
        ]
        out.append((group, module, names))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("groups", nargs="*", help="groups to report (default: all)")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants instead")
    args = parser.parse_args(argv)
    selected = args.groups or list(groups())
    rows = results(selected)
    equivalents = load_equivalents()
    if args.survivors:
        for group, module, names in survivors(rows, equivalents):
            statuses = load_module(group, module)
            assert statuses is not None
            print(f"# {module} (group {group}): {len(names)}")
            for name in names:
                suffix = (
                    ""
                    if statuses.status_by_mutant[name] == "survived"
                    else f"  ({statuses.status_by_mutant[name]})"
                )
                print(f"{name}{suffix}")
        print("\n# `./dev mutate --show NAME` prints a mutant's diff.", file=sys.stderr)
        return 0
    print(format_table(rows, equivalents))
    stale = sorted(
        name
        for _g, result, _m in rows
        if result is not None
        for name in result.names("killed")
        if name in equivalents
    )
    for name in stale:
        print(f"warning: {name} is listed in {EQUIVALENTS.name} but was killed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
