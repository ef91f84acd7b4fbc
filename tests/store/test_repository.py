from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from gepad.lineage import CandidateRecord, ServedState
from gepad.store.contract import ServedChanges
from gepad.store.database import connect_writer
from gepad.store.repository import Store
from gepad.store.writer import Writer

pytestmark = pytest.mark.anyio
SEED = CandidateRecord("cseed", (), "seed", {"system": "seed"}, "", "", 0.0)


def state(version: int) -> ServedState:
    return ServedState("u", "p", f"c{version}", {"system": "s"}, version, False, 1.0)


def test_every_subscriber_hears_every_change_even_if_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    changes, heard = ServedChanges(), list[tuple[str, int]]()

    def broken(s: ServedState) -> None:
        raise RuntimeError("subscriber bug")

    changes.subscribe(lambda s: heard.append(("first", s.version)))
    changes.subscribe(broken)
    changes.subscribe(lambda s: heard.append(("last", s.version)))
    with caplog.at_level(logging.ERROR):
        changes(state(1))
        changes(state(2))
    assert heard == [("first", 1), ("last", 1), ("first", 2), ("last", 2)]
    assert caplog.messages == ["a served-prompt subscriber failed on u/p"] * 2


async def test_a_rollback_is_told_after_commit_with_the_stores_clock(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    store = Store(db, writer, clock=lambda: 1234.5)
    told: list[ServedState] = []

    def check_committed(s: ServedState) -> None:
        told.append(s)
        with store._read() as conn:  # a separate connection sees it: it was committed
            assert conn.execute("SELECT candidate_id FROM served").fetchall() == [("cseed",)]

    store.served_changes.subscribe(check_committed)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        await store.serve(user_id="u", program="p", candidate="cseed", pinned=True,
                          reason="rollback", actor="admin", note="", seed=SEED)
        writer.close()
    (s,) = told
    assert (s.candidate_id, s.pinned, s.updated_at) == ("cseed", True, 1234.5)
    store.close()
