"""Extraction: FHIR server (Bulk $export or REST search) -> landing folder of raw NDJSON.

See docs/extraction.md.
"""

from screening.sources.auth import AuthConfig
from screening.sources.errors import (
    AuthError,
    ExportFailedError,
    ExtractAborted,
    ExtractError,
    FhirServerError,
    ServerUnreachableError,
)
from screening.sources.extract import ExtractResult, extract

__all__ = [
    "AuthConfig",
    "AuthError",
    "ExportFailedError",
    "ExtractAborted",
    "ExtractError",
    "ExtractResult",
    "FhirServerError",
    "ServerUnreachableError",
    "extract",
]
