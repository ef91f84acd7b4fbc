from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import struct_pb2

from gepad.errors import InvalidArgument
from gepad.llm import ModelSettings
from gepad.programs import (
    BudgetCaps,
    EvolutionSettings,
    Program,
    ProgramRegistry,
    program_from_json,
    program_to_json,
    validate_program,
)
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon

FULL = Program(
    name="editor", seed_components={"system": "Be kind.", "style": "Short."},
    task_model=ModelSettings("openai/gpt-x", api_base="http://127.0.0.1:1/v1",
                             api_key_env="MY_KEY", params={"temperature": 0.2}),
    judge_model=ModelSettings("openai/judge"),
    evolution=EvolutionSettings(minibatch_size=4, promotion_margin=0.05, must_match=("^Hi",),
                                max_output_chars=300),
    budget=BudgetCaps(max_metric_calls_per_round=80, max_cost_usd_per_day=1.5),
    description="the editor's assistant", revision=3, updated_at=1700000000.5,
)


def test_a_program_comes_back_whole_from_its_stored_form() -> None:
    assert program_from_json(program_to_json(FULL), revision=3, updated_at=1700000000.5) == FULL


def test_a_program_stored_by_an_older_gepad_as_protobuf_json_still_reads() -> None:
    old = {"name": "editor", "seedComponents": {"system": "Be kind."},
           "taskModel": {"model": "openai/gpt-x", "apiKeyEnv": "MY_KEY",
                         "params": {"temperature": 0.2}},
           "evolution": {"minibatchSize": 4, "mustMatch": ["^Hi"], "promotionMargin": 0.05},
           "budget": {"maxMetricCallsPerRound": "80"}, "revision": "3",
           "updatedAt": "2023-11-14T22:13:20.500Z"}
    program = program_from_json(json.dumps(old), revision=3, updated_at=1.0)
    assert program == Program(
        name="editor", seed_components={"system": "Be kind."},
        task_model=ModelSettings("openai/gpt-x", api_key_env="MY_KEY",
                                 params={"temperature": 0.2}),
        evolution=EvolutionSettings(minibatch_size=4, must_match=("^Hi",), promotion_margin=0.05),
        budget=BudgetCaps(max_metric_calls_per_round=80), revision=3, updated_at=1.0,
    )


def test_validation_drops_what_only_the_daemon_sets_and_names_what_is_wrong() -> None:
    clean = validate_program(FULL)
    assert (clean.revision, clean.updated_at) == (0, 0.0)
    with pytest.raises(InvalidArgument, match=r"judge_model\.api_key_env"):
        validate_program(Program("p", {"system": "s"}, judge_model=ModelSettings(
            "m", api_key_env="sk-123")))


def test_the_registry_builds_each_programs_seed_once_and_replaces_it_on_put() -> None:
    registry = ProgramRegistry([FULL])
    seed = registry.seed("editor")
    assert seed is not None and seed.components == FULL.seed_components
    assert seed.created_at == FULL.updated_at and "revision 3" in seed.rationale
    registry.put(Program("editor", {"system": "New."}, revision=4))
    assert registry.seed("editor").components == {"system": "New."}  # type: ignore[union-attr]
    assert [p.name for p in registry.all()] == ["editor"] and registry.get("nope") is None


BAD_PROGRAMS = {
    "a NaN cost cap": (dict(budget=pb.Budget(max_cost_usd_per_round=float("nan"))),
                       "program.budget.max_cost_usd_per_round"),
    "an infinite cost cap": (dict(budget=pb.Budget(max_cost_usd_per_day=float("inf"))),
                             "program.budget.max_cost_usd_per_day"),
    "a negative cost cap": (dict(budget=pb.Budget(max_cost_usd_per_round=-0.5)),
                            "program.budget.max_cost_usd_per_round"),
    "an invalid must_match": (dict(evolution=pb.EvolutionSettings(must_match=["ok", "(unclosed"])),
                              "program.evolution.must_match[1]"),
    "an invalid must_not_match": (dict(evolution=pb.EvolutionSettings(must_not_match=["*x"])),
                                  "program.evolution.must_not_match[0]"),
    "a NaN margin": (dict(evolution=pb.EvolutionSettings(promotion_margin=float("nan"))),
                     "program.evolution.promotion_margin"),
    "a key in params": (dict(task_model=pb.ModelSettings(
        model="openai/x", params=struct_pb2.Struct(fields={
            "api_key": struct_pb2.Value(string_value="sk-secret")}))),
        "program.task_model.params.api_key"),
    "huge params": (dict(judge_model=pb.ModelSettings(
        model="openai/x", params=struct_pb2.Struct(fields={
            "stop": struct_pb2.Value(string_value="x" * 9000)}))),
        "program.judge_model.params"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROGRAMS))
def test_upsert_refuses_a_field_that_would_fail_later_naming_it(
    running_daemon: RunningDaemon, case: str
) -> None:
    fields, name = BAD_PROGRAMS[case]
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = pbg.GepadStub(channel)
        good = pb.Program(name="bot", seed_components={"system": "Be kind."})
        first = stub.UpsertProgram(pb.UpsertProgramRequest(program=good))
        bad = pb.Program(name="bot", seed_components={"system": "Be rude."},
                         **fields)  # type: ignore[arg-type]
        with pytest.raises(grpc.RpcError) as info:
            stub.UpsertProgram(pb.UpsertProgramRequest(program=bad), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (info.value.details() or "").startswith(name), info.value.details()
        # Nothing changed: the program is the one registered first.
        assert stub.GetProgram(pb.GetProgramRequest(name="bot")) == first.program


def test_the_same_program_again_changes_nothing(running_daemon: RunningDaemon) -> None:
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = pbg.GepadStub(channel)
        program = pb.Program(name="bot", seed_components={"system": "Be kind."},
                             budget=pb.Budget(max_metric_calls_per_round=50))
        first = stub.UpsertProgram(pb.UpsertProgramRequest(program=program))
        again = stub.UpsertProgram(pb.UpsertProgramRequest(program=program))
        assert (first.created, again.created) == (True, False)
        assert again.program == first.program and again.program.revision == 1
        program.seed_components["system"] = "Be brief."
        changed = stub.UpsertProgram(pb.UpsertProgramRequest(program=program))
        assert changed.program.revision == 2
