-- Merged patients (patient_link.sql): the rows derived in this load take the final patient of their subject.
-- Only those rows (_typed_key): the others already carry theirs, and moving a row twice would follow a cycle on.
-- patient_link_moved.sql re-derived the rows of every patient whose link changed.
UPDATE observation t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND t.id IN (SELECT id FROM _typed_key WHERE resource_type = 'Observation');
UPDATE condition t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND t.id IN (SELECT id FROM _typed_key WHERE resource_type = 'Condition');
UPDATE procedure t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND t.id IN (SELECT id FROM _typed_key WHERE resource_type = 'Procedure');
UPDATE diagnostic_report t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND t.id IN (SELECT id FROM _typed_key WHERE resource_type = 'DiagnosticReport');
UPDATE document_reference t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND t.id IN (SELECT id FROM _typed_key WHERE resource_type = 'DocumentReference');
UPDATE care_event t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND (t.resource_type, t.id) IN (SELECT resource_type, id FROM _typed_key);
UPDATE medication_use t SET patient_id = l.to_id FROM patient_link l
WHERE t.patient_id = l.from_id AND (t.source_type, t.id) IN (SELECT resource_type, id FROM _typed_key);
