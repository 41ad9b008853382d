-- Step 1: lines/files -> records. Decode UTF-8, strip a BOM and the line end (LF, CRLF), set blank lines aside,
-- quarantine what is not a JSON object with a resourceType, and expand Bundles into their entries.
-- Input: _stage_line(source_file, source_line, raw BLOB, file_kind). Output: _record, _q (quarantine rows).
CREATE OR REPLACE TEMP TABLE _line AS
SELECT source_file, source_line, raw, file_kind,
       rtrim(ltrim(try(decode(raw)), chr(65279)), chr(10) || chr(13)) AS text
FROM _stage_line;

CREATE OR REPLACE TEMP TABLE _blank AS
SELECT source_file, source_line FROM _line WHERE text IS NOT NULL AND regexp_full_match(text, '\s*');

CREATE OR REPLACE TEMP TABLE _q (
    source_file VARCHAR, source_line BIGINT, source_entry INTEGER, resource_type VARCHAR, resource_id VARCHAR,
    field VARCHAR, reason VARCHAR, raw BLOB
);

CREATE OR REPLACE TEMP TABLE _checked_line AS
WITH parsed AS (
    -- one parse per line: the JSON type of the document and of its resourceType (NULL when not JSON)
    SELECT *, try(json_type(text, ['$', '$.resourceType'])) AS types FROM _line
    WHERE text IS NULL OR NOT regexp_full_match(text, '\s*')
)
SELECT * EXCLUDE (types),
       CASE
           WHEN text IS NULL THEN 'invalid UTF-8: the line is not UTF-8 text'
           WHEN types IS NULL THEN 'invalid JSON'
           WHEN types[1] <> 'OBJECT' THEN 'not a JSON object: a FHIR resource must be an object'
           WHEN types[2] IS DISTINCT FROM 'VARCHAR' THEN 'not a FHIR resource: no resourceType string'
       END AS problem,
       CASE WHEN types[2] = 'VARCHAR' THEN json_extract_string(text, '$.resourceType') END AS rtype
FROM parsed;

INSERT INTO _q
SELECT source_file, source_line, NULL, NULL, NULL,
       CASE WHEN problem LIKE 'not a FHIR%' THEN 'resourceType' END, problem, raw
FROM _checked_line WHERE problem IS NOT NULL;

-- Records: every non-Bundle line, and every entry of a Bundle line (with its entry index and fullUrl).
CREATE OR REPLACE TEMP TABLE _record AS
SELECT source_file, source_line, NULL::INTEGER AS source_entry, NULL::VARCHAR AS full_url,
       NULL::VARCHAR AS request_method, NULL::VARCHAR AS request_url, text, file_kind
FROM _checked_line
WHERE problem IS NULL AND rtype <> 'Bundle';

CREATE OR REPLACE TEMP TABLE _bundle AS
SELECT source_file, source_line, file_kind, coalesce(json_extract(text, '$.entry[*]'), []::JSON[]) AS entries
FROM _checked_line
WHERE problem IS NULL AND rtype = 'Bundle';

CREATE OR REPLACE TEMP TABLE _bundle_entry AS
SELECT source_file, source_line, file_kind, unnest(entries) AS entry,
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
SELECT source_file, source_line, source_entry,
       json_extract_string(entry, '$.fullUrl'),
       upper(json_extract_string(entry, '$.request.method')),
       json_extract_string(entry, '$.request.url'),
       CAST(json_extract(entry, '$.resource') AS VARCHAR),
       file_kind
FROM _bundle_entry
WHERE json_type(entry) = 'OBJECT'
  AND (json_type(entry, '$.resource') = 'OBJECT'
       OR upper(coalesce(json_extract_string(entry, '$.request.method'), '')) = 'DELETE');

-- Number of Bundle lines with no entries at all (containers, not records: reported, not counted).
CREATE OR REPLACE TEMP TABLE _empty_bundle AS
SELECT source_file, source_line FROM _bundle WHERE len(entries) = 0;
