-- Step 1: lines/files -> records. Decode UTF-8, strip a BOM and the line end (LF, CRLF), set blank lines aside,
-- quarantine what is not a JSON object with a resourceType, and expand Bundles into their entries.
-- Input: _stage_line(source_file, source_line, raw BLOB, file_kind). Output: _record, _q (quarantine rows).
CREATE OR REPLACE TEMP TABLE _line AS
SELECT stage_no, source_file, source_line, file_kind, text, CASE WHEN text IS NULL THEN raw END AS raw
FROM (SELECT *, rtrim(ltrim(try(decode(raw)), chr(65279)), chr(10) || chr(13)) AS text FROM _stage_line);

DROP TABLE _stage_line;

CREATE OR REPLACE TEMP TABLE _blank AS
SELECT source_file, source_line FROM _line WHERE text IS NOT NULL AND regexp_full_match(text, '\s*');

CREATE OR REPLACE TEMP TABLE _q (
    source_file VARCHAR, source_line BIGINT, source_entry INTEGER, resource_type VARCHAR, resource_id VARCHAR,
    field VARCHAR, reason VARCHAR, raw BLOB
);

-- One JSON parse per line (fhir_check); the exact reason is worked out only for the few lines that fail it.
CREATE OR REPLACE TEMP TABLE _checked_line AS
WITH parsed AS (
    SELECT stage_no, source_file, source_line, file_kind, raw, text, fhir_check(text) AS c
    FROM _line
    WHERE text IS NULL OR NOT regexp_full_match(text, '\s*')
)
SELECT * EXCLUDE (raw),
       CASE
           WHEN text IS NULL THEN 'invalid UTF-8: the line is not UTF-8 text'
           WHEN c IS NOT NULL AND json_type(c.resourceType) = 'VARCHAR' THEN NULL
           WHEN NOT json_valid(text) THEN 'invalid JSON'
           WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object: a FHIR resource must be an object'
           ELSE 'not a FHIR resource: no resourceType string'
       END AS problem,
       c.resourceType ->> '$' AS rtype,
       raw AS bad_raw
FROM parsed;

DROP TABLE _line;

INSERT INTO _q
SELECT source_file, source_line, NULL, NULL, NULL,
       CASE WHEN problem LIKE 'not a FHIR%' THEN 'resourceType' END, problem, coalesce(bad_raw, encode(text))
FROM _checked_line WHERE problem IS NOT NULL;

-- Records: every non-Bundle line, and every entry of a Bundle line (with its entry index and fullUrl).
-- rec_no orders the records as read (file order, line, entry) without sorting them: 2^24 entries per line.
CREATE OR REPLACE TEMP TABLE _record AS
SELECT stage_no * 16777216 AS rec_no, source_file, source_line, NULL::INTEGER AS source_entry, NULL::VARCHAR AS full_url,
       NULL::VARCHAR AS request_method, NULL::VARCHAR AS request_url, text, file_kind, rtype, c
FROM _checked_line
WHERE problem IS NULL AND rtype <> 'Bundle';

CREATE OR REPLACE TEMP TABLE _bundle AS
SELECT stage_no, source_file, source_line, file_kind,
       coalesce(json_extract(text, '$.entry[*]'), []::JSON[]) AS entries
FROM _checked_line
WHERE problem IS NULL AND rtype = 'Bundle';

DROP TABLE _checked_line;

CREATE OR REPLACE TEMP TABLE _bundle_entry AS
SELECT stage_no, source_file, source_line, file_kind, unnest(entries) AS entry,
       generate_subscripts(entries, 1) - 1 AS source_entry
FROM _bundle;

INSERT INTO _q
SELECT source_file, source_line, source_entry, NULL, NULL, 'entry[' || source_entry || ']',
       'Bundle entry is not an object with a resource or a DELETE request', encode(CAST(entry AS VARCHAR))
FROM _bundle_entry
WHERE json_type(entry) <> 'OBJECT'
   OR (json_type(entry, '$.resource') IS DISTINCT FROM 'OBJECT'
       AND upper(coalesce(json_extract_string(entry, '$.request.method'), '')) <> 'DELETE');

INSERT INTO _record
SELECT stage_no * 16777216 + source_entry, source_file, source_line, source_entry, full_url, request_method,
       request_url, text, file_kind, c.resourceType ->> '$', c
FROM (
    SELECT stage_no, source_file, source_line, source_entry, file_kind,
           json_extract_string(entry, '$.fullUrl') AS full_url,
           upper(json_extract_string(entry, '$.request.method')) AS request_method,
           json_extract_string(entry, '$.request.url') AS request_url,
           CAST(json_extract(entry, '$.resource') AS VARCHAR) AS text,
           fhir_check(CAST(json_extract(entry, '$.resource') AS VARCHAR)) AS c
    FROM _bundle_entry
    WHERE json_type(entry) = 'OBJECT'
      AND (json_type(entry, '$.resource') = 'OBJECT'
           OR upper(coalesce(json_extract_string(entry, '$.request.method'), '')) = 'DELETE')
);

-- Bundle lines with no entries at all (containers, not records: reported, not counted).
CREATE OR REPLACE TEMP TABLE _empty_bundle AS
SELECT source_file, source_line FROM _bundle WHERE len(entries) = 0;
