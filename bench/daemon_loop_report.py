"""Tables for ``python -m bench loop`` (see ``bench.daemon_loop``): the served prompt against gepa
per row and judge, what the daemon's rounds decided, and what their run messages say."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.report import markdown, median

if TYPE_CHECKING:
    from bench.daemon_loop import Config, Results, RoundRecord, UserResult

GOOD = 0.9  # a user is well served at >= 0.9 of the ideal prompt's held-out score
GOOD_SHARE = 0.8  # the "ahead" goal: >= 0.9 of ideal for >= 80% of users
AHEAD_ROWS = {("one-shot", 300), ("seven-days", 100)}

REACTIONS = ("acceptance", "rejection", "correction")
RUBRIC_ITEMS = ("exact", "mis-scoped", "wrong")
OUTCOMES = ("promoted", "gate said no", "no decision", "budget exhausted before gate", "failed")


def outcome(r: RoundRecord) -> str:
    if r.status != "succeeded":
        return "failed"
    if r.promoted:
        return "promoted"
    if "budget exhausted before gate evaluation" in r.message:
        return "budget exhausted before gate"
    if r.message.startswith("no decision"):
        return "no decision"
    return "gate said no"


def share(values: Sequence[float]) -> float:
    return sum(v >= GOOD for v in values) / len(values) if values else float("nan")


def paired(diffs: Sequence[float]) -> str:
    if len(diffs) < 2:
        return f"{statistics.fmean(diffs):+.3f}" if diffs else "-"
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    return f"{statistics.fmean(diffs):+.3f} ± {se:.3f}"


def goal(config: Config, users: Sequence[UserResult]) -> str:
    served = [u.served for u in users]
    gepa = [u.gepa for u in users]
    misses = []
    if median(served) < median(gepa):
        misses.append(f"median {median(served) - median(gepa):+.3f}")
    if share(served) < share(gepa):
        misses.append(f"share {share(served) - share(gepa):+.0%}")
    if (config.scenario, config.budget) in AHEAD_ROWS and share(served) < GOOD_SHARE:
        misses.append(f"share {share(served):.0%} < {GOOD_SHARE:.0%}")
    return "met" if not misses else "missed: " + ", ".join(misses)


def quality_table(results: Results) -> str:
    rows = []
    for config, users in results.rows.items():
        served = [u.served for u in users]
        gepa = [u.gepa for u in users]
        rows.append([
            config.label, config.judge, len(users),
            median(served), f"{share(served):.0%}", median(gepa), f"{share(gepa):.0%}",
            paired([u.served - u.gepa for u in users]),
            median([u.engine_best for u in users]), median([u.seed_prompt for u in users]),
            goal(config, users),
        ])
    return markdown(
        ["row", "judge", "users", "gepad served median", "gepad ≥ 0.9", "gepa median",
         "gepa ≥ 0.9", "served − gepa (mean ± se)", "gepad best-val median", "seed median",
         "goal"],
        rows,
    )


def rounds_table(results: Results) -> str:
    rows = []
    for config, users in results.rows.items():
        rounds = [r for u in users for r in u.rounds]
        counts = Counter(outcome(r) for r in rounds)
        calls = sum(r.metric_calls for r in rounds)
        promoted = counts["promoted"]
        rows.append([
            config.label, config.judge, len(rounds), *(counts[o] for o in OUTCOMES),
            calls, calls / promoted if promoted else float("nan"),
            sum(r.lowered for r in rounds),
            median([u.gepa_calls for u in users]),
        ])
    return markdown(
        ["row", "judge", "rounds", *OUTCOMES, "metric calls", "calls per promotion",
         "promotions lowering held-out > noise", "gepa calls (median/user)"],
        rows, digits=1,
    )


def daily_table(results: Results) -> str:
    """Median served ratio after each nightly round, per seven-day row."""
    rows = {c: u for c, u in results.rows.items() if c.scenario == "seven-days"}
    if not rows:
        return ""
    days = max(len(u.rounds) for users in rows.values() for u in users)
    body = []
    for day in range(days):
        body.append([day, *(median([u.rounds[day].after for u in users if len(u.rounds) > day])
                            for users in rows.values())])
    return markdown(["day", *(f"{c.label} {c.judge}" for c in rows)], body)


_ID = re.compile(r"\b[0-9a-f]{12,}\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_STOPPED = re.compile(r" \(search stopped: (.*?)\)")


def _blank(text: str) -> str:
    return _NUMBER.sub("#", _ID.sub("<id>", text))


def normalize(message: str) -> tuple[str, str]:
    """(the decision, why the search stopped) with ids and numbers blanked out, so that messages
    of the same kind count together."""
    stopped = _STOPPED.search(message)
    why = stopped.group(1) if stopped else "-"
    return _blank(_STOPPED.sub("", message)), _blank(why)


def messages_table(results: Results) -> str:
    decisions: Counter[tuple[str, str]] = Counter()
    stops: Counter[tuple[str, str]] = Counter()
    for config, users in results.rows.items():
        for r in (r for u in users for r in u.rounds):
            decision, why = normalize(r.message)
            decisions[(config.scenario, decision)] += 1
            stops[(config.scenario, why)] += 1
    rows = [[scenario, "decision", text, n] for (scenario, text), n in decisions.most_common()]
    rows += [[scenario, "search stopped", text, n] for (scenario, text), n in stops.most_common()]
    return markdown(["scenario", "part", "message (numbers as #)", "rounds"], rows)


def feedback_table(results: Results) -> str:
    """What the users sent, and what the daemon's rubric made of it (items per user, medians)."""
    rows = []
    for config, users in results.rows.items():
        kinds: Counter[str] = Counter()
        for u in users:
            kinds.update(u.kinds)
        total = sum(kinds.values()) or 1
        rows.append([config.label, config.judge, total,
                     *(f"{kinds[k] / total:.0%}" for k in REACTIONS),
                     *(median([u.rubric.get(k, 0) for u in users]) for k in RUBRIC_ITEMS)])
    return markdown(["row", "judge", "feedback events", *REACTIONS,
                     *(f"rubric items: {k}" for k in RUBRIC_ITEMS)], rows, digits=1)


def report(results: Results) -> str:
    s = results.settings
    calls = ", ".join(f"{k} {v:,}" for k, v in sorted(results.model_calls.items()))
    parts = [
        f"### Served prompt vs gepa 0.1.4 ({s.users} users, held-out {s.n_test} requests each; "
        "score = held-out oracle score / ideal prompt's)",
        quality_table(results),
        "### Rounds",
        rounds_table(results),
    ]
    daily = daily_table(results)
    if daily:
        parts += ["### Seven days: median served ratio after each nightly round", daily]
    parts += [
        "### Run messages",
        messages_table(results),
        "### Feedback the simulated users sent, and the rubric the daemon kept (per user, median)",
        feedback_table(results),
        f"Model server calls: {calls}. Wall time per row: "
        + ", ".join(f"{c.label} {c.judge} {t:.0f} s" for c, t in results.wall_s.items()),
    ]
    return "\n\n".join(parts)
