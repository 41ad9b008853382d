-- condition: one row per Condition; condition_coding: Condition.code.coding exploded.
CREATE OR REPLACE TEMP TABLE _cond AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "clinicalStatus": {"coding": [{"code": "VARCHAR"}]},
         "verificationStatus": {"coding": [{"code": "VARCHAR"}]},
         "category": [{"coding": [{"code": "VARCHAR"}]}],
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "onsetDateTime": "VARCHAR", "onsetPeriod": {"start": "VARCHAR"}, "onsetString": "VARCHAR",
         "abatementDateTime": "VARCHAR", "abatementPeriod": {"end": "VARCHAR"},
         "recordedDate": "VARCHAR"
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type = 'Condition';

CREATE OR REPLACE TEMP VIEW _condition_rows AS
SELECT
    id,
    ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
    j.clinicalStatus.coding[1].code AS clinical_status,
    j.verificationStatus.coding[1].code AS verification_status,
    list_transform(j.category, lambda c: c.coding[1].code) AS category_codes,
    j.code.text AS code_text,
    coalesce(j.onsetDateTime, j.onsetPeriod."start") AS onset_raw,
    fhir_date(coalesce(j.onsetDateTime, j.onsetPeriod."start")) AS onset_date,
    j.recordedDate AS recorded_raw,
    fhir_date(j.recordedDate) AS recorded_date,
    fhir_date(coalesce(j.abatementDateTime, j.abatementPeriod."end")) AS abatement_date,
    version_id, last_updated, source_file, source_line
FROM _cond;
CREATE TABLE IF NOT EXISTS condition AS FROM _condition_rows LIMIT 0;
DELETE FROM condition WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'Condition');
INSERT INTO condition FROM _condition_rows;
DROP VIEW _condition_rows;

CREATE OR REPLACE TEMP VIEW _condition_coding_rows AS
SELECT id AS condition_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _cond)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS condition_coding AS FROM _condition_coding_rows LIMIT 0;
DELETE FROM condition_coding WHERE condition_id IN (SELECT id FROM _typed_key WHERE resource_type = 'Condition');
INSERT INTO condition_coding FROM _condition_coding_rows;
DROP VIEW _condition_coding_rows;

DROP TABLE _cond;
