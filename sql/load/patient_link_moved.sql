-- Incremental maintenance only (screening/load/typed.py), after patient_link.sql: a patient whose merge link
-- changed (a link added, removed or pointing elsewhere, also through a chain) moves its resources. Their typed rows
-- carry the old final patient, not the subject as written, so every row showing a patient whose link changed (or
-- its old target) is derived again from resource_raw: it joins _typed_key and _typed_src.
CREATE OR REPLACE TEMP TABLE _link_moved AS
WITH gone AS (FROM _link_old EXCEPT FROM patient_link),
     came AS (FROM patient_link EXCEPT FROM _link_old)
SELECT from_id AS patient_id FROM gone
UNION SELECT to_id FROM gone
UNION SELECT from_id FROM came;

CREATE OR REPLACE TEMP TABLE _link_key AS
SELECT * FROM (
    SELECT 'Observation' AS resource_type, id FROM observation WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT 'Condition', id FROM condition WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT 'Procedure', id FROM procedure WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT resource_type, id FROM care_event WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT source_type, id FROM medication_use WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT 'DiagnosticReport', id FROM diagnostic_report WHERE patient_id IN (FROM _link_moved)
    UNION ALL SELECT 'DocumentReference', id FROM document_reference WHERE patient_id IN (FROM _link_moved)
) k
WHERE NOT EXISTS (SELECT 1 FROM _typed_key t WHERE t.resource_type = k.resource_type AND t.id = k.id);

INSERT INTO _typed_key FROM _link_key;
INSERT INTO _typed_src SELECT r.* FROM resource_raw r SEMI JOIN _link_key k USING (resource_type, id);

DROP TABLE _link_key;
DROP TABLE _link_moved;
DROP TABLE _link_old;
