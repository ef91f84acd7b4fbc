from __future__ import annotations

import inspect

import grpc

from gepad import errors
from gepad.rpc.status import status_of
from gepad.store.failures import StoreFullError, StoreUnavailableError
from gepad.store.lineage import UnknownCandidateError
from gepad.store.writer import WriterClosedError


def test_every_gepad_error_has_a_status_and_nothing_else_does() -> None:
    kinds = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
             if issubclass(cls, errors.GepadError) and cls is not errors.GepadError]
    assert len(kinds) == 8
    for cls in kinds:
        assert status_of(cls.__new__(cls)) is not None, cls
    assert status_of(ValueError("a bug")) is None
    assert status_of(errors.GepadError("too vague")) is None


def test_the_stores_errors_are_seen_as_what_they_mean() -> None:
    assert status_of(UnknownCandidateError("c1")) == grpc.StatusCode.NOT_FOUND
    assert status_of(WriterClosedError("closing")) == grpc.StatusCode.UNAVAILABLE
    assert status_of(errors.InvalidArgument("f", "w")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(StoreFullError("full")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_of(StoreUnavailableError("i/o")) == grpc.StatusCode.UNAVAILABLE
