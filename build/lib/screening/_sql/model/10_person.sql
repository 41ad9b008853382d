-- screen_person: everyone the screens look at: every Patient, and every patient id that clinical data points to
-- (a patient with data but no Patient resource is still screened, with empty demographics).
CREATE OR REPLACE TABLE screen_person AS
WITH ids AS (
    SELECT id AS patient_id FROM patient
    UNION SELECT patient_id FROM observation
    UNION SELECT patient_id FROM condition
    UNION SELECT patient_id FROM procedure
    UNION SELECT patient_id FROM medication_use
    UNION SELECT patient_id FROM care_event
)
SELECT i.patient_id,
       p.id IS NOT NULL AS has_patient_resource,
       p.mrn, p.family_name, p.given_name, p.gender, p.birth_date,
       coalesce(p.deceased_date <= $as_of, p.deceased, false) AS deceased
FROM ids i
LEFT JOIN patient p ON p.id = i.patient_id
WHERE i.patient_id IS NOT NULL;
