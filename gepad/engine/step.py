"""One engine step: catch-up, a merge when one is due, or a reflective mutation.

`step` is pure with respect to its inputs: it never mutates the state it is given, reads
evaluations only through the store, and returns the new state together with everything the
daemon must commit (new candidates, new evaluations, updated budgets). Resuming from any
returned state, with a store holding the committed evaluations, reproduces an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import anyio
import numpy as np

from .budget import Budget, Ledger
from .config import EngineConfig
from .dataset import Dataset
from .frontier import frontier_of
from .merge import build_merge_prompt, eligible_pairs, pair_key, plan_merge
from .model import CallFailure, Candidate, Evaluation, Example, Usage
from .progressive import Race
from .reflection import Record, build_reflection_prompt, parse_proposal
from .rollouts import Scored, Session, score
from .sampler import next_minibatch
from .scores import ScoreMatrix
from .seams import Reply, Seams
from .state import EngineState
from .strategies import Strategies

Event = Literal[
    "accepted", "rejected", "merge", "skipped", "budget_exhausted", "no_data", "catch_up", "error"
]
Action = Literal["reflection", "merge", "catch_up", "none"]


DEFAULT_STRATEGIES = Strategies()
# The most times a race looks at a candidate between waves of its val rollouts (`_wave_size`).
MAX_WAVES = 16


@dataclass(frozen=True)
class StepResult:
    """What a step did. The daemon commits `state`, `new_candidates`, `new_evaluations` and
    `budgets` in one transaction, then passes `state` and `budgets` to the next step."""

    state: EngineState
    event: Event
    detail: str
    action: Action
    new_candidates: tuple[Candidate, ...]
    new_evaluations: tuple[Evaluation, ...]
    budgets: tuple[Budget, ...]
    usage: Usage
    metric_calls: int
    errors: tuple[CallFailure, ...] = ()
    # The candidate that joined the pool in this step, if any (reflection or merge).
    accepted_id: str | None = None


class _Work:
    """Copy-on-write view of an EngineState for the duration of one step."""

    def __init__(self, state: EngineState) -> None:
        self.base = state
        self.candidates = list(state.candidates)
        self.index = {c.id: i for i, c in enumerate(self.candidates)}
        self._scores = state.scores
        self._owned = False
        self.sampler = state.sampler
        self.pending = list(state.pending_val)
        self.partial = set(state.partial_val)
        self.cursor = state.component_cursor
        self.merges = state.merges
        self.iteration = state.iteration
        self.round_iterations = state.round_iterations
        self.rng = state.rng()
        self.round_failed = set(state.round_failed)
        self.new_candidates: list[Candidate] = []
        self._hashes: set[str] | None = None
        self.scorer_version = state.scorer_version

    @property
    def scores(self) -> ScoreMatrix:
        return self._scores

    def writable(self) -> ScoreMatrix:
        if not self._owned:
            self._scores = self._scores.copy()
            self._owned = True
        return self._scores

    def has_content(self, candidate: Candidate) -> bool:
        if self._hashes is None:
            self._hashes = {c.content_hash for c in self.candidates}
        return candidate.content_hash in self._hashes

    def add(self, candidate: Candidate) -> int:
        row = self.writable().add_row()
        self.candidates.append(candidate)
        self.index[candidate.id] = row
        if self._hashes is not None:
            self._hashes.add(candidate.content_hash)
        self.new_candidates.append(candidate)
        return row

    def build(self, session: Session) -> EngineState:
        base = self.base
        return replace(
            base,
            candidates=tuple(self.candidates),
            scores=self._scores,
            rng_state=self.rng.bit_generator.state,
            sampler=self.sampler,
            pending_val=tuple(self.pending),
            partial_val=frozenset(self.partial),
            component_cursor=self.cursor,
            merges=self.merges,
            iteration=self.iteration,
            round_iterations=self.round_iterations,
            usage=base.usage + session.ledger.usage,
            metric_calls=base.metric_calls + session.ledger.metric_calls,
            high_water=dict(sorted(session.high_water.items())),
            round_failed=frozenset(self.round_failed),
            scorer_version=self.scorer_version,
        )


def _result(
    work: _Work | None,
    state: EngineState,
    session: Session,
    event: Event,
    detail: str,
    action: Action,
    accepted_id: str | None = None,
) -> StepResult:
    """Builds the result. `work=None` returns `state` unchanged (nothing was spent or drawn)."""
    if work is None:
        new_state = state
        if session.ledger.metric_calls or session.ledger.usage.calls:
            new_state = replace(
                state,
                usage=state.usage + session.ledger.usage,
                metric_calls=state.metric_calls + session.ledger.metric_calls,
            )
        candidates: tuple[Candidate, ...] = ()
    else:
        new_state = work.build(session)
        candidates = tuple(work.new_candidates)
    return StepResult(
        state=new_state,
        event=event,
        detail=detail,
        action=action,
        new_candidates=candidates,
        new_evaluations=tuple(session.fresh.values()),
        budgets=session.ledger.budgets,
        usage=session.ledger.usage,
        metric_calls=session.ledger.metric_calls,
        errors=tuple(session.errors),
        accepted_id=accepted_id,
    )


def _begin(
    state: EngineState,
    dataset: Dataset,
    seams: Seams,
    config: EngineConfig,
    budgets: Sequence[Budget],
    limiter: anyio.CapacityLimiter | None,
) -> tuple[Session, _Work, list[tuple[int, int]]]:
    """A step's session and working copy, its val columns matched to the dataset, and the
    (row, column) pairs owed a val score."""
    session = Session(seams, config, Ledger(budgets), dict(state.high_water), limiter=limiter)
    work = _Work(state)
    _sync_columns(work, dataset, session)
    return session, work, _catch_up_pairs(work, dataset, session)


# ---------------------------------------------------------------------------- public entry points


async def step(
    state: EngineState,
    dataset: Dataset,
    seams: Seams,
    config: EngineConfig,
    budgets: Sequence[Budget] = (),
    *,
    limiter: anyio.CapacityLimiter | None = None,
    strategies: Strategies = DEFAULT_STRATEGIES,
) -> StepResult:
    """Advances the engine by one unit of work.

    In order: val catch-up when some candidate is owed val scores (new seeds or human edits, new
    or changed val examples on frontier candidates); else a merge when one is due; else one
    reflective mutation. `budgets` (e.g. this round's and today's) are all respected.
    """
    session, work, pairs = _begin(state, dataset, seams, config, budgets, limiter)
    if pairs:
        return await _catch_up(work, state, dataset, session, pairs)
    if not dataset.val_ids or not dataset.train_ids:
        missing = "val" if not dataset.val_ids else "train"
        return _result(work, state, session, "no_data", f"no {missing} examples", "none")
    if work.merges.due > 0:
        merged = await _merge(work, state, dataset, session, strategies)
        if merged is not None:
            return merged
    return await _reflect(work, state, dataset, session, strategies)


async def catch_up(
    state: EngineState,
    dataset: Dataset,
    seams: Seams,
    config: EngineConfig,
    budgets: Sequence[Budget] = (),
    *,
    limiter: anyio.CapacityLimiter | None = None,
) -> StepResult:
    """Only the catch-up part of `step`: scores pending candidates on val and frontier
    candidates on val examples they lack (new or changed), cache first, within budget, each
    until it is fully scored or cannot beat the best (unless val scoring is "full")."""
    session, work, pairs = _begin(state, dataset, seams, config, budgets, limiter)
    if not pairs:
        return _result(work, state, session, "skipped", "nothing to catch up", "catch_up")
    return await _catch_up(work, state, dataset, session, pairs)


# ---------------------------------------------------------------------------- val bookkeeping


def _sync_version(work: _Work, session: Session) -> None:
    """A new evaluator or task model makes every val score stale.

    Scores are reset; the frontier of the old scores is re-scored (lazily, by catch-up) and the
    rest of the pool keeps its lineage but no val scores, like any non-frontier candidate.
    """
    version = session.seams.scorer_version
    if work.scorer_version == version:
        return
    work.partial.clear()
    if work.scorer_version:
        front = frontier_of(work.scores, session.config.frontier)
        owed = [work.candidates[int(r)].id for r in front.members]
        work.pending += [c for c in owed if c not in work.pending]
        w = work.writable()
        for column, fingerprint in zip(w.columns, w.fingerprints, strict=True):
            w.reset_column(column, fingerprint)
    work.scorer_version = version


def _sync_columns(work: _Work, dataset: Dataset, session: Session) -> None:
    """Aligns the val columns with the dataset: new examples appended (sorted by id), changed
    ones reset, removed ones dropped."""
    _sync_version(work, session)
    matrix = work.scores
    target = dataset.val_signature
    if matrix.cached("synced_with") is target:
        return
    if matrix.signature == target:
        matrix.remember("synced_with", target)
        return
    cols = matrix.columns
    fps = dict(zip(cols, matrix.fingerprints, strict=True))
    present = set(dataset.val_ids)
    removed = [c for c in cols if c not in present]
    changed = [
        (c, dataset[c].fingerprint)
        for c in cols
        if c in present and dataset[c].fingerprint != fps[c]
    ]
    added = [(e, dataset[e].fingerprint) for e in dataset.val_ids if e not in fps]
    # Who can beat the best may have changed with the examples: every candidate given up on is
    # raced again if it is (or gets) on the frontier.
    work.partial.clear()
    w = work.writable()
    if removed:
        w.drop_columns(removed)
    for c, fp in changed:
        w.reset_column(c, fp)
    if added:
        w.add_columns(added)


def _fail_key(candidate: Candidate, example: Example, session: Session) -> str:
    return (
        f"{candidate.content_hash}|{example.id}|{example.fingerprint}|"
        f"{session.seams.scorer_version}"
    )


def _catch_up_pairs(
    work: _Work, dataset: Dataset, session: Session
) -> list[tuple[int, int]]:
    """(row, column) pairs owed a val score: pending rows first, then frontier rows."""
    matrix = work.scores
    if not matrix.columns:
        return []
    rows: list[int] = [work.index[c] for c in work.pending if c in work.index]
    front = frontier_of(matrix, session.config.frontier)
    seen = set(rows) | {work.index[c] for c in work.partial if c in work.index}
    rows += [int(r) for r in front.members if int(r) not in seen]
    if not rows:
        return []
    incomplete = matrix.cached("incomplete_rows")
    if incomplete is None:
        # One pass per matrix version; steps that write nothing reuse it.
        incomplete = np.isnan(matrix.aggregate).any(axis=1)
        matrix.remember("incomplete_rows", incomplete)
    rows = [r for r in rows if incomplete[r]]
    if not rows:
        return []
    missing = np.isnan(matrix.aggregate[rows])
    cols = matrix.columns
    out: list[tuple[int, int]] = []
    for i, j in zip(*np.nonzero(missing), strict=True):
        row, col = rows[int(i)], int(j)
        if work.round_failed and (
            _fail_key(work.candidates[row], dataset[cols[col]], session) in work.round_failed
        ):
            continue
        out.append((row, col))
    return out


async def _score_val(
    work: _Work, dataset: Dataset, session: Session, cells: Sequence[tuple[int, int]]
) -> Scored:
    """Scores (row, column) cells of the val matrix, affordable prefix first."""
    cols = work.scores.columns
    pairs = [(work.candidates[r], dataset[cols[c]]) for r, c in cells]
    scored = await score(session, pairs, partial=True)
    writable: ScoreMatrix | None = None
    for (row, col), evaluation in zip(cells, scored.results, strict=True):
        if evaluation is not None:
            writable = writable or work.writable()
            writable.set(row, col, evaluation.aggregate, evaluation.scores)
    for i in scored.failed:
        cand, ex = pairs[i]
        work.round_failed.add(_fail_key(cand, ex, session))
    return scored


def _refresh_pending(work: _Work) -> None:
    agg = work.scores.aggregate
    work.pending = [
        c for c in work.pending if c in work.index and bool(np.isnan(agg[work.index[c]]).any())
    ]


@dataclass
class _ValTally:
    """What scoring owed val cells did in one step, for the step's detail and event."""

    owed: int
    scored: int = 0
    failed: int = 0
    # Cells left unscored because the budget could not hold them.
    unaffordable: int = 0
    # Why each candidate given up on (see `progressive`) was.
    dropped: list[str] = field(default_factory=list)

    def add(self, scored: Scored) -> None:
        self.scored += sum(r is not None for r in scored.results)
        self.failed += len(scored.failed)
        self.unaffordable += scored.unaffordable

    def detail(self) -> str:
        text = f"scored {self.scored} of {self.owed} val cells"
        if self.failed:
            text += f", {self.failed} failed"
        if self.dropped:
            text += "; stopped scoring " + "; ".join(self.dropped)
        return text


async def _score_owed(
    work: _Work,
    dataset: Dataset,
    session: Session,
    cells: Sequence[tuple[int, int]],
    tally: _ValTally,
) -> None:
    """Scores owed val cells: with "full" val scoring all at once; else candidate by candidate,
    pending ones first, then frontier members by their val mean so far, best first (the likeliest
    best is completed first and becomes the bar the others are raced against)."""
    if session.config.val_scoring == "full":
        tally.add(await _score_val(work, dataset, session, cells))
        return
    owed: dict[int, list[int]] = {}
    for row, col in cells:
        owed.setdefault(row, []).append(col)
    pending = [work.index[c] for c in work.pending if work.index.get(c) in owed]
    members = sorted(set(owed) - set(pending), key=lambda r: (-_known_mean(work, r), r))
    order = pending + members
    for i, row in enumerate(order):
        await _score_row(work, dataset, session, row, owed[row], tally)
        if tally.unaffordable:
            tally.unaffordable += sum(len(owed[r]) for r in order[i + 1 :])
            return


def _known_mean(work: _Work, row: int) -> float:
    values = work.scores.aggregate[row]
    known = values[~np.isnan(values)]
    return float(known.mean()) if known.size else 0.0


async def _score_row(
    work: _Work,
    dataset: Dataset,
    session: Session,
    row: int,
    cols: Sequence[int],
    tally: _ValTally,
) -> None:
    """Scores one candidate on the val columns it is owed until it is fully scored, cannot beat
    the best (see `progressive`), or is out of budget. Cached columns come first: they are free.
    The rest go in an order drawn from the state's generator (so a resumed round draws the same),
    a wave at a time (see `_wave_size`)."""
    candidate = work.candidates[row]
    names = work.scores.columns
    cached = [
        c for c in cols if session.lookup(session.key(candidate, dataset[names[c]])) is not None
    ]
    if cached:
        tally.add(await _score_val(work, dataset, session, [(row, c) for c in cached]))
    done = set(cached)
    rest = [c for c in cols if c not in done]
    rest = [rest[int(i)] for i in work.rng.permutation(len(rest))]
    config = session.config
    race = Race(work.scores, row, config.progressive_confidence)
    wave = _wave_size(len(rest), config.max_concurrency)
    for start in range(0, len(rest), wave):
        if not race.can_beat_best(work.scores):
            work.pending = [c for c in work.pending if c != candidate.id]
            work.partial.add(candidate.id)
            tally.dropped.append(f"{candidate.id} {race.why_out(work.scores, config.frontier)}")
            return
        chunk = rest[start : start + wave]
        scored = await _score_val(work, dataset, session, [(row, c) for c in chunk])
        tally.add(scored)
        if scored.unaffordable:
            tally.unaffordable += len(rest) - start - len(chunk)
            return


def _wave_size(owed: int, concurrency: int) -> int:
    """Rollouts scored between two looks at a race: a multiple of `concurrency` (a smaller wave
    would leave workers idle), and large enough that a race has at most `MAX_WAVES` of them: on a
    thousand val examples, a wave per eight rollouts would spend more CPU starting waves than
    running the rollouts, to stop at most one wave (1/16 of val) sooner."""
    wanted = -(-owed // MAX_WAVES)
    return max(1, concurrency * -(-wanted // concurrency))


async def _catch_up(
    work: _Work,
    state: EngineState,
    dataset: Dataset,
    session: Session,
    cells: Sequence[tuple[int, int]],
) -> StepResult:
    tally = _ValTally(len(cells))
    await _score_owed(work, dataset, session, cells, tally)
    _refresh_pending(work)
    event: Event = "budget_exhausted" if tally.unaffordable else "catch_up"
    return _result(work, state, session, event, tally.detail(), "catch_up")


async def _admit(
    work: _Work, dataset: Dataset, session: Session, child: Candidate, *, schedule_merge: bool
) -> _ValTally:
    """Adds an accepted child to the pool and scores it on val (cache first, within budget,
    progressively unless configured otherwise)."""
    row = work.add(child)
    work.pending.append(child.id)
    cells = [(row, c) for c in range(len(work.scores.columns))]
    tally = _ValTally(len(cells))
    await _score_owed(work, dataset, session, cells, tally)
    _refresh_pending(work)
    if schedule_merge and session.config.max_merges > 0:
        work.merges = replace(work.merges, due=work.merges.due + 1)
    return tally


# ---------------------------------------------------------------------------- reflection


async def _reflect(
    work: _Work, state: EngineState, dataset: Dataset, session: Session, strategies: Strategies
) -> StepResult:
    config = session.config
    front = frontier_of(work.scores, config.frontier)
    if len(front) == 0:
        return _result(
            work, state, session, "skipped", "no candidate has val scores yet", "reflection"
        )
    rng = work.rng
    parent = work.candidates[strategies.parent.choose(front, rng)]
    component = strategies.component.choose(parent, work.cursor)
    work.cursor += 1
    batch_ids, work.sampler = next_minibatch(
        work.sampler, dataset.train_ids, config.minibatch_size, rng, dataset.train_set
    )
    batch = [dataset[e] for e in batch_ids]
    parent_pairs = [(parent, ex) for ex in batch]
    uncached = sum(session.lookup(session.key(parent, ex)) is None for ex in batch)
    need = session.rollout_unit().times(uncached + len(batch)) + session.allowance("reflection")
    if not session.ledger.fits(need):
        return _result(
            None, state, session, "budget_exhausted", "cannot afford a reflection iteration",
            "reflection",
        )
    work.iteration += 1
    work.round_iterations += 1
    parent_scored = await score(session, parent_pairs, partial=False)
    if parent_scored.unaffordable:
        return _result(None, state, session, "budget_exhausted", "parent rollouts", "reflection")
    if parent_scored.failed:
        return _result(work, state, session, "error", "parent rollouts failed", "reflection")
    parent_evals = [e for e in parent_scored.results if e is not None]
    if all(e.aggregate >= config.perfect_score for e in parent_evals):
        return _result(
            work, state, session, "skipped", f"parent {parent.id} is perfect on the minibatch",
            "reflection",
        )
    records = [
        Record(ex, ev.output, dict(ev.scores), ev.aggregate, ev.feedback, ev.trace)
        for ex, ev in zip(batch, parent_evals, strict=True)
    ]
    current = parent.components[component]
    prompt = build_reflection_prompt(component, current, records, config.max_quote_chars,
                                     rubric=dataset.rubric)
    reply = await _call_reflection(session, prompt)
    if reply is None:
        return _result(work, state, session, "budget_exhausted", "reflection call", "reflection")
    if isinstance(reply, str):
        return _result(work, state, session, "error", reply, "reflection")
    proposal = parse_proposal(reply, current, config.max_component_chars)
    if proposal.text is None:
        return _result(
            work, state, session, "skipped", f"proposal rejected: {proposal.rejection}",
            "reflection",
        )
    components = dict(parent.components)
    components[component] = proposal.text
    child = Candidate.create(
        components, (parent.id,), "reflection", proposal.rationale, session.seams.clock()
    )
    if child.id in work.index or work.has_content(child):
        return _result(
            work, state, session, "skipped", "proposal duplicates a pool candidate", "reflection"
        )
    child_scored = await score(session, [(child, ex) for ex in batch], partial=False)
    if child_scored.unaffordable:
        return _result(work, state, session, "budget_exhausted", "child rollouts", "reflection")
    if child_scored.failed:
        return _result(work, state, session, "error", "child rollouts failed", "reflection")
    parent_scores = [e.aggregate for e in parent_evals]
    child_scores = [e.aggregate for e in child_scored.results if e is not None]
    parent_sum, child_sum = sum(parent_scores), sum(child_scores)
    if not strategies.reflection.accepts(parent_scores, child_scores):
        return _result(
            work, state, session, "rejected",
            f"child {child_sum:.4f} vs parent {parent_sum:.4f} on minibatch {list(batch_ids)}: "
            "not accepted",
            "reflection",
        )
    val = await _admit(work, dataset, session, child, schedule_merge=True)
    detail = (
        f"child {child.id} of {parent.id} ({component}): minibatch {child_sum:.4f} > "
        f"{parent_sum:.4f}; {val.detail()}"
    )
    if val.unaffordable:
        detail += f"; {val.unaffordable} val rollouts pending (budget)"
        return _result(work, state, session, "budget_exhausted", detail, "reflection", child.id)
    return _result(work, state, session, "accepted", detail, "reflection", child.id)


async def _call_reflection(session: Session, prompt: str) -> Reply | str | None:
    """The reflection LM's reply; None when the budget cannot hold the call; a str on error."""
    reservation = session.ledger.reserve(session.allowance("reflection"))
    if reservation is None:
        return None
    try:
        reply = await session.seams.reflection.complete(prompt)
    except Exception as exc:
        extra = getattr(exc, "usage", None)
        if isinstance(extra, Usage):
            reservation.charge(0, extra)
        reservation.close()
        session.errors.append(CallFailure("reflection", "", f"{type(exc).__name__}: {exc}"))
        return f"reflection LM failed: {type(exc).__name__}: {exc}"
    reservation.charge(0, reply.usage)
    reservation.close()
    session.observe("reflection", reply.usage)
    return reply


# ---------------------------------------------------------------------------- merge


async def _merge(
    work: _Work, state: EngineState, dataset: Dataset, session: Session, strategies: Strategies
) -> StepResult | None:
    """A merge attempt, or None when none is possible (the due merge is then dropped)."""
    config = session.config
    if work.merges.this_round >= config.max_merges:
        work.merges = replace(work.merges, due=0)
        return None
    front = frontier_of(work.scores, config.frontier)
    view = work.build(session)
    pairs = eligible_pairs(view, [int(m) for m in front.members])
    if not pairs:
        work.merges = replace(work.merges, due=0)
        return None
    rng = work.rng
    a, b = pairs[int(rng.integers(len(pairs)))]
    plan = plan_merge(view, a, b)
    assert plan is not None  # eligible_pairs just checked it
    batch_ids, work.sampler = next_minibatch(
        work.sampler, dataset.train_ids, config.minibatch_size, rng, dataset.train_set
    )
    batch = [dataset[e] for e in batch_ids]
    parent_pairs = [(p, ex) for p in (plan.left, plan.right) for ex in batch]
    uncached = sum(session.lookup(session.key(p, ex)) is None for p, ex in parent_pairs)
    need = session.rollout_unit().times(uncached + len(batch)) + session.allowance(
        "reflection"
    ).times(len(plan.conflicts))
    if not session.ledger.fits(need):
        return _result(
            None, state, session, "budget_exhausted", "cannot afford a merge attempt", "merge"
        )
    # The attempt counts against the cap from here on, whatever its outcome.
    work.merges = replace(
        work.merges,
        attempted=work.merges.attempted | {pair_key(a, b)},
        due=work.merges.due - 1,
        total=work.merges.total + 1,
        this_round=work.merges.this_round + 1,
    )
    work.iteration += 1
    work.round_iterations += 1
    components = dict(plan.resolved)
    notes = [f"merge of {plan.left.id} and {plan.right.id} (common ancestor {plan.ancestor.id})"]
    for name, (anc_text, left_text, right_text) in sorted(plan.conflicts.items()):
        reply = await _call_reflection(
            session, build_merge_prompt(name, anc_text, left_text, right_text)
        )
        if reply is None:
            return _result(work, state, session, "budget_exhausted", "merge synthesis", "merge")
        if isinstance(reply, str):
            return _result(work, state, session, "error", reply, "merge")
        proposal = parse_proposal(
            reply, f"{left_text}\n{right_text}", config.max_component_chars, allow_unchanged=True
        )
        if proposal.text is None:
            return _result(
                work, state, session, "skipped",
                f"merge synthesis of {name} rejected: {proposal.rejection}", "merge",
            )
        components[name] = proposal.text
        if proposal.rationale:
            notes.append(f"{name}: {proposal.rationale}")
    child = Candidate.create(
        components, pair_key(a, b), "merge", "\n".join(notes), session.seams.clock()
    )
    if child.id in work.index or work.has_content(child):
        return _result(
            work, state, session, "skipped", "merge duplicates a pool candidate", "merge"
        )
    child_pairs = [(child, ex) for ex in batch]
    scored = await score(session, parent_pairs + child_pairs, partial=False)
    if scored.unaffordable:
        return _result(work, state, session, "budget_exhausted", "merge rollouts", "merge")
    if scored.failed:
        return _result(work, state, session, "error", "merge rollouts failed", "merge")
    aggregates = [e.aggregate for e in scored.results if e is not None]
    n = len(batch)
    left, right, mine = aggregates[:n], aggregates[n : 2 * n], aggregates[2 * n :]
    left_sum, right_sum, child_sum = sum(left), sum(right), sum(mine)
    if not strategies.merge.accepts(left, right, mine):
        return _result(
            work, state, session, "rejected",
            f"merge {child_sum:.4f} vs parents {left_sum:.4f}, {right_sum:.4f}: not accepted",
            "merge",
        )
    val = await _admit(work, dataset, session, child, schedule_merge=False)
    detail = f"merge {child.id} of {a} and {b}: minibatch {child_sum:.4f}; {val.detail()}"
    if val.unaffordable:
        detail += f"; {val.unaffordable} val rollouts pending (budget)"
        return _result(work, state, session, "budget_exhausted", detail, "merge", child.id)
    return _result(work, state, session, "merge", detail, "merge", child.id)

