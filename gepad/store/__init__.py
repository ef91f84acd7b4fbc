from gepad.store.database import connect_writer
from gepad.store.ingest import IngestResult
from gepad.store.lineage import (
    CandidateRecord,
    ServedChange,
    ServedState,
    UnknownCandidateError,
)
from gepad.store.repository import Lineage, Store
from gepad.store.writer import Writer, WriterClosedError

__all__ = [
    "CandidateRecord",
    "IngestResult",
    "Lineage",
    "ServedChange",
    "ServedState",
    "Store",
    "UnknownCandidateError",
    "Writer",
    "WriterClosedError",
    "connect_writer",
]
