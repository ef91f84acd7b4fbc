from __future__ import annotations

from gepad import enums
from gepad.v1 import gepad_pb2 as pb


def test_each_enum_value_has_one_name_derived_from_the_proto() -> None:
    assert enums.FEEDBACK_KIND[pb.FEEDBACK_KIND_JUDGE_VERDICT] == "judge_verdict"
    assert enums.RUN_STATUS[pb.RUN_STATUS_CANCELLED] == "cancelled"
    assert enums.CANDIDATE_ORIGIN[pb.CANDIDATE_ORIGIN_HUMAN_EDIT] == "human_edit"
    for table, enum in ((enums.FEEDBACK_KIND, pb.FeedbackKind),
                        (enums.RUN_STATUS, pb.RunStatus),
                        (enums.CANDIDATE_ORIGIN, pb.CandidateOrigin)):
        assert sorted(table) == sorted(v for v in enum.values() if v != 0)  # UNSPECIFIED: none
        assert len(set(table.values())) == len(table)


def test_an_origin_name_turns_back_into_its_value() -> None:
    for value, name in enums.CANDIDATE_ORIGIN.items():
        assert enums.origin_value(name) == value
    assert enums.origin_value("telepathy") == pb.CANDIDATE_ORIGIN_UNSPECIFIED
