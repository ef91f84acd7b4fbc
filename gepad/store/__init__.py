from gepad.store.contract import Lineage, RoundInputs, ServedChanges, StoreContract
from gepad.store.database import connect_writer
from gepad.store.ingest import IngestResult
from gepad.store.lineage import UnknownCandidateError
from gepad.store.repository import Store
from gepad.store.writer import Writer, WriterClosedError

__all__ = [
    "IngestResult",
    "Lineage",
    "RoundInputs",
    "ServedChanges",
    "Store",
    "StoreContract",
    "UnknownCandidateError",
    "Writer",
    "WriterClosedError",
    "connect_writer",
]
