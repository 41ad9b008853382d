-- procedure: one row per Procedure; procedure_coding: Procedure.code.coding exploded.
CREATE OR REPLACE TEMP TABLE _proc AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "status": "VARCHAR",
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "performedDateTime": "VARCHAR", "performedPeriod": {"start": "VARCHAR", "end": "VARCHAR"}
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type = 'Procedure';

CREATE OR REPLACE TEMP VIEW _procedure_rows AS
SELECT
    id,
    ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
    j.status AS status,
    j.code.text AS code_text,
    coalesce(j.performedDateTime, j.performedPeriod."start") AS performed_raw,
    fhir_date(coalesce(j.performedDateTime, j.performedPeriod."start")) AS performed_date,
    version_id, last_updated, source_file, source_line
FROM _proc;
CREATE TABLE IF NOT EXISTS procedure AS FROM _procedure_rows LIMIT 0;
DELETE FROM procedure WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'Procedure');
INSERT INTO procedure FROM _procedure_rows;
DROP VIEW _procedure_rows;

CREATE OR REPLACE TEMP VIEW _procedure_coding_rows AS
SELECT id AS procedure_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _proc)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS procedure_coding AS FROM _procedure_coding_rows LIMIT 0;
DELETE FROM procedure_coding WHERE procedure_id IN (SELECT id FROM _typed_key WHERE resource_type = 'Procedure');
INSERT INTO procedure_coding FROM _procedure_coding_rows;
DROP VIEW _procedure_coding_rows;

DROP TABLE _proc;
