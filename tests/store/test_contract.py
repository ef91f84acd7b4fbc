"""The store contract (`gepad/store/contract.py`): one behaviour suite that every backend passes.

Each test runs against the SQLite `Store` (a real file, its writer task running) and against
`MemoryStore`. A new backend joins by adding itself to the `store` fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import pytest

from gepad.deliveries import DeliveryRecord
from gepad.engine import candidate_id
from gepad.evaluator_set import EvaluatorSet, LogEntry, ModeSummary, TrackedEvaluator
from gepad.evaluators.calibration import Calibration
from gepad.feedback.event import FeedbackEvent
from gepad.feedback.validation import NewEvent, validate_event
from gepad.lineage import CandidateRecord, ServedChange, ServedState, human_edit_node
from gepad.llm import ModelSettings
from gepad.programs import BudgetCaps, EvolutionSettings, Program
from gepad.rubric import Rubric, RubricItem
from gepad.runs import Run, RunStatus
from gepad.store.contract import Lineage, StoreContract
from gepad.store.database import connect_writer
from gepad.store.ingest import IngestResult
from gepad.store.lineage import UnknownCandidateError
from gepad.store.memory import MemoryStore
from gepad.store.repository import Store
from gepad.store.runs import EventRow, StepCommit
from gepad.store.writer import Writer

pytestmark = pytest.mark.anyio

SEED = CandidateRecord(candidate_id({"system": "seed"}, (), "seed"), (), "seed",
                       {"system": "seed"}, "seed of program 'bot'", "", 0.0)


def seeds(program: str) -> CandidateRecord:
    return SEED


@dataclass
class Clock:
    now: float = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path,
                clock: Clock) -> AsyncIterator[StoreContract]:
    if request.param == "memory":
        yield MemoryStore(clock)
        return
    db = tmp_path / "db.sqlite3"
    conn = connect_writer(db)
    writer = Writer(conn)
    sqlite_store = Store(db, writer, clock)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        yield sqlite_store
        writer.close()
    sqlite_store.close()
    conn.close()


def event(event_id: str, *, user: str = "alice", program: str = "bot", text: str = "hello",
          at: float = 100.0) -> NewEvent:
    return validate_event(FeedbackEvent(event_id, user, program, "acceptance",
                                        input=(("user", text),), output="ok"), now=at)


def edit(event_id: str, text: str, *, user: str = "alice", at: float = 100.0) -> NewEvent:
    return validate_event(FeedbackEvent(event_id, user, "bot", "prompt_edit",
                                        edited_components={"system": text}), now=at)


def heard(store: StoreContract) -> list[ServedState]:
    """What the store's observers are told, each change checked to be committed by then."""
    told: list[ServedState] = []

    def observe(state: ServedState) -> None:
        # Committed: a fresh read already serves this version or, in a batch, a later one. A
        # failed check leaves the change out of `told` (ServedChanges logs and goes on).
        now = {(s.user_id, s.program): s.version for s in store.load_served()}
        assert now.get((state.user_id, state.program), 0) >= state.version
        told.append(state)

    store.served_changes.subscribe(observe)
    return told


async def serve(store: StoreContract, candidate: str, *, pinned: bool = False,
                reason: str = "rollback", user: str = "alice",
                unless_pinned: bool = False) -> ServedState | None:
    return await store.serve(user_id=user, program="bot", candidate=candidate, pinned=pinned,
                             reason=reason, actor="admin", note=f"to {candidate}", seed=SEED,
                             unless_pinned=unless_pinned)


# ---------------------------------------------------------------------- feedback


async def test_an_event_is_stored_once_however_often_it_is_sent(store: StoreContract) -> None:
    first = event("e1", text="first input")
    assert await store.record_events([first], seeds) == [
        IngestResult("e1", first.example_id, duplicate=False)]
    # The retry carries other content: the stored event stands and the result names its example.
    retry, other = event("e1", text="other input", at=300.0), event("e2", text="second", at=200.0)
    results = await store.record_events([retry, other, other], seeds)
    assert results == [IngestResult("e1", first.example_id, duplicate=True),
                       IngestResult("e2", other.example_id, duplicate=False),
                       IngestResult("e2", other.example_id, duplicate=True)]
    # Event ids are per user: bob's e1 is new.
    (bobs,) = await store.record_events([event("e1", user="bob")], seeds)
    assert not bobs.duplicate
    inputs = await store.round_inputs("alice", "bot", 0.0)
    assert [(row.event.event_id, row.example_id) for row in inputs.events] == [
        ("e1", first.example_id), ("e2", other.example_id)]
    assert sorted(e.example_id for e in inputs.examples) == sorted(
        [first.example_id, other.example_id])


async def test_a_failed_batch_of_events_stores_none_of_them(store: StoreContract) -> None:
    def no_seed(program: str) -> CandidateRecord:
        raise LookupError(program)

    told = heard(store)
    with pytest.raises(LookupError):
        await store.record_events([event("e1"), edit("e2", "Be brief.")], no_seed)
    assert not await store.has_history("alice", "bot")
    assert (await store.lineage("alice", "bot")).candidates == []
    assert (told, store.load_served()) == ([], [])
    # Nothing of it was kept: the same events are new when sent again.
    results = await store.record_events([event("e1"), edit("e2", "Be brief.")], seeds)
    assert [r.duplicate for r in results] == [False, False]


async def test_history_is_any_feedback_of_that_user_for_that_program(
    store: StoreContract,
) -> None:
    assert not await store.has_history("alice", "bot")
    await store.record_events([edit("e1", "Be brief.")], seeds)
    await store.record_events([event("e2", user="bob", program="other")], seeds)
    assert await store.has_history("alice", "bot")
    assert await store.has_history("bob", "other")
    assert not await store.has_history("bob", "bot")
    assert not await store.has_history("alice", "other")


# ---------------------------------------------------------------------- lineage and serving


async def test_a_prompt_edit_is_served_as_a_human_edit_child_of_what_was_served(
    store: StoreContract,
) -> None:
    told = heard(store)
    await store.record_events([edit("e1", "Be brief.", at=100.0)], seeds)
    first = human_edit_node({"system": "Be brief."}, served=None, seed=SEED, event_id="e1",
                            at=100.0)
    (served,) = told
    assert served == ServedState("alice", "bot", first.candidate_id, {"system": "Be brief."}, 1,
                                 False, 100.0)

    await store.record_events([edit("e2", "Be briefer.", at=200.0)], seeds)
    second = human_edit_node({"system": "Be briefer."}, served=served, seed=SEED,
                             event_id="e2", at=200.0)
    assert second.parent_ids == (first.candidate_id,)
    lineage = await store.lineage("alice", "bot")
    assert lineage.candidates == [SEED, first, second]
    assert lineage.served == told[-1] == ServedState(
        "alice", "bot", second.candidate_id, {"system": "Be briefer."}, 2, False, 200.0)
    assert lineage.changes == [
        ServedChange(1, SEED.candidate_id, first.candidate_id, "human_edit", "user:alice", False,
                     "event e1", 100.0),
        ServedChange(2, first.candidate_id, second.candidate_id, "human_edit", "user:alice",
                     False, "event e2", 200.0),
    ]
    assert len(told) == 2
    assert store.load_served() == [lineage.served]
    # An edit is feedback: the user now has history, and rounds read it (the rubric does), though
    # it is no example.
    assert await store.has_history("alice", "bot")
    inputs = await store.round_inputs("alice", "bot", 0.0)
    assert [(row.event.event_id, row.example_id, dict(row.event.edited_components))
            for row in inputs.events] == [("e1", "", {"system": "Be brief."}),
                                          ("e2", "", {"system": "Be briefer."})]
    assert inputs.examples == []


async def test_edits_in_one_batch_each_become_a_version_told_in_order(
    store: StoreContract,
) -> None:
    told = heard(store)
    await store.record_events([edit("e1", "One.", at=100.0), event("e2"),
                               edit("e3", "Bob's.", user="bob", at=110.0),
                               edit("e4", "Two.", at=120.0)], seeds)
    assert [(s.user_id, s.components["system"], s.version) for s in told] == [
        ("alice", "One.", 1), ("bob", "Bob's.", 1), ("alice", "Two.", 2)]
    served = await store.lineage("alice", "bot")
    assert served.served == told[-1]
    assert served.candidates[-1].parent_ids == (told[0].candidate_id,)


async def test_a_resent_edit_changes_nothing(store: StoreContract) -> None:
    await store.record_events([edit("e1", "Be brief.")], seeds)
    before = await store.lineage("alice", "bot")
    told = heard(store)
    (result,) = await store.record_events([edit("e1", "Something else.", at=900.0)], seeds)
    assert result == IngestResult("e1", "", duplicate=True)
    assert (await store.lineage("alice", "bot"), told) == (before, [])


async def test_an_edit_keeps_the_pin(store: StoreContract) -> None:
    await serve(store, SEED.candidate_id, pinned=True)  # a rollback pins
    told = heard(store)
    await store.record_events([edit("e1", "Be brief.", at=300.0)], seeds)
    (state,) = told
    assert (state.components, state.pinned, state.version) == ({"system": "Be brief."}, True, 2)
    assert (await store.lineage("alice", "bot")).changes[-1].pinned


async def test_an_edit_that_asks_for_a_pin_is_served_pinned(store: StoreContract) -> None:
    told = heard(store)
    # A person's edit in a delivered file: pinned, so that evolution does not overwrite it.
    await store.record_events([replace(edit("e1", "In my words.", at=300.0), pin=True)], seeds)
    await store.record_events([edit("e2", "Bob's.", user="bob", at=310.0)], seeds)
    alice, bob = told
    assert (alice.components, alice.pinned, alice.version) == ({"system": "In my words."}, True, 1)
    assert not bob.pinned
    lineage = await store.lineage("alice", "bot")
    assert [(c.reason, c.pinned) for c in lineage.changes] == [("human_edit", True)]
    assert lineage.candidates[-1].origin == "human_edit"
    # The pin holds until an unpin: a promotion that respects pins changes nothing.
    assert await serve(store, SEED.candidate_id, reason="promotion", unless_pinned=True) is None


async def test_rollback_and_unpin_move_the_served_version_on_and_are_recorded(
    store: StoreContract, clock: Clock,
) -> None:
    await store.record_events([edit("e1", "Be brief.", at=100.0)], seeds)
    edited = (await store.lineage("alice", "bot")).served
    assert edited is not None
    told = heard(store)

    clock.now = 6000.0
    rolled = await serve(store, SEED.candidate_id, pinned=True, reason="rollback")
    assert rolled == ServedState("alice", "bot", SEED.candidate_id, {"system": "seed"}, 2, True,
                                 6000.0)
    clock.now = 7000.0
    unpinned = await serve(store, SEED.candidate_id, pinned=False, reason="unpin")
    assert unpinned == replace(rolled, version=3, pinned=False, updated_at=7000.0)
    assert told == [rolled, unpinned]
    lineage = await store.lineage("alice", "bot")
    assert lineage.served == unpinned
    assert lineage.changes[1:] == [
        ServedChange(2, edited.candidate_id, SEED.candidate_id, "rollback", "admin", True,
                     f"to {SEED.candidate_id}", 6000.0),
        ServedChange(3, SEED.candidate_id, SEED.candidate_id, "unpin", "admin", False,
                     f"to {SEED.candidate_id}", 7000.0),
    ]
    # Rolling forward again is one more version, never a reused one.
    again = await serve(store, edited.candidate_id)
    assert again is not None and again.version == 4
    assert [c.version for c in (await store.lineage("alice", "bot")).changes] == [1, 2, 3, 4]


async def test_a_user_never_served_anything_moves_from_the_seed_at_version_0(
    store: StoreContract,
) -> None:
    assert (await store.lineage("bob", "bot")).served is None
    state = await serve(store, SEED.candidate_id, pinned=True, user="bob")
    assert state is not None and state.version == 1
    lineage = await store.lineage("bob", "bot")
    assert lineage.candidates == [SEED]  # the seed joined the lineage: it can be rolled back to
    assert [(c.version, c.from_candidate_id, c.to_candidate_id) for c in lineage.changes] == [
        (1, SEED.candidate_id, SEED.candidate_id)]
    assert (await store.lineage("alice", "bot")).candidates == []


async def test_unless_pinned_changes_nothing_while_the_prompt_is_pinned(
    store: StoreContract,
) -> None:
    await store.record_events([edit("e1", "Be brief.")], seeds)
    edited = (await store.lineage("alice", "bot")).served
    assert edited is not None
    assert await serve(store, SEED.candidate_id, pinned=True) is not None
    pinned = await store.lineage("alice", "bot")
    told = heard(store)
    assert await serve(store, edited.candidate_id, reason="promotion", unless_pinned=True) is None
    assert (await store.lineage("alice", "bot"), told) == (pinned, [])

    await serve(store, SEED.candidate_id, pinned=False, reason="unpin")
    promoted = await serve(store, edited.candidate_id, reason="promotion", unless_pinned=True)
    assert promoted is not None
    assert (promoted.candidate_id, promoted.version, promoted.pinned) == (
        edited.candidate_id, 4, False)


async def test_a_candidate_the_user_does_not_have_is_refused_and_nothing_changes(
    store: StoreContract,
) -> None:
    told = heard(store)
    with pytest.raises(UnknownCandidateError):
        await serve(store, "not-a-node")
    # Not even the seed joined the lineage: the refused change left no trace.
    assert await store.lineage("alice", "bot") == Lineage([], None, [])
    assert store.load_served() == []
    await store.record_events([edit("e1", "Be brief.")], seeds)
    before = await store.lineage("alice", "bot")
    # bob's node is not alice's.
    await store.record_events([edit("e2", "Bob's.", user="bob")], seeds)
    bobs = (await store.lineage("bob", "bot")).served
    assert bobs is not None
    with pytest.raises(UnknownCandidateError):
        await serve(store, bobs.candidate_id, pinned=True)
    assert await store.lineage("alice", "bot") == before
    assert len(told) == 2  # the two edits, nothing for the refusals


# ---------------------------------------------------------------------- programs


async def test_a_program_reads_back_as_it_was_upserted(store: StoreContract) -> None:
    assert store.load_programs() == []
    program = Program(
        name="bot", seed_components={"system": "seed", "style": "terse"},
        task_model=ModelSettings("openai/gpt", api_base="http://127.0.0.1:9/v1",
                                 api_key_env="KEY", params={"temperature": 0.2}),
        evolution=EvolutionSettings(minibatch_size=3, promotion_margin=0.1,
                                    must_match=("ok",)),
        budget=BudgetCaps(max_tokens_per_day=1000, max_cost_usd_per_round=0.5),
        description="a bot", revision=1, updated_at=10.0,
    )
    other = Program(name="other", seed_components={"system": "hi"}, revision=1, updated_at=11.0)
    await store.upsert_program(program)
    await store.upsert_program(other)
    assert sorted(store.load_programs(), key=lambda p: p.name) == [program, other]
    changed = replace(program, description="a better bot", revision=2, updated_at=20.0)
    await store.upsert_program(changed)
    assert sorted(store.load_programs(), key=lambda p: p.name) == [changed, other]


# ---------------------------------------------------------------------- rounds


def run(run_id: str, started_at: float, *, user: str = "alice",
        status: RunStatus = "queued") -> Run:
    return Run(run_id=run_id, user_id=user, program="bot", trigger="manual", status=status,
               started_at=started_at, budget=BudgetCaps(max_tokens_per_round=500), seed=7)


async def test_runs_are_listed_newest_first_and_pending_ones_oldest_first(
    store: StoreContract,
) -> None:
    for r in (run("r2", 200.0), run("r1", 100.0), run("r3", 250.0, status="running"),
              run("r0", 200.0, status="succeeded"), run("rb", 300.0, user="bob")):
        await store.insert_run(r)
    assert await store.get_run("r1") == run("r1", 100.0)
    assert await store.get_run("missing") is None
    # Runs started at the same time are ordered by id, so a page boundary is stable.
    assert [r.run_id for r in await store.list_runs("alice", "bot", 10)] == [
        "r3", "r2", "r0", "r1"]
    assert [r.run_id for r in await store.list_runs("alice", "bot", 2)] == ["r3", "r2"]
    assert [r.run_id for r in await store.list_runs("bob", "bot", 10)] == ["rb"]
    assert [r.run_id for r in await store.pending_runs()] == ["r1", "r2", "r3", "rb"]


async def test_a_step_is_committed_whole_and_a_finished_run_is_no_longer_pending(
    store: StoreContract,
) -> None:
    started = run("r1", 100.0)
    await store.insert_run(started)
    node = CandidateRecord("c1", (SEED.candidate_id,), "reflection", {"system": "Be brief."},
                           "shorter", "", 150.0)
    step = replace(started, status="running", iterations=1, metric_calls=4, tokens=90)
    await store.commit_step(StepCommit(
        step, '{"step": 1}', [node],
        [("h1", "x1", "rules@1", '{"score": 1}'), ("h1", "x2", "rules@1", '{"score": 0}')],
        at=150.0,
    ))
    # The same node and evaluations again (a resumed step) are not stored twice; the state is
    # replaced.
    step2 = replace(step, iterations=2, metric_calls=6)
    await store.commit_step(StepCommit(
        step2, '{"step": 2}', [node, replace(node, candidate_id="c2", created_at=160.0)],
        [("h1", "x1", "rules@1", '{"score": 1, "again": true}'),
         ("h1", "x1", "rules@2", '{"score": 0.5}')],
        at=160.0,
    ))
    assert await store.engine_state("alice", "bot") == '{"step": 2}'
    assert await store.engine_state("alice", "other") is None
    assert await store.get_run("r1") == step2
    assert [r.run_id for r in await store.pending_runs()] == ["r1"]  # updated, not finished
    nodes = (await store.lineage("alice", "bot")).candidates
    assert [(c.candidate_id, c.run_id) for c in nodes] == [("c1", "r1"), ("c2", "r1")]
    assert sorted((await store.round_inputs("alice", "bot", 0.0)).evaluations) == sorted(
        ['{"score": 1}', '{"score": 0}', '{"score": 0.5}'])

    final = replace(step2, status="succeeded", finished_at=180.0, message="promoted c2")
    await store.finish_run(final)
    assert await store.get_run("r1") == final
    assert await store.pending_runs() == []
    assert await store.list_runs("alice", "bot", 5) == [final]


async def test_a_round_starts_from_its_users_examples_events_and_todays_runs(
    store: StoreContract,
) -> None:
    events = [event("e1", text="b", at=10.0), event("e2", text="a", at=20.0),
              event("e3", text="b", at=30.0), edit("e4", "Be brief.", at=40.0),
              event("e5", text="a", user="bob", at=50.0),
              event("e6", text="a", program="other", at=60.0)]
    await store.record_events(events, seeds)
    for r in (run("yesterday", 10.0), run("today", 1000.0), run("bobs", 1000.0, user="bob")):
        await store.insert_run(r)

    inputs = await store.round_inputs("alice", "bot", day_start=1000.0)
    examples = sorted(events[:2], key=lambda ev: ev.example_id)  # e3 folds into e1's example
    assert [(e.example_id, e.split, e.input_json) for e in inputs.examples] == [
        (ev.example_id, ev.split, ev.input_json) for ev in examples]
    # In arrival order, each as the client sent it; the edit has no example (the rubric reads
    # it), bob's and the other program's events are not this round's.
    assert inputs.events == [
        EventRow(ev.example_id, FeedbackEvent(ev.event_id, "alice", "bot", "acceptance",
                                              input=(("user", text),), output="ok"))
        for ev, text in ((events[0], "b"), (events[1], "a"), (events[2], "b"))
    ] + [EventRow("", FeedbackEvent("e4", "alice", "bot", "prompt_edit",
                                    edited_components={"system": "Be brief."}))]
    assert (inputs.state_json, inputs.evaluations) == (None, [])
    assert [r.run_id for r in inputs.runs_today] == ["today"]


async def test_a_users_rubric_is_kept_per_program_and_read_with_the_rounds_inputs(
    store: StoreContract,
) -> None:
    assert await store.rubric("alice", "bot") == Rubric()
    rubric = Rubric((RubricItem("no_emojis", "This user wants answers without emojis.",
                                "all requests", ("e1", "e7")),), events_seen=7, updated_at=9.5)
    await store.save_rubric("alice", "bot", rubric)
    assert await store.rubric("alice", "bot") == rubric
    assert (await store.round_inputs("alice", "bot", day_start=0.0)).rubric == rubric
    assert await store.rubric("alice", "other") == Rubric()
    assert await store.rubric("bob", "bot") == Rubric()
    brief = RubricItem("brief", "This user wants short answers.", "billing questions", ("e9",))
    grown = Rubric((*rubric.items, brief), 9, 12.0)
    await store.save_rubric("alice", "bot", grown)
    assert await store.rubric("alice", "bot") == grown


async def test_a_users_evaluators_are_kept_per_program_and_rubrics_read_per_program(
    store: StoreContract,
) -> None:
    assert await store.evaluator_set("alice", "bot") == EvaluatorSet()
    tracked = TrackedEvaluator("fm_brief", "rule", "generated", "brief", "rules:fm_brief:1",
                               "gating", "MCC 0.80 on 12 held-out labels >= 0.6",
                               Calibration(5, 1, 6, 0), 9.0, 24,
                               (("max_chars", ("400",)),))
    evaluators = EvaluatorSet((tracked,), (ModeSummary("brief", "short", "all requests",
                                                       ("e1",), 12, 3),),
                              (LogEntry(9.0, "generated"),), 12, 9.0)
    await store.save_evaluator_set("alice", "bot", evaluators)
    assert await store.evaluator_set("alice", "bot") == evaluators
    assert await store.evaluator_set("alice", "other") == EvaluatorSet()
    assert await store.evaluator_set("bob", "bot") == EvaluatorSet()
    replaced = EvaluatorSet((), (), (), 0, 10.0)
    await store.save_evaluator_set("alice", "bot", replaced)
    assert await store.evaluator_set("alice", "bot") == replaced

    brief = Rubric((RubricItem("brief", "short", "all requests", ("e1",)),), 1, 1.0)
    await store.save_rubric("alice", "bot", brief)
    await store.save_rubric("bob", "bot", brief)
    await store.save_rubric("carol", "other", brief)
    assert await store.program_rubrics("bot") == {"alice": brief, "bob": brief}
    assert await store.program_rubrics("none") == {}


async def test_users_with_feedback_after_their_last_round_started_are_due(
    store: StoreContract,
) -> None:
    assert await store.users_with_new_events() == []
    await store.record_events([event("e1", at=100.0), event("e2", user="bob", at=100.0)], seeds)
    assert sorted(await store.users_with_new_events()) == [("alice", "bot"), ("bob", "bot")]
    await store.insert_run(run("r1", 150.0))
    assert await store.users_with_new_events() == [("bob", "bot")]
    # Feedback received as bob's round started was that round's to read.
    await store.insert_run(run("rb", 100.0, user="bob"))
    assert await store.users_with_new_events() == []
    await store.record_events([edit("e3", "Be brief.", at=200.0)], seeds)
    assert await store.users_with_new_events() == [("alice", "bot")]


# ---------------------------------------------------------------------- adapters' deliveries


async def test_a_targets_delivery_is_kept_per_user_and_program_and_replaced(
    store: StoreContract,
) -> None:
    assert store.load_deliveries() == []
    first = DeliveryRecord("repo", "alice", "bot", "c1", 1, 100.0)
    others = [DeliveryRecord("hook", "alice", "bot", "c1", 1, 101.0),
              DeliveryRecord("repo", "bob", "bot", "c9", 4, 102.0),
              DeliveryRecord("repo", "alice", "other", "c5", 2, 103.0)]
    for record in (first, *others):
        await store.record_delivery(record)
    newer = DeliveryRecord("repo", "alice", "bot", "c2", 2, 200.0)
    await store.record_delivery(newer)
    assert store.load_deliveries() == [others[0], newer, others[2], others[1]]
