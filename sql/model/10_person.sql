-- screen_person: everyone the screens look at: every Patient, and every patient id that clinical data points to
-- (a patient with data but no Patient resource is still screened, with empty demographics). A Patient replaced by
-- another (patient_link, load/patient_link.sql) is not a person of its own: its data already sits on the target.
-- deceased: deceasedBoolean true, or a deceasedDateTime on or before the as-of date (clinical-rules.md 8).
CREATE OR REPLACE TABLE screen_person AS
WITH ids AS (
    SELECT id AS patient_id FROM patient
    UNION SELECT patient_id FROM observation
    UNION SELECT patient_id FROM condition
    UNION SELECT patient_id FROM procedure
    UNION SELECT patient_id FROM medication_use
    UNION SELECT patient_id FROM care_event
    UNION SELECT patient_id FROM diagnostic_report
    UNION SELECT patient_id FROM document_reference
)
SELECT i.patient_id,
       p.id IS NOT NULL AS has_patient_resource,
       p.mrn, p.family_name, p.given_name, p.gender, p.birth_date,
       coalesce(p.deceased_date <= $as_of, p.deceased, false) AS deceased,
       coalesce(m.n, 0) AS merged_records
FROM ids i
LEFT JOIN patient p ON p.id = i.patient_id
LEFT JOIN (SELECT to_id, count(*) AS n FROM patient_link GROUP BY to_id) m ON m.to_id = i.patient_id
WHERE i.patient_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM patient_link l WHERE l.from_id = i.patient_id);
