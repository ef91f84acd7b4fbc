"""A round's first step after the rubric: keep the user's evaluators calibrated.

It builds the failure-mode inventory from the rubric and the labels, proposes an evaluator for
each mode that reached its label threshold (gepad/evaluators/generation.py), re-calibrates every
evaluator whose version changed (a new judge model or rubric), that saw enough new labels, or
whose calibration is older than the cadence, demotes a gating evaluator that new labels disagree
with, and says which evaluators decide promotion (`_deciding`): the gating ones, or at cold start
the built-in ones that are not off, saying so. An evaluator that is off decides nothing.

Calibration asks each evaluator about outputs people labelled, as a bare request (the input
only: the person's own comment would give the label away): on the labels outside the held-out
slice to choose its operating point (a judge's or a reference check's score below which it says
"fails"; a rule fails an output on any failed check), then on the held-out slice to measure it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from gepad.engine import ChatMessage, EvaluationError, Evaluator, Example, Usage
from gepad.evaluator_set import EvaluatorSet, Kind, ModeSummary, Origin, TrackedEvaluator
from gepad.evaluators import JudgeEvaluator, ReferenceEvaluator
from gepad.evaluators.calibration import (
    Calibration,
    Thresholds,
    calibrate,
    operating_point,
    status_for,
)
from gepad.evaluators.generation import RuleSpec, propose
from gepad.failure_modes import Labelled, labelled_outputs, passes, user_inventory
from gepad.feedback.event import FeedbackEvent
from gepad.llm import LLMClient
from gepad.programs import Program
from gepad.rounds.llm_seams import program_rules
from gepad.rubric import Rubric, RubricItem
from gepad.settings import EvaluatorSettings

__all__ = [
    "CalibrationPolicy",
    "CalibrationStep",
    "calibrate_evaluators",
    "calibration_policy",
    "mode_evaluator",
]

DAY = 86400.0
RULE_POINT = 1.0  # a rule's score is the share of its checks passed: any failed check fails


@dataclass(frozen=True, slots=True)
class CalibrationPolicy:
    enabled: bool = True  # off: every evaluator decides, as before calibration existed
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Labelled failures of a mode before it gets its own evaluator (and half as many accepted
    # outputs: without them a check cannot be told from one that flags everything).
    generate_after: int = 10
    recalibrate_after: int = 5  # new labels that make a calibration stale
    recalibrate_every_s: float = 7 * DAY
    drift_min_labels: int = 5
    drift_max_disagreement: float = 0.3  # share of new labels a gating evaluator may miss
    max_labels: int = 40  # per evaluator and calibration: bounds a judge's calls
    max_generated_per_round: int = 3
    max_judge_items: int = 3  # per-mode judges in the panel (each is a call per rollout)


def calibration_policy(settings: EvaluatorSettings) -> CalibrationPolicy:
    """The policy the config file's ``[evaluators]`` table sets."""
    return CalibrationPolicy(
        enabled=settings.calibrate,
        thresholds=Thresholds(settings.gating_mcc, settings.advisory_mcc, settings.min_labels),
        generate_after=settings.generate_after,
    )


@dataclass(frozen=True)
class CalibrationStep:
    evaluators: EvaluatorSet
    members: tuple[Evaluator, ...]  # generated evaluators to add to the panel
    deciding: tuple[str, ...] | None  # dimensions whose mean decides promotion; None: all
    note: str  # for the run's message
    usage: Usage
    log: tuple[str, ...] = ()  # what changed, as the run log and the set's log say it
    blocking: tuple[str, ...] = ()  # gating failure-mode evaluators: they only block regressions

    @property
    def reference_gates(self) -> bool:
        """Whether the reference check is calibrated to gate: only then may a drop in it block
        a promotion (corrections edit the served prompt's own outputs, so token overlap with
        them favours the served prompt)."""
        reference = self.evaluators.get("reference")
        return (self.deciding is not None and reference is not None
                and reference.status == "gating")


def mode_evaluator(tracked: TrackedEvaluator, item: RubricItem | None,
                   judge: LLMClient) -> Evaluator | None:
    """The panel member a generated evaluator stands for."""
    if tracked.kind == "rule":
        return RuleSpec.from_spec(tracked.spec_dict()).evaluator(tracked.name)
    if tracked.kind == "reference":
        return ReferenceEvaluator(name=tracked.name)
    if item is None:
        return None
    return JudgeEvaluator(judge, rubric=Rubric((item,)), name=tracked.name)


def _example(item: Labelled, reference: str | None) -> Example:
    messages = tuple(ChatMessage(r, c) for r, c in item.event.input)
    return Example(id=item.event.event_id, split="gate", input=messages, reference=reference)


class _Asker:
    """Asks evaluators about labelled outputs, once each, counting what it spent."""

    def __init__(self, references: dict[str, str]) -> None:
        self._references = references
        self.usage = Usage()
        self.errors = 0
        self._seen: dict[tuple[str, str], float | None] = {}

    async def scores(self, name: str, evaluator: Evaluator, outputs: Sequence[Labelled]
                     ) -> list[tuple[bool, float]]:
        """(person says fails, the evaluator's score) for each output the evaluator grades."""
        pairs = []
        for item in outputs:
            key = (name, item.event.event_id)
            if key not in self._seen:
                self._seen[key] = await self._ask(evaluator, item)
            score = self._seen[key]
            if score is not None:
                pairs.append((item.fails, score))
        return pairs

    async def flags(self, name: str, evaluator: Evaluator, outputs: Sequence[Labelled],
                    point: float) -> list[tuple[bool, bool]]:
        """(person says fails, evaluator says fails: its score is below ``point``)."""
        return [(fails, score < point)
                for fails, score in await self.scores(name, evaluator, outputs)]

    async def _ask(self, evaluator: Evaluator, item: Labelled) -> float | None:
        example = _example(item, self._references.get(item.event.event_id))
        try:
            verdict = await evaluator.evaluate(example, item.event.output)
        except EvaluationError as exc:
            self.usage = self.usage + exc.usage
            self.errors += 1
            return None
        self.usage = self.usage + verdict.usage
        if not verdict.scores:
            return None  # not applicable to this output (a reference check without one)
        return verdict.aggregate


def _slice(failing: Sequence[Labelled], passing: Sequence[Labelled], limit: int,
           held_out: bool = True) -> list[Labelled]:
    """Held-out labels (or the others), newest first, as balanced as the classes allow, at most
    ``limit``."""
    fails = [x for x in reversed(failing) if x.held_out == held_out]
    oks = [x for x in reversed(passing) if x.held_out == held_out]
    half = limit // 2
    take_f = min(len(fails), max(half, limit - len(oks)))
    take_p = min(len(oks), limit - take_f)
    return fails[:take_f] + oks[:take_p]


@dataclass(frozen=True)
class _Spec:
    """One evaluator to keep calibrated: what it is and which labels bear on it."""

    name: str
    kind: Kind
    origin: Origin
    mode: str
    evaluator: Evaluator
    failing: tuple[Labelled, ...]
    spec: tuple[tuple[str, tuple[str, ...]], ...] = ()


async def calibrate_evaluators(
    program: Program, rubric: Rubric, events: Sequence[FeedbackEvent],
    references: dict[str, str], previous: EvaluatorSet, judge: LLMClient,
    policy: CalibrationPolicy, now: float,
) -> CalibrationStep:
    labelled = labelled_outputs(events)
    accepted = passes(events)
    modes = user_inventory(rubric, events)
    items = {i.name: i for i in rubric.items}
    asker = _Asker(references)
    log: list[str] = []
    usage = Usage()

    specs = _builtins(program, rubric, judge, labelled)
    generated = [e for e in previous.evaluators if e.origin == "generated"]
    mode_by_name = {m.name: m for m in modes}
    made = 0
    for mode in modes:
        if mode.label_count < policy.generate_after or previous.covering(mode.name):
            continue
        if len(accepted) < policy.generate_after // 2:
            break  # without accepted outputs no evaluator can be told from "flag everything"
        if made == policy.max_generated_per_round:
            break
        made += 1
        proposal = await propose(judge, mode, accepted, policy.thresholds)
        usage = usage + proposal.usage
        name = f"fm_{mode.name}"
        tracked = TrackedEvaluator(name, proposal.kind, "generated", mode.name,  # type: ignore[arg-type]
                                   "", "advisory", "not calibrated yet",
                                   spec=proposal.rule.spec() if proposal.rule else ())
        generated.append(tracked)
        log.append(f"generated {proposal.kind} evaluator {name} for failure mode "
                   f"{mode.name}: {proposal.why}")
    judges = 0
    for tracked in generated:
        mode_ = mode_by_name.get(tracked.failure_mode)
        if mode_ is None:
            continue  # the rubric no longer has this mode
        if tracked.kind == "judge":
            if judges == policy.max_judge_items:
                continue
            judges += 1
        member = mode_evaluator(tracked, items.get(tracked.failure_mode), judge)
        if member is not None:
            specs.append(_Spec(tracked.name, tracked.kind, "generated", mode_.name, member,
                               mode_.failures, tracked.spec))

    kept: list[TrackedEvaluator] = []
    for spec in specs:
        before = previous.get(spec.name)
        tracked, said = await _keep_calibrated(spec, before, accepted, labelled, asker,
                                               policy, now)
        kept.append(tracked)
        log += said
    usage = usage + asker.usage
    summaries = tuple(ModeSummary(m.name, m.description, m.scope, m.evidence, m.label_count,
                                  m.corrections) for m in modes)
    current = EvaluatorSet(tuple(kept), summaries, previous.log, len(accepted), now)
    current = current.with_log(now, *log)
    off = {e.name for e in current.evaluators if e.status == "off"}
    members = tuple(s.evaluator for s in specs if s.origin == "generated" and s.name not in off)
    deciding, blocking, note = _deciding(current, policy)
    if asker.errors:
        note += f" ({asker.errors} calibration verdicts failed and were left out)"
    return CalibrationStep(current, members, deciding, note, usage, tuple(log), blocking)


def _builtins(program: Program, rubric: Rubric, judge: LLMClient,
              labelled: Sequence[Labelled]) -> list[_Spec]:
    failing = tuple(x for x in labelled if x.fails)
    specs = [
        _Spec("reference", "reference", "built-in", "", ReferenceEvaluator(), failing),
        _Spec("judge", "judge", "built-in", "", JudgeEvaluator(judge, rubric=rubric), failing),
    ]
    rules = program_rules(program)
    if rules is not None:
        specs.append(_Spec("rules", "rule", "configured", "", rules, failing))
    return specs


def _stale(before: TrackedEvaluator | None, version: str, labels: int,
           policy: CalibrationPolicy, now: float) -> str:
    """Why a calibration must be redone; empty when it still holds."""
    if before is None or not before.calibrated_at:
        return "first calibration"
    if before.version != version:
        return "its version changed (a new model, rubric or rule)"
    if labels - before.labels_seen >= policy.recalibrate_after:
        return f"{labels - before.labels_seen} new labels"
    if now - before.calibrated_at >= policy.recalibrate_every_s:
        return "its calibration is due"
    return ""


async def _keep_calibrated(spec: _Spec, before: TrackedEvaluator | None,
                           accepted: Sequence[Labelled], labelled: Sequence[Labelled],
                           asker: _Asker, policy: CalibrationPolicy, now: float
                           ) -> tuple[TrackedEvaluator, list[str]]:
    version = spec.evaluator.version
    why = _stale(before, version, len(labelled), policy, now)
    if not why and before is not None:
        return replace(before, spec=spec.spec), []
    point = RULE_POINT if spec.kind == "rule" else operating_point(await asker.scores(
        spec.name, spec.evaluator,
        _slice(spec.failing, accepted, policy.max_labels, held_out=False)))
    outputs = _slice(spec.failing, accepted, policy.max_labels)
    calibration = calibrate(await asker.flags(spec.name, spec.evaluator, outputs, point))
    status, reason = status_for(calibration, policy.thresholds)
    if spec.origin == "configured":
        status, reason = "gating", f"configured by the operator ({reason})"
    said = []
    if before is not None and before.status == "gating" and status == "gating":
        drift = await _drift(spec, before, accepted, asker, policy, point)
        if drift is not None:
            status, reason = "advisory", drift
            said.append(f"demoted {spec.name} to advisory: {drift}")
    tracked = TrackedEvaluator(spec.name, spec.kind, spec.origin, spec.mode, version, status,
                               reason, calibration, now, len(labelled), spec.spec, point)
    if before is None or before.status != status or before.version != version:
        said.append(f"calibrated {spec.name} ({why}): {status}, {reason}")
    return tracked, said


async def _drift(spec: _Spec, before: TrackedEvaluator, accepted: Sequence[Labelled],
                 asker: _Asker, policy: CalibrationPolicy, point: float) -> str | None:
    """Why new labels say a gating evaluator no longer agrees with people, if they do."""
    new = [x for x in (*spec.failing, *accepted) if x.seq >= before.labels_seen]
    if len(new) < policy.drift_min_labels:
        return None
    agreement: Calibration = calibrate(await asker.flags(spec.name, spec.evaluator, new, point))
    if agreement.n < policy.drift_min_labels:
        return None
    share = agreement.disagreements / agreement.n
    if share <= policy.drift_max_disagreement:
        return None
    return (f"drift: it disagreed with {agreement.disagreements} of {agreement.n} new labels "
            f"(more than {policy.drift_max_disagreement:.0%})")


def _deciding(current: EvaluatorSet, policy: CalibrationPolicy
              ) -> tuple[tuple[str, ...] | None, tuple[str, ...], str]:
    """Which evaluators measure a candidate's gain (their mean is the gate's), which may only
    block a regression, and the run's note saying so. Only gating evaluators decide; at cold
    start (nothing gates) the built-in ones that are not off.

    An evaluator of one failure mode speaks for that mode only: next to a gating evaluator of
    the whole output (the judge, the reference check, configured rules), which measures the
    gain, it blocks a candidate that regresses on its mode and is not averaged in. The
    reference check never decides alone: corrections are edits of the served prompt's own
    outputs, so on them it favours the served prompt whatever a candidate does better."""
    if not policy.enabled:
        return None, (), ""

    def names(status: str, generated: bool) -> tuple[str, ...]:
        return tuple(e.name for e in current.evaluators
                     if e.status == status and (e.origin == "generated") == generated)

    whole, modes = names("gating", False), names("gating", True)
    if set(whole) - {"reference"}:
        blocking = (f"; {', '.join(modes)} may block a regression on its failure mode"
                    if modes else "")
        return whole, modes, (f" (promotion decided by gating evaluators: {', '.join(whole)}"
                              f"{blocking})")
    judge = current.get("judge")
    why_judge = f"the judge is {judge.status}: {judge.reason}" if judge else "no judge"
    if modes:  # only gating evaluators decide: here, the failure modes' own
        measure = (*whole, *modes)
        return measure, (), (f" (promotion decided by gating evaluators: {', '.join(measure)}; "
                             f"{why_judge})")
    # Cold start: nothing gates yet; the built-in evaluators that are not off measure the gain,
    # as before calibration existed.
    cold = tuple(e.name for e in current.evaluators
                 if e.origin != "generated" and e.status != "off")
    if set(cold) - {"reference"}:
        return cold, (), (" (cold start: no evaluator is calibrated to gate yet; promotion "
                          f"decided by {', '.join(cold)})")
    return (), (), (f"no evaluator can measure a new prompt's gain yet: {why_judge}; the "
                    "reference check alone cannot (corrections edit the served prompt's own "
                    "outputs, so it favours them)")
