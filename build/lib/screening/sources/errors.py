"""Extraction failures: one clear line each (HTTP status, OperationOutcome text, URL without query secrets).

They subclass `screening.errors.ExtractError`, so `osteoscreen` prints them as one line and exits with the
subclass's code. Messages never carry tokens, keys or resource contents.
"""

from __future__ import annotations

from screening.errors import ExtractError as _ProjectExtractError


class ExtractError(_ProjectExtractError):
    """Generic extraction failure (bad options, unexpected server answer)."""

    exit_code = 6


class FhirServerError(ExtractError):
    """The FHIR server refused a request (after retries for 429/5xx)."""

    exit_code = 6

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthError(ExtractError):
    """Credentials missing, unreadable, or refused by the token endpoint / FHIR server."""

    exit_code = 8


class ServerUnreachableError(ExtractError):
    """No HTTP answer: DNS, connection refused, TLS verification failure, repeated dropped connections."""

    exit_code = 9


class ExportFailedError(ExtractError):
    """The server answered, but the export job failed or sent something malformed."""

    exit_code = 10


class BulkNotSupportedError(FhirServerError):
    """Kick-off answered 404/405/501: no $export at this level (auto mode falls back to search)."""


class ExtractAborted(ExtractError):
    """The user interrupted the extraction (Ctrl-C); a running Bulk export was cancelled with DELETE."""

    exit_code = 130
