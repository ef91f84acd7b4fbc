from __future__ import annotations

from typing import get_args

from gepad import enums
from gepad.engine import Origin
from gepad.feedback.event import FEEDBACK_KINDS, FEEDBACK_SOURCES
from gepad.runs import RUN_STATUSES
from gepad.v1 import gepad_pb2 as pb


def test_each_enum_value_has_one_name_derived_from_the_proto() -> None:
    assert enums.FEEDBACK_KIND[pb.FEEDBACK_KIND_JUDGE_VERDICT] == "judge_verdict"
    assert enums.RUN_STATUS[pb.RUN_STATUS_CANCELLED] == "cancelled"
    assert enums.CANDIDATE_ORIGIN[pb.CANDIDATE_ORIGIN_HUMAN_EDIT] == "human_edit"
    for table, enum in ((enums.FEEDBACK_KIND, pb.FeedbackKind),
                        (enums.FEEDBACK_SOURCE, pb.FeedbackSource),
                        (enums.RUN_STATUS, pb.RunStatus),
                        (enums.CANDIDATE_ORIGIN, pb.CandidateOrigin)):
        assert sorted(table) == sorted(v for v in enum.values() if v != 0)  # UNSPECIFIED: none
        assert len(set(table.values())) == len(table)


def test_the_protos_names_are_the_records_names() -> None:
    # A value added to the proto and not to gepad's records (or the reverse) fails here.
    assert set(enums.FEEDBACK_KIND.values()) == set(FEEDBACK_KINDS)
    assert set(enums.FEEDBACK_SOURCE.values()) == set(FEEDBACK_SOURCES)
    assert set(enums.RUN_STATUS.values()) == set(RUN_STATUSES)
    assert set(enums.CANDIDATE_ORIGIN.values()) == set(get_args(Origin))
