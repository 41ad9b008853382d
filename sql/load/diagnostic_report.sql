-- diagnostic_report: one row per DiagnosticReport (work-ups resulted as reports: protein electrophoresis, free
-- light chains, cortisol; DXA reports). diagnostic_report_coding: DiagnosticReport.code.coding exploded.
-- report_date = effectiveDateTime / effectivePeriod.start, else issued.
CREATE OR REPLACE TEMP TABLE _dr AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "status": "VARCHAR",
         "category": [{"coding": [{"system": "VARCHAR", "code": "VARCHAR"}], "text": "VARCHAR"}],
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "effectiveDateTime": "VARCHAR", "effectivePeriod": {"start": "VARCHAR"}, "issued": "VARCHAR",
         "result": [{"reference": "VARCHAR"}],
         "conclusion": "VARCHAR",
         "presentedForm": [{"contentType": "VARCHAR"}]
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type = 'DiagnosticReport';

CREATE OR REPLACE TEMP VIEW _diagnostic_report_rows AS
SELECT
    id,
    ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
    j.status AS status,
    coalesce(j.code.text, j.code.coding[1].display) AS code_text,
    fhir_date(coalesce(j.effectiveDateTime, j.effectivePeriod."start", j.issued)) AS report_date,
    list_transform(coalesce(j.result, []), lambda x: ref_id(x.reference, 'Observation')) AS result_obs_ids,
    j.conclusion IS NOT NULL OR len(coalesce(j.presentedForm, [])) > 0 AS has_text,
    version_id, last_updated, source_file, source_line
FROM _dr;
CREATE TABLE IF NOT EXISTS diagnostic_report AS FROM _diagnostic_report_rows LIMIT 0;
DELETE FROM diagnostic_report WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'DiagnosticReport');
INSERT INTO diagnostic_report FROM _diagnostic_report_rows;
DROP VIEW _diagnostic_report_rows;

CREATE OR REPLACE TEMP VIEW _diagnostic_report_coding_rows AS
SELECT id AS report_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.code.coding) AS c FROM _dr)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS diagnostic_report_coding AS FROM _diagnostic_report_coding_rows LIMIT 0;
DELETE FROM diagnostic_report_coding WHERE report_id IN (SELECT id FROM _typed_key WHERE resource_type = 'DiagnosticReport');
INSERT INTO diagnostic_report_coding FROM _diagnostic_report_coding_rows;
DROP VIEW _diagnostic_report_coding_rows;

DROP TABLE _dr;

-- document_reference: only what tells a DXA report apart (code / type, title, date); its text is read elsewhere.
CREATE OR REPLACE TEMP TABLE _doc AS
SELECT r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "status": "VARCHAR", "docStatus": "VARCHAR",
         "type": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "description": "VARCHAR",
         "subject": {"reference": "VARCHAR"},
         "date": "VARCHAR", "context": {"period": {"start": "VARCHAR"}},
         "content": [{"attachment": {"title": "VARCHAR", "contentType": "VARCHAR"}}]
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type = 'DocumentReference';

CREATE OR REPLACE TEMP VIEW _document_reference_rows AS
SELECT id,
       ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
       j.status AS status, j.docStatus AS doc_status,
       concat_ws(' ', j.type.text, j.type.coding[1].display, j.description,
                 list_aggregate(list_transform(coalesce(j.content, []), lambda c: c.attachment.title),
                                'string_agg', ' ')) AS title_text,
       fhir_date(coalesce(j.context.period."start", j.date)) AS doc_date,
       version_id, last_updated, source_file, source_line
FROM _doc;
CREATE TABLE IF NOT EXISTS document_reference AS FROM _document_reference_rows LIMIT 0;
DELETE FROM document_reference WHERE id IN (SELECT id FROM _typed_key WHERE resource_type = 'DocumentReference');
INSERT INTO document_reference FROM _document_reference_rows;
DROP VIEW _document_reference_rows;

CREATE OR REPLACE TEMP VIEW _document_reference_coding_rows AS
SELECT id AS document_id, c.system AS system, c.code AS code, c.display AS display
FROM (SELECT id, unnest(j.type.coding) AS c FROM _doc)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS document_reference_coding AS FROM _document_reference_coding_rows LIMIT 0;
DELETE FROM document_reference_coding WHERE document_id IN (SELECT id FROM _typed_key WHERE resource_type = 'DocumentReference');
INSERT INTO document_reference_coding FROM _document_reference_coding_rows;
DROP VIEW _document_reference_coding_rows;

DROP TABLE _doc;
