"""Load FHIR NDJSON / Bundles into DuckDB: raw versions, quarantine, typed tables."""

from screening.load.typed import TYPED_SQL, rebuild_typed_tables

__all__ = ["TYPED_SQL", "rebuild_typed_tables"]
