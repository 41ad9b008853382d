-- condition_fact: Conditions and Procedures that belong to a code list, up to the as-of date.
-- Conditions: verification confirmed or absent; date = onset, else recorded date (undated ones count, any time);
-- is_active = clinicalStatus active / recurrence / relapse, or absent without an abatement on or before as-of.
-- Procedures: status completed; they are history (is_active = true: a bariatric operation stays done).
CREATE OR REPLACE TABLE condition_fact AS
SELECT 'Condition/' || c.id AS resource_ref, c.patient_id, cc.concept, cc.qualifier, cc.code,
       coalesce(cc.display, c.code_text) AS display,
       coalesce(c.onset_date, c.recorded_date) AS fact_date,
       CASE WHEN c.clinical_status IS NULL THEN c.abatement_date IS NULL OR c.abatement_date > $as_of
            ELSE c.clinical_status IN ('active', 'recurrence', 'relapse') END AS is_active
FROM condition c
JOIN coding_concept cc ON cc.resource_type = 'Condition' AND cc.resource_id = c.id
WHERE c.patient_id IS NOT NULL
  AND coalesce(c.verification_status, 'confirmed') = 'confirmed'
  AND (coalesce(c.onset_date, c.recorded_date) IS NULL OR coalesce(c.onset_date, c.recorded_date) <= $as_of)
UNION ALL
SELECT 'Procedure/' || p.id, p.patient_id, cc.concept, cc.qualifier, cc.code, coalesce(cc.display, p.code_text),
       p.performed_date, true
FROM procedure p
JOIN coding_concept cc ON cc.resource_type = 'Procedure' AND cc.resource_id = p.id
WHERE p.patient_id IS NOT NULL AND p.status = 'completed'
  AND (p.performed_date IS NULL OR p.performed_date <= $as_of);
