-- encounter / service_request: only what the screens need (cushing follow-up: endocrinology visit or referral).
CREATE OR REPLACE TEMP TABLE _enc AS
SELECT r.resource_type, r.id, r.source_file, r.source_line, r.version_id, r.last_updated,
       json_transform(r.body, '{
         "status": "VARCHAR",
         "type": [{"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"}],
         "serviceType": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "code": {"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "period": {"start": "VARCHAR", "end": "VARCHAR"},
         "authoredOn": "VARCHAR", "occurrenceDateTime": "VARCHAR"
       }') AS j,
       m.ref AS mapped_subject
FROM _typed_src r
LEFT JOIN bundle_ref_map m
  ON m.source_file = r.source_file AND m.full_url = json_extract_string(r.body, '$.subject.reference')
WHERE r.resource_type IN ('Encounter', 'ServiceRequest');

-- care_event: Encounters and ServiceRequests with every coding of their type / serviceType / code.
CREATE OR REPLACE TEMP VIEW _care_event_rows AS
SELECT resource_type, id,
       ref_id(coalesce(mapped_subject, j.subject.reference), 'Patient') AS patient_id,
       j.status AS status,
       fhir_date(coalesce(j.period."start", j.occurrenceDateTime, j.authoredOn)) AS event_date,
       coalesce(j.serviceType.text, j.type[1].text, j.code.text, j.type[1].coding[1].display) AS event_text,
       version_id, last_updated, source_file, source_line
FROM _enc;
CREATE TABLE IF NOT EXISTS care_event AS FROM _care_event_rows LIMIT 0;
DELETE FROM care_event WHERE (resource_type, id) IN (SELECT resource_type, id FROM _typed_key);
INSERT INTO care_event FROM _care_event_rows;
DROP VIEW _care_event_rows;

CREATE OR REPLACE TEMP VIEW _care_event_coding_rows AS
SELECT resource_type, id AS event_id, c.system AS system, c.code AS code, c.display AS display
FROM (
    SELECT resource_type, id,
           unnest(flatten([coalesce(j.serviceType.coding, []), coalesce(j.code.coding, []),
                           flatten(coalesce(list_transform(j.type, lambda t: t.coding), []))])) AS c
    FROM _enc
)
WHERE c.code IS NOT NULL;
CREATE TABLE IF NOT EXISTS care_event_coding AS FROM _care_event_coding_rows LIMIT 0;
DELETE FROM care_event_coding WHERE (resource_type, event_id) IN (SELECT resource_type, id FROM _typed_key);
INSERT INTO care_event_coding FROM _care_event_coding_rows;
DROP VIEW _care_event_coding_rows;

DROP TABLE _enc;
