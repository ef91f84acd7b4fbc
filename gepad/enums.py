"""gepad's name for each value of the protobuf enums, derived from the proto itself:
``FEEDBACK_KIND_JUDGE_VERDICT`` is "judge_verdict", ``RUN_STATUS_QUEUED`` is "queued". The
server stores and logs these names, the CLI prints them; UNSPECIFIED (0) has none."""

from __future__ import annotations

from collections.abc import Iterable

from gepad.v1 import gepad_pb2 as pb

__all__ = ["CANDIDATE_ORIGIN", "FEEDBACK_KIND", "RUN_STATUS", "origin_value"]


def _names(values: Iterable[tuple[str, int]], prefix: str) -> dict[int, str]:
    return {number: name.removeprefix(prefix).lower() for name, number in values if number != 0}


FEEDBACK_KIND = _names(pb.FeedbackKind.items(), "FEEDBACK_KIND_")
RUN_STATUS = _names(pb.RunStatus.items(), "RUN_STATUS_")
CANDIDATE_ORIGIN = _names(pb.CandidateOrigin.items(), "CANDIDATE_ORIGIN_")


def origin_value(name: str) -> pb.CandidateOrigin.ValueType:
    """The CandidateOrigin named ``name`` ("seed", "human_edit"...); UNSPECIFIED if unknown."""
    return pb.CandidateOrigin.Value(
        "CANDIDATE_ORIGIN_" + name.upper() if name in CANDIDATE_ORIGIN.values() else
        "CANDIDATE_ORIGIN_UNSPECIFIED"
    )
