from gepad.store.database import connect_writer
from gepad.store.ingest import IngestResult
from gepad.store.lineage import UnknownCandidateError
from gepad.store.repository import Lineage, Store
from gepad.store.writer import Writer, WriterClosedError

__all__ = [
    "IngestResult",
    "Lineage",
    "Store",
    "UnknownCandidateError",
    "Writer",
    "WriterClosedError",
    "connect_writer",
]
