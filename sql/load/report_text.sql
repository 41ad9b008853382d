-- Report documents (DiagnosticReport, DocumentReference) and their text sources, for reading DXA results written
-- as text (clinical-rules.md section 8, "DXA report as text"; screening/reports).
-- report_doc: one row per report. report_ref = 'DiagnosticReport/<id>' | 'DocumentReference/<id>'.
--   effective_date: DiagnosticReport effectiveDateTime / effectivePeriod.start, DocumentReference
--   context.period.start; issued_date: DiagnosticReport issued, DocumentReference date (the scan-date fallbacks).
--   title: code/type text or display, description, first attachment title (used to recognise a DXA report).
-- report_doc_coding: code (DiagnosticReport.code, DocumentReference.type) and category codings.
-- report_text_source: one row per text source: the conclusion, each presentedForm, each content.attachment.
--   An attachment url pointing at a Binary of the same load (Binary/<id>, a full URL ending in it, or a Bundle
--   fullUrl) is resolved here: binary_id, and its contentType fills in the attachment's. The base64 data itself
--   is not copied (most reports are not DXA reports): the model reads it from resource_raw for DXA reports only.
CREATE OR REPLACE TEMP TABLE _rep AS
SELECT r.resource_type, r.id, r.source_file,
       json_transform(r.body, '{
         "status": "VARCHAR", "docStatus": "VARCHAR", "description": "VARCHAR", "conclusion": "VARCHAR",
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "type": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "category": [{"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}],
                       "text": "VARCHAR"}],
         "subject": {"reference": "VARCHAR"},
         "effectiveDateTime": "VARCHAR", "effectivePeriod": {"start": "VARCHAR"}, "issued": "VARCHAR",
         "date": "VARCHAR", "context": {"period": {"start": "VARCHAR"}},
         "presentedForm": [{"contentType": "VARCHAR", "data": "VARCHAR", "url": "VARCHAR", "title": "VARCHAR"}],
         "content": [{"attachment": {"contentType": "VARCHAR", "data": "VARCHAR", "url": "VARCHAR",
                                     "title": "VARCHAR"}}]
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type IN ('DiagnosticReport', 'DocumentReference');

CREATE OR REPLACE TEMP VIEW _report_doc_rows AS
SELECT resource_type || '/' || id AS report_ref, resource_type, id,
       ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
       j.status AS status, j.docStatus AS doc_status,
       fhir_date(CASE WHEN resource_type = 'DiagnosticReport'
                      THEN coalesce(j.effectiveDateTime, j.effectivePeriod."start")
                      ELSE j.context.period."start" END) AS effective_date,
       fhir_date(CASE WHEN resource_type = 'DiagnosticReport' THEN j.issued ELSE j.date END) AS issued_date,
       concat_ws(' | ', coalesce(j.code.text, j.type.text), j.code.coding[1].display, j.type.coding[1].display,
                 j.description, j.presentedForm[1].title, j.content[1].attachment.title) AS title,
       (len(coalesce(j.code.coding, [])) + len(coalesce(j.type.coding, []))) = 0 AS uncoded,
       source_file
FROM _rep;
CREATE TABLE IF NOT EXISTS report_doc AS FROM _report_doc_rows LIMIT 0;
DELETE FROM report_doc WHERE report_ref IN (SELECT resource_type || '/' || id FROM _typed_key
                     WHERE resource_type IN ('DiagnosticReport', 'DocumentReference'));
INSERT INTO report_doc FROM _report_doc_rows;
DROP VIEW _report_doc_rows;

CREATE OR REPLACE TEMP VIEW _report_doc_coding_rows AS
WITH c AS (
    SELECT resource_type || '/' || id AS report_ref, unnest(coalesce(j.code.coding, j.type.coding)) AS c FROM _rep
    UNION ALL
    SELECT resource_type || '/' || id, unnest(cat.coding)
    FROM (SELECT resource_type, id, unnest(j.category) AS cat FROM _rep)
)
SELECT report_ref, c.system AS system, c.code AS code, c.display AS display FROM c WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS report_doc_coding AS FROM _report_doc_coding_rows LIMIT 0;
DELETE FROM report_doc_coding WHERE report_ref IN (SELECT resource_type || '/' || id FROM _typed_key
                     WHERE resource_type IN ('DiagnosticReport', 'DocumentReference'));
INSERT INTO report_doc_coding FROM _report_doc_coding_rows;
DROP VIEW _report_doc_coding_rows;

CREATE OR REPLACE TEMP TABLE _att AS
SELECT resource_type || '/' || id AS report_ref, source_file, 'conclusion' AS part, 0 AS part_index,
       'text/plain' AS content_type, j.conclusion AS inline_text, NULL::VARCHAR AS data, NULL::VARCHAR AS url
FROM _rep WHERE j.conclusion IS NOT NULL AND trim(j.conclusion) <> ''
UNION ALL
SELECT resource_type || '/' || id, source_file, 'presentedForm', generate_subscripts(j.presentedForm, 1) - 1,
       unnest(j.presentedForm).contentType, NULL, unnest(j.presentedForm).data, unnest(j.presentedForm).url
FROM _rep WHERE j.presentedForm IS NOT NULL
UNION ALL
SELECT resource_type || '/' || id, source_file, 'content', generate_subscripts(j.content, 1) - 1,
       unnest(j.content).attachment.contentType, NULL, unnest(j.content).attachment.data,
       unnest(j.content).attachment.url
FROM _rep WHERE j.content IS NOT NULL;

-- Only the Binaries an attachment of these reports points at (their data can be large).
CREATE OR REPLACE TEMP TABLE _bin AS
SELECT id, json_extract_string(body, '$.contentType') AS content_type, json_extract_string(body, '$.data') AS data
FROM resource_raw
WHERE resource_type = 'Binary'
  AND id IN (SELECT coalesce(ref_id(m.ref, 'Binary'), ref_id(a.url, 'Binary'))
             FROM _att a LEFT JOIN bundle_ref_map m ON m.source_file = a.source_file AND m.full_url = a.url
             WHERE a.url IS NOT NULL);

CREATE OR REPLACE TEMP VIEW _report_text_source_rows AS
SELECT a.report_ref, a.part, a.part_index, coalesce(a.content_type, b.content_type) AS content_type,
       a.inline_text, length(coalesce(a.data, b.data)) AS data_chars, a.url,
       CASE WHEN a.data IS NULL THEN b.id END AS binary_id,
       a.data IS NULL AND a.url IS NOT NULL AND b.id IS NULL AS url_unresolved
FROM _att a
LEFT JOIN bundle_ref_map m ON m.source_file = a.source_file AND m.full_url = a.url
LEFT JOIN _bin b ON b.id = coalesce(ref_id(m.ref, 'Binary'), ref_id(a.url, 'Binary'));
CREATE TABLE IF NOT EXISTS report_text_source AS FROM _report_text_source_rows LIMIT 0;
DELETE FROM report_text_source WHERE report_ref IN (SELECT resource_type || '/' || id FROM _typed_key
                     WHERE resource_type IN ('DiagnosticReport', 'DocumentReference'));
INSERT INTO report_text_source FROM _report_text_source_rows;
DROP VIEW _report_text_source_rows;

DROP TABLE _rep;
DROP TABLE _att;
DROP TABLE _bin;
