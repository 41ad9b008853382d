-- Core load tables. Every resource that loads keeps its JSON, its id and where it came from.

-- One row per load run: what was read and what became of it. read = loaded + quarantined, always.
CREATE TABLE IF NOT EXISTS load_run (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    source        VARCHAR NOT NULL,   -- the path given by the user
    files         INTEGER,            -- files read
    blank_lines   BIGINT,             -- empty lines: not records, not counted as read
    records_read  BIGINT,             -- records (NDJSON lines, Bundle entries) read
    loaded        BIGINT,             -- records accepted (new, newer version, or identical re-load)
    quarantined   BIGINT,             -- records rejected into `quarantine`
    inserted      BIGINT,             -- of loaded: resources new to the database
    replaced      BIGINT,             -- of loaded: newer versions that replaced a stored one
    unchanged     BIGINT,             -- of loaded: identical or older versions (stored one kept)
    deleted       BIGINT,             -- Bulk Data `deleted` entries applied
    status        VARCHAR NOT NULL    -- running, committed
);
ALTER TABLE load_run ADD COLUMN IF NOT EXISTS fhir_base VARCHAR;       -- server whose absolute references are ours
ALTER TABLE load_run ADD COLUMN IF NOT EXISTS field_quarantined BIGINT; -- field-level quarantine rows (record loads)
ALTER TABLE load_run ADD COLUMN IF NOT EXISTS files_skipped INTEGER;    -- files unchanged since an earlier load

-- The current version of every resource, any type (Encounter, Claim... are kept but not modelled).
-- Versions: highest meta.versionId, then latest meta.lastUpdated, then the last loaded.
CREATE TABLE IF NOT EXISTS resource_raw (
    resource_type VARCHAR NOT NULL,
    id            VARCHAR NOT NULL,
    version_id    VARCHAR,
    last_updated  VARCHAR,
    source_file   VARCHAR NOT NULL,
    source_line   BIGINT NOT NULL,    -- 1-based line in the file
    source_entry  INTEGER,            -- 0-based Bundle entry index, NULL for a plain NDJSON line
    load_run_id   VARCHAR NOT NULL,
    load_seq      HUGEINT NOT NULL,   -- global load order: run ordinal x 2^64 + record ordinal in the run
    body          VARCHAR NOT NULL USING COMPRESSION zstd, -- the resource's JSON text, as loaded (zstd: writes
                                      -- several times faster than the default FSST analysis, 5x smaller)
    elements      VARCHAR[]           -- its top-level element names, written by the load with the body, so the
                                      -- screens' unread-element census never re-parses every body (NULL in rows
                                      -- loaded before the column existed: the census parses those)
);

-- Records that could not be loaded, with the reason a human needs to fix them. Nothing is dropped.
CREATE TABLE IF NOT EXISTS quarantine (
    load_run_id   VARCHAR NOT NULL,
    source_file   VARCHAR NOT NULL,
    source_line   BIGINT,             -- NULL when the whole file failed (corrupt gzip, unreadable)
    source_entry  INTEGER,
    resource_type VARCHAR,
    resource_id   VARCHAR,
    field         VARCHAR,            -- FHIR path of the offending element, when there is one
    reason        VARCHAR NOT NULL,
    raw           BLOB,               -- the record as read (the full line or Bundle entry)
    disposition   VARCHAR DEFAULT 'record'  -- record: not loaded; field: loaded, `field` treated as absent
);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS disposition VARCHAR DEFAULT 'record';

-- Bundle fullUrl -> Type/id, so `urn:uuid:` references inside transaction Bundles resolve.
CREATE TABLE IF NOT EXISTS bundle_ref_map (
    source_file   VARCHAR NOT NULL,
    full_url      VARCHAR NOT NULL,
    ref           VARCHAR NOT NULL
);

-- Deletions applied from Bulk Data `deleted` files (kept so a later re-load of an older file can't resurrect).
CREATE TABLE IF NOT EXISTS deleted_resource (
    resource_type VARCHAR NOT NULL,
    id            VARCHAR NOT NULL,
    deleted_at    VARCHAR,
    load_run_id   VARCHAR NOT NULL,
    load_seq      HUGEINT NOT NULL,
    version_id    VARCHAR             -- meta.versionId of the version deleted (a re-load must beat it)
);
ALTER TABLE deleted_resource ADD COLUMN IF NOT EXISTS version_id VARCHAR;

CREATE SEQUENCE IF NOT EXISTS load_seq_counter START 1;

-- Files loaded, by content: a later load skips a file whose path, size, mtime and SHA-256 are unchanged.
CREATE TABLE IF NOT EXISTS load_file (
    source_file   VARCHAR NOT NULL,
    size          BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    sha256        VARCHAR NOT NULL,
    load_run_id   VARCHAR NOT NULL
);
