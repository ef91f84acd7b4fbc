"""Each adapter target's last confirmed delivery per user and program (one row, replaced)."""

from __future__ import annotations

import sqlite3

from gepad.deliveries import DeliveryRecord

__all__ = ["read_deliveries", "write_delivery"]


def read_deliveries(conn: sqlite3.Connection) -> list[DeliveryRecord]:
    rows = conn.execute(
        "SELECT target, user_id, program, candidate_id, version, delivered_at FROM deliveries "
        "ORDER BY target, user_id, program"
    )
    return [DeliveryRecord(str(t), str(u), str(p), str(c), int(v), float(at))
            for t, u, p, c, v, at in rows]


def write_delivery(conn: sqlite3.Connection, record: DeliveryRecord) -> None:
    conn.execute(
        "INSERT INTO deliveries (target, user_id, program, candidate_id, version, delivered_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target, user_id, program) DO UPDATE SET "
        "candidate_id = excluded.candidate_id, version = excluded.version, "
        "delivered_at = excluded.delivered_at",
        (record.target, record.user_id, record.program, record.candidate_id, record.version,
         record.delivered_at),
    )
