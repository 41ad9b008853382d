"""`osteoscreen extract`: registered by screening/cli.py as `app.command("extract")(extract_command)`.

Failures end in one line on stderr and a distinct exit code (see docs/extraction.md, "Exit codes"):
2 bad option, 6 server refused, 8 authorisation, 9 server unreachable / TLS, 10 export job failed or
malformed answer, 130 interrupted (a running Bulk export is cancelled with DELETE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from screening.sources.errors import ExtractError


def extract_command(
    fhir_url: Annotated[str, typer.Option("--fhir-url", help="FHIR R4 base URL.")],
    landing: Annotated[
        Path, typer.Option("--landing", help="Landing folder (one subfolder per export).")
    ] = Path("landing"),
    bulk: Annotated[
        bool | None,
        typer.Option("--bulk/--search", help="Force Bulk $export or REST search (default: auto-detect)."),
    ] = None,
    level: Annotated[
        str,
        typer.Option(
            "--level", help="system, patient or group (search: patient/group = per-patient crawl)."
        ),
    ] = "system",
    group: Annotated[str | None, typer.Option("--group", help="Group id (implies --level group).")] = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Resource type to extract (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="FHIR instant, or 'auto' (last successful export).")
    ] = None,
    type_filters: Annotated[
        list[str] | None,
        typer.Option("--type-filter", help="e.g. 'Observation?category=laboratory' (repeatable)."),
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="SMART Backend Services client id.")
    ] = None,
    private_key: Annotated[
        Path | None,
        typer.Option("--private-key", help="PEM private key (RSA -> RS384, EC P-384 -> ES384)."),
    ] = None,
    private_key_env: Annotated[
        str | None, typer.Option("--private-key-env", help="Environment variable holding the PEM key.")
    ] = None,
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="JWT 'kid' (default: JWK thumbprint).")
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="File holding a bearer token.")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option("--token-env", help="Environment variable holding a bearer token.")
    ] = None,
    scope: Annotated[
        str | None, typer.Option("--scope", help="OAuth scope (default system/*.read).")
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify TLS certificates (testing only).")
    ] = False,
    max_concurrency: Annotated[int, typer.Option("--max-concurrency", min=1, max=32)] = 4,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress on stderr.")
    ] = True,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 10) when a search stops paging before Bundle.total.")
    ] = False,
) -> None:
    """Extract from a FHIR server into a landing folder (Bulk $export or REST search)."""
    from screening.sources.auth import AuthConfig
    from screening.sources.extract import extract

    if group and level == "system":
        level = "group"
    if level not in ("system", "patient", "group"):
        _fail(f"--level must be system, patient or group, not {level!r}", 2)
    mode = "auto" if bulk is None else ("bulk" if bulk else "search")
    try:
        auth = AuthConfig.from_options(
            client_id=client_id,
            private_key_path=private_key,
            private_key_env=private_key_env,
            key_id=key_id,
            token_file=token_file,
            bearer_env=token_env,
            scope=scope,
        )
        result = extract(
            fhir_url,
            landing,
            mode=mode,
            level=level,
            group_id=group,
            types=list(types) if types else None,
            since=since,
            type_filters=list(type_filters) if type_filters else None,
            auth=auth,
            verify_tls=not insecure,
            max_concurrency=max_concurrency,
            progress=progress,
            strict=strict,
        )
    except ExtractError as exc:
        _fail(f"error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted: extraction stopped; a running Bulk export was cancelled (DELETE)", 130)
    typer.echo("\n".join(summary_lines(result)))


def summary_lines(result) -> list[str]:
    """The extraction summary (counts and type names only), shared by `extract` and `run --fhir-url`."""
    lines = [
        f"export:    {result.export_dir} ({result.mode}{', resumed' if result.resumed else ''})",
        f"resources: {result.resources} in {result.files} files (transactionTime {result.transaction_time})",
    ]
    if result.skipped_types:
        lines.append(f"skipped:   {', '.join(result.skipped_types)} (not offered by the server, or not "
                     "patient-linked at this level)")
    if result.hydrated:
        lines.append(f"hydrated:  {result.hydrated} referenced Medication/Observation resources")
    if result.binaries:
        lines.append(f"binaries:  {result.binaries} Binary resources referenced by report attachments")
    if result.incomplete_searches:
        lines.append(f"warning:   {result.incomplete_searches} search(es) ended before the server's Bundle.total "
                     "(see log.ndjson, event search_incomplete; --strict makes this an error)")
    if result.deleted:
        lines.append(f"deleted:   {result.deleted} deletions in deleted/ (applied by the loader)")
    if result.errors:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(result.error_codes.items()))
        lines.append(f"errors:    {result.errors} OperationOutcome(s) from the server in errors/ ({codes})")
    return lines


def _fail(message: str, code: int) -> None:
    if code == 130:
        from screening.cli import _state

        _state["interrupt_reported"] = True  # main() prints a bare "interrupted" only when nobody else did
    typer.echo(message if message.startswith(("error", "interrupted")) else f"error: {message}", err=True)
    raise typer.Exit(code)
