-- Step 1: lines/files -> records. Decode UTF-8, strip a BOM and the line end (LF, CRLF), set blank lines aside,
-- quarantine what is not a JSON object with a valid resourceType, and expand Bundles (nested ones too) into their
-- entries. Input: _stage_line(stage_no, source_file, source_line, raw BLOB, file_kind), the batch's Arrow lines as
-- screening/load/loader.py registers them (read in place, never copied). Output: _record (a view), _q.
CREATE OR REPLACE TEMP TABLE _q (
    source_file VARCHAR, source_line BIGINT, source_entry INTEGER, resource_type VARCHAR, resource_id VARCHAR,
    field VARCHAR, reason VARCHAR, raw BLOB, disposition VARCHAR DEFAULT 'record'
);

-- One pass over the staged bytes: decode, trim, blank test and one JSON parse per line (fhir_check); the exact
-- reason is worked out only for the few lines that fail it. No intermediate copy of the text is kept.
CREATE OR REPLACE TEMP TABLE _checked_line AS
WITH utf8 AS (
    SELECT stage_no, source_file, source_line, file_kind, raw, try(decode(raw)) AS t FROM _stage_line
), decoded AS (  -- NDJSON lines come without their LF (screening/load/files.py); the character trim (slow) runs
                 -- only where there is something to trim: a BOM, a CR, a .json file's final newlines
    SELECT stage_no, source_file, source_line, file_kind, raw,
           CASE WHEN starts_with(t, chr(65279)) OR ends_with(t, chr(10)) OR ends_with(t, chr(13))
                THEN rtrim(ltrim(t, chr(65279)), chr(10) || chr(13)) ELSE t END AS text
    FROM utf8
), parsed AS (
    SELECT stage_no, source_file, source_line, file_kind, CASE WHEN text IS NULL THEN raw END AS raw, text,
           text IS NOT NULL AND regexp_full_match(text, '\s*') AS is_blank
    FROM decoded
)
SELECT stage_no, source_file, source_line, file_kind, text, is_blank, c,
       CASE
           WHEN is_blank THEN NULL
           WHEN text IS NULL THEN 'invalid UTF-8: the line is not UTF-8 text'
           WHEN c IS NOT NULL AND json_type(c.resourceType) = 'VARCHAR'
                AND list_contains($fhir_types, c.resourceType ->> '$') THEN NULL
           WHEN NOT json_valid(text) THEN 'invalid JSON'
           WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object: a FHIR resource must be an object'
           WHEN c IS NOT NULL THEN rtype_problem(c.resourceType, $fhir_types)
           ELSE 'not a FHIR resource: no resourceType string'
       END AS problem,
       c.resourceType ->> '$' AS rtype,
       raw AS bad_raw
FROM (SELECT *, CASE WHEN NOT is_blank THEN fhir_check(text) END AS c FROM parsed);

CREATE OR REPLACE TEMP TABLE _blank AS SELECT source_file, source_line FROM _checked_line WHERE is_blank;
DELETE FROM _checked_line WHERE is_blank;

-- A Bundle whose `entry` is present but not an array is quarantined whole (its content cannot be trusted).
UPDATE _checked_line SET problem = 'Bundle.entry is not an array (it is ' || lower(json_type(text, '$.entry')) || ')'
WHERE problem IS NULL AND rtype = 'Bundle' AND json_type(text, '$.entry') IS NOT NULL
  AND json_type(text, '$.entry') <> 'ARRAY';

INSERT INTO _q
SELECT source_file, source_line, NULL, CASE WHEN problem LIKE 'Bundle%' THEN 'Bundle' END, NULL,
       CASE WHEN problem LIKE '%resourceType%' THEN 'resourceType' WHEN problem LIKE 'Bundle%' THEN 'entry' END,
       problem, coalesce(bad_raw, encode(text)), 'record'
FROM _checked_line WHERE problem IS NOT NULL;

CREATE OR REPLACE TEMP TABLE _bundle AS
SELECT stage_no, source_file, source_line, file_kind, text
FROM _checked_line
WHERE problem IS NULL AND rtype = 'Bundle';


-- Entries of every Bundle, nested Bundles unpacked (depth <= 8): bundle_key names the Bundle an entry sits in
-- (stage_no + path), entry_path its place ('entry[2].resource.entry[0]'), source_entry its top-level index.
CREATE OR REPLACE TEMP TABLE _bundle_entry AS
WITH RECURSIVE walk(stage_no, source_file, source_line, file_kind, top_entry, path, depth, entries) AS (
    SELECT stage_no, source_file, source_line, file_kind, NULL::INTEGER, '', 0,
           coalesce(json_extract(text, '$.entry[*]'), []::JSON[])
    FROM _bundle
    UNION ALL
    SELECT w.stage_no, w.source_file, w.source_line, w.file_kind, coalesce(w.top_entry, e.i), w.path || 'entry['
           || e.i || '].resource.', w.depth + 1, json_extract(e.entry, '$.resource.entry[*]')
    FROM walk w, LATERAL (SELECT unnest(w.entries) AS entry, generate_subscripts(w.entries, 1) - 1 AS i) e
    WHERE w.depth < 8 AND json_type(e.entry) = 'OBJECT' AND json_extract_string(e.entry, '$.resource.resourceType') = 'Bundle'
      AND json_type(e.entry, '$.resource.entry') = 'ARRAY'
)
SELECT stage_no, source_file, source_line, file_kind, depth, entry,
       coalesce(top_entry, i) AS source_entry, stage_no || ':' || path AS bundle_key, path || 'entry[' || i || ']' AS entry_path
FROM (SELECT *, unnest(entries) AS entry, generate_subscripts(entries, 1) - 1 AS i FROM walk);

CREATE OR REPLACE TEMP TABLE _empty_bundle AS
SELECT source_file, source_line FROM _bundle b
WHERE NOT EXISTS (SELECT 1 FROM _bundle_entry e WHERE e.stage_no = b.stage_no);

DROP TABLE _bundle;

-- Nested Bundles themselves are containers (their entries are the records), unless they cannot be unpacked.
CREATE OR REPLACE TEMP TABLE _entry_checked AS
SELECT *,
       CASE
           WHEN json_type(entry) <> 'OBJECT'
                OR (json_type(entry, '$.resource') IS DISTINCT FROM 'OBJECT'
                    AND upper(coalesce(json_extract_string(entry, '$.request.method'), '')) <> 'DELETE')
               THEN 'Bundle entry is not an object with a resource or a DELETE request'
           WHEN json_type(entry, '$.resource') = 'OBJECT'
               THEN rtype_problem(json_extract(entry, '$.resource.resourceType'), $fhir_types)
       END AS problem,
       coalesce(json_type(entry) = 'OBJECT' AND json_extract_string(entry, '$.resource.resourceType') = 'Bundle', false)
           AS is_bundle
FROM _bundle_entry;

DROP TABLE _bundle_entry;

UPDATE _entry_checked SET problem = CASE
        WHEN json_type(entry, '$.resource.entry') IS NOT NULL AND json_type(entry, '$.resource.entry') <> 'ARRAY'
            THEN 'Bundle.entry is not an array (it is ' || lower(json_type(entry, '$.resource.entry')) || ')'
        ELSE 'nested Bundle deeper than 8 levels' END
WHERE problem IS NULL AND is_bundle
  AND (depth >= 8 OR (json_type(entry, '$.resource.entry') IS NOT NULL
                      AND json_type(entry, '$.resource.entry') <> 'ARRAY'));

INSERT INTO _q
SELECT source_file, source_line, source_entry,
       CASE WHEN json_type(entry, '$.resource.resourceType') = 'VARCHAR'
            THEN json_extract_string(entry, '$.resource.resourceType') END, NULL,
       CASE WHEN problem LIKE '%resourceType%' THEN entry_path || '.resource.resourceType'
            WHEN problem LIKE 'Bundle.entry%' THEN entry_path || '.resource.entry'
            ELSE entry_path END,
       problem, encode(CAST(entry AS VARCHAR)), 'record'
FROM _entry_checked WHERE problem IS NOT NULL;

CREATE OR REPLACE TEMP TABLE _entry_record AS
SELECT stage_no * 16777216 + CASE WHEN depth = 0 THEN source_entry ELSE 8388608 + ord END AS rec_no, source_file,
       source_line, source_entry, full_url, request_method, request_url, text, file_kind,
       c.resourceType ->> '$' AS rtype, c, bundle_key, entry_path
FROM (
    SELECT stage_no, source_file, source_line, source_entry, file_kind, depth, bundle_key, entry_path,
           row_number() OVER (PARTITION BY stage_no ORDER BY entry_path) AS ord,
           json_extract_string(entry, '$.fullUrl') AS full_url,
           upper(json_extract_string(entry, '$.request.method')) AS request_method,
           json_extract_string(entry, '$.request.url') AS request_url,
           CAST(json_extract(entry, '$.resource') AS VARCHAR) AS text,
           fhir_check(CAST(json_extract(entry, '$.resource') AS VARCHAR)) AS c
    FROM _entry_checked
    WHERE problem IS NULL AND NOT is_bundle
);

DROP TABLE _entry_checked;

-- Records: every non-Bundle line, and every entry of a Bundle line (with its entry index and fullUrl). A view, so
-- the text of a line is stored once per batch (_checked_line) and never copied again before _acc_good.
-- rec_no orders the records as read (file order, line, entry) without sorting them: 2^24 entries per line.
CREATE OR REPLACE TEMP VIEW _record AS
SELECT stage_no * 16777216 AS rec_no, source_file, source_line, NULL::INTEGER AS source_entry,
       NULL::VARCHAR AS full_url, NULL::VARCHAR AS request_method, NULL::VARCHAR AS request_url, text, file_kind, rtype, c,
       NULL::VARCHAR AS bundle_key, NULL::VARCHAR AS entry_path
FROM _checked_line
WHERE problem IS NULL AND rtype <> 'Bundle'
UNION ALL
SELECT * FROM _entry_record;
