"""osteoscreen: FHIR R4 -> DuckDB screening for secondary causes of low bone density."""

__version__ = "0.1.0"
