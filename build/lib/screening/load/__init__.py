"""Load FHIR NDJSON / Bundles into DuckDB: raw versions, quarantine, typed tables."""

from screening.load.files import SourceError, discover
from screening.load.loader import LoadResult, load_source
from screening.load.typed import TYPED_SQL, rebuild_typed_tables

__all__ = ["TYPED_SQL", "LoadResult", "SourceError", "discover", "load_source", "rebuild_typed_tables"]
