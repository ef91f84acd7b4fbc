"""gepad's name for each value of the protobuf enums, derived from the proto itself:
``FEEDBACK_KIND_JUDGE_VERDICT`` is "judge_verdict", ``RUN_STATUS_QUEUED`` is "queued". The
server stores and logs these names, the CLI prints them; UNSPECIFIED (0) has none."""

from __future__ import annotations

from collections.abc import Iterable

from gepad.v1 import gepad_pb2 as pb

__all__ = ["CANDIDATE_ORIGIN", "FEEDBACK_KIND", "FEEDBACK_SOURCE", "RUN_STATUS"]


def _names(values: Iterable[tuple[str, int]], prefix: str) -> dict[int, str]:
    return {number: name.removeprefix(prefix).lower() for name, number in values if number != 0}


FEEDBACK_KIND = _names(pb.FeedbackKind.items(), "FEEDBACK_KIND_")
FEEDBACK_SOURCE = _names(pb.FeedbackSource.items(), "FEEDBACK_SOURCE_")
RUN_STATUS = _names(pb.RunStatus.items(), "RUN_STATUS_")
CANDIDATE_ORIGIN = _names(pb.CandidateOrigin.items(), "CANDIDATE_ORIGIN_")

