"""The release gate on small, noisy gate sets: false promotions and false rejections of the rule
`gepad.engine.promotion` had before issue 6 against the paired rule it has now.

    python -m bench gate                          # 400 users x gate sizes 3, 5, 8 (2-5 minutes)
    python -m bench gate --quick                  # smoke run
    python -m bench gate --pairs 1000 --sizes 2,3,5,8,13 --confidence 0.8,0.9,0.95

Each user of the simulated world (``bench/world``, one per seed) has a served prompt stating a
random part of their hidden preferences; four mutations of it (a preference added, dropped,
stated for every request instead of one kind, a wrong one added) are scored on val, and the
best by val mean is the candidate the gate sees (so its val lead carries the luck of that
choice, as in the daemon). Per gate size the user has a gate of that many requests and a val
split 25/15 as large (gepad splits examples 60/25/15); a user whose mutations all lose to the
served prompt on val gives no pair at that size (the daemon would not call the gate).

Truth: both prompts scored by the world's oracle judge on 400 held-out requests, on the aggregate
and per dimension. The gate sees what the daemon would: the few gate requests scored by a noisy
LLM judge (each preference check misread with probability 0.1) on format / tone / length, plus a
token-overlap `reference` score against the user's corrected reply (gepad's `token_f1`); every
dimension either side reports is gated, as in the daemon. Rules, on the same evaluations:
- old: promote iff gate mean(candidate) > gate mean(served) + margin (0) and no dimension's gate
  mean drops at all (tolerance 0);
- new: `decide_gate` at the given confidence (default 0.9), val's paired differences lending
  their spread;
- val-pooled: the same, but val's differences also count as evidence of the gain (what the new
  rule avoids, shown to measure what selecting on val does to it).

Reported per gate size, over pairs (users 0-299 were used while designing the rule; the default
run starts at 1000):
- false promotion: promoted, and truly not better by more than noise (true gain < +0.02, about
  twice the truth's own standard error);
- harmful promotion: promoted, and truly worse (true gain < 0) or with a real regression (a
  judge dimension or the reference truly down by more than 0.05);
- false rejection: refused, though truly better by a clear margin (true gain >= 0.05) with no
  real regression;
- delivered gain: the mean true gain per decision (the true gain when promoted, 0 when not).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

from bench.report import table
from bench.world import SEED_PROMPT, Directive, User, WorldExample, generate, judge, make_user
from bench.world.task_lm import respond
from bench.world.users import CATALOG
from bench.world.vocab import DIMENSIONS
from gepad.engine import GateVerdict, Paired, decide_gate
from gepad.engine.paired import student_t_quantile
from gepad.evaluators.reference import token_f1

MISREAD_P = 0.1
N_VAL = 12
N_TRUTH = 400
N_MUTANTS = 4
# Truth thresholds (held-out score, 0..1).
NOISE = 0.02
CLEAR = 0.05
REGRESSION = 0.05
METRICS = (*DIMENSIONS, "reference")


@dataclass(frozen=True)
class Settings:
    pairs: int = 400  # users; each gives one pair per gate size (fewer when none is chosen)
    sizes: tuple[int, ...] = (3, 5, 8)
    confidences: tuple[float, ...] = (0.9,)
    # Users 0-299 were used while designing the rule; results are reported on others.
    first_seed: int = 1000


QUICK = Settings(pairs=6, sizes=(3, 5), confidences=(0.9,))


# ---------------------------------------------------------------------------- prompts


def prompt_of(rules: Sequence[Directive]) -> str:
    return "\n".join([SEED_PROMPT, *(f"- {r.text()}" for r in rules)])


def served_rules(user: User, rng: random.Random) -> list[Directive]:
    """What the served prompt states: about half the user's preferences, maybe a wrong rule."""
    rules = [p for p in user.preferences if rng.random() < 0.5]
    if rng.random() < 0.3:
        rules.append(rng.choice([d for d in CATALOG if d not in user.preferences]))
    return rules


def mutate(rules: Sequence[Directive], user: User, rng: random.Random) -> list[Directive]:
    """One or two edits of the kinds a reflection LM makes, good and bad."""
    out = list(rules)
    for _ in range(rng.choice((1, 1, 2))):
        missing = [p for p in user.preferences if p not in out]
        scoped = [r for r in out if r.scope is not None]
        edit = rng.choice(("add", "add", "drop", "unscope", "wrong"))
        if edit == "add" and missing:
            out.append(rng.choice(missing))
        elif edit == "drop" and out:
            out.remove(rng.choice(out))
        elif edit == "unscope" and scoped:
            r = rng.choice(scoped)
            out[out.index(r)] = r.unscoped()
        else:
            out.append(rng.choice([d for d in CATALOG if d not in user.preferences]))
    return out


# ---------------------------------------------------------------------------- scoring


@dataclass
class Scorer:
    """One user's prompts scored on requests: by the noisy gate evaluation, or as the truth."""

    user: User
    seed: int
    _truth: dict[str, dict[str, float]] = field(default_factory=dict)
    _references: dict[str, str] = field(default_factory=dict)

    def reference(self, example: WorldExample) -> str:
        """The user's corrected reply: what a prompt stating every preference makes, obeyed."""
        if example.id not in self._references:
            ideal = prompt_of(self.user.preferences)
            self._references[example.id] = respond(ideal, example, self.seed, 1.0).text
        return self._references[example.id]

    def noisy(self, prompt: str, example: WorldExample, draw: str) -> dict[str, float]:
        """Scores as the daemon's evaluators give them: "aggregate" and every dimension."""
        text = respond(prompt, example, self.seed).text
        digest = hashlib.blake2b(f"{draw}|{prompt}".encode(), digest_size=8).hexdigest()
        rng = random.Random(f"{self.seed}|{digest}|{example.id}")
        verdict = judge(self.user, example, text, MISREAD_P, rng)
        return {
            "aggregate": verdict.aggregate,
            **verdict.scores,
            "reference": token_f1(text, self.reference(example)),
        }

    def truth(self, prompt: str, held_out: Sequence[WorldExample]) -> dict[str, float]:
        """Oracle-judge means on the held-out requests (and the mean reference overlap)."""
        if prompt not in self._truth:
            rows = []
            for ex in held_out:
                text = respond(prompt, ex, self.seed).text
                v = judge(self.user, ex, text)
                rows.append({"aggregate": v.aggregate, **v.scores,
                             "reference": token_f1(text, self.reference(ex))})
            self._truth[prompt] = {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
        return self._truth[prompt]


# ---------------------------------------------------------------------------- one pair

Rows = Sequence[Mapping[str, float]]


@dataclass(frozen=True)
class Case:
    """A served prompt and the candidate a round would bring to a gate of `size` examples."""

    seed: int
    size: int
    true: dict[str, float]  # candidate minus served, truth, per metric and "aggregate"
    val: tuple[Rows, Rows]  # (candidate, served) noisy rows on val
    gate: tuple[Rows, Rows]  # (candidate, served) noisy rows on the gate

    @property
    def true_gain(self) -> float:
        return self.true["aggregate"]

    @property
    def regressed(self) -> bool:
        return any(self.true[m] < -REGRESSION for m in METRICS)

    @property
    def not_better(self) -> bool:
        return self.true_gain < NOISE

    @property
    def clearly_better(self) -> bool:
        return self.true_gain >= CLEAR and not self.regressed

    @property
    def harmful(self) -> bool:
        return self.true_gain < 0 or self.regressed


def val_size(gate_size: int) -> int:
    """Val examples a user with `gate_size` gate examples has (gepad splits 60/25/15)."""
    return max(2, round(gate_size * 25 / 15))


def build_cases(seed: int, sizes: Sequence[int]) -> list[Case]:
    """One user's case per gate size; none for a size where no mutation beats the served prompt
    on val (the daemon would not call the gate: the best val candidate is the served one)."""
    user = make_user(seed)
    rng = random.Random(f"gate-bench:{seed}")
    scorer = Scorer(user, seed)
    rules = served_rules(user, rng)
    served = prompt_of(rules)
    mutants = list(dict.fromkeys(prompt_of(mutate(rules, user, rng)) for _ in range(N_MUTANTS)))
    mutants = [m for m in mutants if m != served]
    held_out = generate(seed, "gate-truth", N_TRUTH)
    out = []
    for size in sizes:
        val = generate(seed, f"gate-val-{size}", val_size(size))
        rows = {p: [scorer.noisy(p, ex, f"val-{size}") for ex in val] for p in [served, *mutants]}

        def val_mean(p: str, rows: dict[str, list[dict[str, float]]] = rows) -> float:
            return statistics.fmean(r["aggregate"] for r in rows[p])

        if not mutants:
            continue
        candidate = max(mutants, key=val_mean)
        if val_mean(candidate) <= val_mean(served):
            continue
        truth_c, truth_s = scorer.truth(candidate, held_out), scorer.truth(served, held_out)
        gate = generate(seed, f"gate-{size}", size)
        out.append(Case(
            seed, size, {k: truth_c[k] - truth_s[k] for k in truth_c},
            (rows[candidate], rows[served]),
            ([scorer.noisy(candidate, ex, "gate") for ex in gate],
             [scorer.noisy(served, ex, "gate") for ex in gate]),
        ))
    return out


def diffs(a: Rows, b: Rows, key: str) -> tuple[float, ...]:
    return tuple(x[key] - y[key] for x, y in zip(a, b, strict=True))


def old_rule(case: Case) -> bool:
    """The gate before issue 6 (margin 0, dimension tolerance 0), restated on score rows."""
    cand, served = case.gate

    def mean(rows: Rows, key: str) -> float:
        return statistics.fmean(r[key] for r in rows)

    if not mean(cand, "aggregate") > mean(served, "aggregate"):
        return False
    return all(mean(cand, m) - mean(served, m) >= 0 for m in METRICS)


def new_verdict(case: Case, confidence: float, *, val_mean_too: bool = False) -> GateVerdict:
    """`decide_gate` on the case, with val's paired differences as the daemon passes them; with
    `val_mean_too`, val's differences also join the gate's as evidence of the gain (the naive
    pooling the new rule avoids: val chose the candidate)."""
    cand, served = case.gate
    val_c, val_s = case.val
    gate, val = diffs(cand, served, "aggregate"), diffs(val_c, val_s, "aggregate")
    return decide_gate(
        Paired(gate + val, ()) if val_mean_too else Paired(gate, val),
        {m: Paired(diffs(cand, served, m), diffs(val_c, val_s, m)) for m in METRICS},
        (statistics.fmean(r["aggregate"] for r in cand),
         statistics.fmean(r["aggregate"] for r in served)),
        confidence=confidence,
    )


def decisions(case: Case, confidences: Sequence[float]) -> dict[str, bool]:
    """Per rule: promoted?"""
    out = {"old": old_rule(case)}
    for c in confidences:
        out[f"new {c:.0%}"] = new_verdict(case, c).promote
    for c in confidences:
        out[f"val-pooled {c:.0%}"] = new_verdict(case, c, val_mean_too=True).promote
    return out


# ---------------------------------------------------------------------------- report


def rate(hits: int, n: int) -> str:
    """A rate with its count and a 95 % Wilson interval."""
    if n == 0:
        return "-"
    p = hits / n
    z = student_t_quantile(0.975, 10_000)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.1%} ({hits}/{n}; {max(0.0, centre - half):.0%}–{min(1.0, centre + half):.0%})"


def report(cases: Sequence[Case], s: Settings) -> str:
    users = len({c.seed for c in cases})
    out = [
        f"Release gate on small noisy gate sets: {users} users (seeds from {s.first_seed}), "
        f"one (served, candidate) pair each per gate size; val = 25/15 of the gate; the "
        f"candidate is the best of up to {N_MUTANTS} mutations on val; truth on {N_TRUTH} "
        "held-out requests",
    ]
    head = ["gate", "val", "pairs", "rule", "promoted", "false promotion", "harmful promotion",
            "false rejection", "delivered gain"]
    body: list[list[object]] = []
    for size in s.sizes:
        here = [c for c in cases if c.size == size]
        decided = [(c, decisions(c, s.confidences)) for c in here]
        not_better = [d for c, d in decided if c.not_better]
        clear = [d for c, d in decided if c.clearly_better]
        harmful = [d for c, d in decided if c.harmful]
        for r in decided[0][1] if decided else ():
            delivered = statistics.fmean(c.true_gain if d[r] else 0.0 for c, d in decided)
            body.append([
                size, val_size(size), len(here), r,
                f"{sum(d[r] for _, d in decided) / len(decided):.1%}",
                rate(sum(d[r] for d in not_better), len(not_better)),
                rate(sum(d[r] for d in harmful), len(harmful)),
                rate(sum(not d[r] for d in clear), len(clear)),
                f"{delivered:+.4f}",
            ])
    out.append(table(head, body))
    gains = [c.true_gain for c in cases]
    out.append(
        f"true gain of the pairs: median {statistics.median(gains):+.3f}, quartiles "
        f"{_quantile(gains, 0.25):+.3f} and {_quantile(gains, 0.75):+.3f}. false promotion = "
        f"promoted / truly not better (gain < +{NOISE}); harmful promotion = promoted / truly "
        f"worse or regressed (a metric down > {REGRESSION}); false rejection = refused / clearly "
        f"better (gain >= {CLEAR}, no regression); delivered gain = mean true gain per decision "
        "(0 when refused). Rates: share (count; 95 % Wilson interval)."
    )
    return "\n".join(out)


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(s: Settings, workers: int = 2) -> list[Case]:
    """Cases for `s.pairs` users in seed order; users are independent, so they are built on
    `workers` processes and the result does not depend on how many."""
    seeds = range(s.first_seed, s.first_seed + s.pairs)
    with ProcessPoolExecutor(workers) as pool:
        built = pool.map(partial(build_cases, sizes=s.sizes), seeds, chunksize=8)
        return [c for cases in built for c in cases]


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--pairs", type=int, help="users, one pair per gate size (default 400)")
    parser.add_argument("--first-seed", type=int, help="seed of the first user (default 1000)")
    parser.add_argument("--sizes", help="comma-separated gate sizes (default 3,5,8)")
    parser.add_argument("--confidence", help="comma-separated confidences of the new rule")
    args = parser.parse_args(list(argv))
    s = QUICK if args.quick else Settings()
    if args.pairs:
        s = replace(s, pairs=args.pairs)
    if args.first_seed is not None:
        s = replace(s, first_seed=args.first_seed)
    if args.sizes:
        s = replace(s, sizes=tuple(int(x) for x in args.sizes.split(",")))
    if args.confidence:
        s = replace(s, confidences=tuple(float(x) for x in args.confidence.split(",")))
    started = time.perf_counter()
    print(report(run(s), s))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    return 0
