-- Step 2a: deletions, Bundle conflicts, the urn:uuid map; the records to check (_res).
-- Step 2: check each resource record for what the schema needs. A record with any problem goes to
-- quarantine with every problem named (field: reason); the rest are _good. DELETE entries become _deletion.
CREATE OR REPLACE TEMP TABLE _deletion AS
SELECT rec_no, bundle_key, source_file, source_line, source_entry, request_url,
       regexp_extract(request_url, '([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})/?$', 1) AS resource_type,
       regexp_extract(request_url, '([A-Z][A-Za-z]+)/([A-Za-z0-9\-\.]{1,64})/?$', 2) AS id,
       NULL::VARCHAR AS deleted_at
FROM _record WHERE request_method = 'DELETE';

INSERT INTO _q
SELECT source_file, source_line, source_entry, NULL, NULL, 'request.url',
       'DELETE entry without a Type/id request.url', encode(coalesce(request_url, '')), 'record'
FROM _deletion WHERE coalesce(id, '') = '';
DELETE FROM _deletion WHERE coalesce(id, '') = '';

-- Entries that contradict their Bundle: a fullUrl used twice in one Bundle (which entry is meant?), and a DELETE
-- and a write of the same Type/id in one Bundle (FHIR R4 makes such a transaction invalid). All are quarantined.
CREATE OR REPLACE TEMP TABLE _conflict AS
WITH writes AS (
    SELECT rec_no, bundle_key, rtype AS resource_type,
           coalesce(CASE WHEN json_type(c.id) = 'VARCHAR' THEN c.id ->> '$' END,
                    regexp_extract(request_url, '^[A-Z][A-Za-z]+/([A-Za-z0-9\-\.]{1,64})$', 1)) AS id
    FROM _record WHERE bundle_key IS NOT NULL AND request_method IS DISTINCT FROM 'DELETE'
), overlap AS (
    SELECT w.rec_no AS w_rec, d.rec_no AS d_rec, w.resource_type || '/' || w.id AS ident
    FROM writes w JOIN _deletion d
      ON d.bundle_key = w.bundle_key AND d.resource_type = w.resource_type AND d.id = w.id
)
SELECT rec_no, 'fullUrl' AS field, 'duplicate fullUrl: ' || n || ' entries of the Bundle share it' AS reason
FROM (SELECT rec_no, count(*) OVER (PARTITION BY bundle_key, full_url) AS n FROM _record
      WHERE bundle_key IS NOT NULL AND full_url IS NOT NULL)
WHERE n > 1
UNION ALL
SELECT DISTINCT unnest([w_rec, d_rec]), 'request',
       'the Bundle both deletes and writes ' || ident
       || ' (FHIR R4: a transaction whose DELETE and PUT/POST identities overlap is invalid)'
FROM overlap;

INSERT INTO _q
SELECT d.source_file, d.source_line, d.source_entry, d.resource_type, d.id, c.field, c.reason,
       encode(coalesce(d.request_url, '')), 'record'
FROM _deletion d JOIN _conflict c USING (rec_no);
DELETE FROM _deletion WHERE rec_no IN (SELECT rec_no FROM _conflict);

-- urn:uuid fullUrls of this batch, so references inside a Bundle resolve to Type/id (a fullUrl that is not unique
-- in its file maps to nothing: it is ambiguous).
CREATE OR REPLACE TEMP TABLE _ref_map_new AS
SELECT source_file, full_url, any_value(ref) AS ref
FROM (
    SELECT DISTINCT source_file, full_url,
           rtype || '/' || coalesce(c.id ->> '$', regexp_extract(full_url, '^urn:uuid:(.+)$', 1)) AS ref
    FROM _record
    WHERE full_url IS NOT NULL AND c IS NOT NULL AND request_method IS DISTINCT FROM 'DELETE'
      AND rec_no NOT IN (SELECT rec_no FROM _conflict)
)
GROUP BY source_file, full_url HAVING count(*) = 1;

CREATE OR REPLACE TEMP VIEW _res AS
SELECT rec_no, source_file, source_line, source_entry, full_url, text, file_kind, rtype, c, entry_path
FROM _record
WHERE request_method IS DISTINCT FROM 'DELETE';

CREATE OR REPLACE TEMP TABLE _status_vs AS
SELECT * FROM (VALUES
  ('Observation', ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error',
                   'unknown']),
  ('MedicationStatement', ['active', 'completed', 'entered-in-error', 'intended', 'stopped', 'on-hold', 'unknown',
                           'not-taken']),
  ('MedicationRequest', ['active', 'on-hold', 'cancelled', 'completed', 'entered-in-error', 'stopped', 'draft',
                         'unknown']),
  ('MedicationAdministration', ['in-progress', 'not-done', 'on-hold', 'completed', 'entered-in-error', 'stopped',
                                'unknown']),
  ('Procedure', ['preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'entered-in-error',
                 'unknown'])
) t(rtype, codes);

-- Resource types whose records must point at a Patient to be screened.
CREATE OR REPLACE TEMP TABLE _subject_types AS
SELECT unnest(['Observation', 'Condition', 'MedicationStatement', 'MedicationRequest', 'MedicationAdministration',
               'Procedure', 'Encounter', 'ServiceRequest']) AS rtype;


