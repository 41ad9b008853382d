-- condition_fact: Conditions and Procedures that belong to a code list, up to the as-of date.
-- Conditions: verification confirmed or absent; date = onset, else recorded date (undated ones count, any time);
-- is_active = clinicalStatus active / recurrence / relapse, or absent without an abatement on or before as-of.
-- History rules (clinical-rules.md 8): celiac disease, bariatric surgery and myeloma / MGUS count at any
-- clinicalStatus (is_active = true, history = true) as long as verificationStatus is not refuted or
-- entered-in-error (unconfirmed / provisional / differential included). Other causes keep section 1.
-- Procedures: status completed; a bariatric Procedure counts unless not-done / entered-in-error. They are history
-- (is_active = true: an operation stays done).
CREATE OR REPLACE MACRO is_history_concept(concept, qualifier) AS
    concept = 'myeloma' OR (concept = 'malabsorption' AND qualifier IN ('celiac', 'bariatric'));

CREATE OR REPLACE TABLE condition_fact AS
SELECT 'Condition/' || c.id AS resource_ref, c.patient_id, cc.concept, cc.qualifier, cc.code,
       coalesce(c.code_text, cc.display) AS display,
       coalesce(c.onset_date, c.recorded_date) AS fact_date,
       is_history_concept(cc.concept, cc.qualifier)
       OR CASE WHEN c.clinical_status IS NULL THEN c.abatement_date IS NULL OR c.abatement_date > $as_of
               ELSE c.clinical_status IN ('active', 'recurrence', 'relapse') END AS is_active,
       is_history_concept(cc.concept, cc.qualifier)
       AND NOT coalesce(c.clinical_status IN ('active', 'recurrence', 'relapse'), c.clinical_status IS NULL)
           AS history_only,
       c.clinical_status
FROM condition c
JOIN coding_concept cc ON cc.resource_type = 'Condition' AND cc.resource_id = c.id
WHERE c.patient_id IS NOT NULL
  AND (coalesce(c.verification_status, 'confirmed') = 'confirmed'
       OR (is_history_concept(cc.concept, cc.qualifier)
           AND c.verification_status NOT IN ('refuted', 'entered-in-error')))
  AND (coalesce(c.onset_date, c.recorded_date) IS NULL OR coalesce(c.onset_date, c.recorded_date) <= $as_of)
UNION ALL
SELECT 'Procedure/' || p.id, p.patient_id, cc.concept, cc.qualifier, cc.code, coalesce(p.code_text, cc.display),
       p.performed_date, true, false, NULL
FROM procedure p
JOIN coding_concept cc ON cc.resource_type = 'Procedure' AND cc.resource_id = p.id
WHERE p.patient_id IS NOT NULL
  AND (p.status = 'completed'
       OR (is_history_concept(cc.concept, cc.qualifier)
           AND coalesce(p.status, '') NOT IN ('not-done', 'entered-in-error', 'preparation')))
  AND (p.performed_date IS NULL OR p.performed_date <= $as_of);

-- hospice_patient: hospice / palliative care in the lookback.hospice_months before as-of (clinical-rules.md 8):
-- an encounter or service request (not cancelled / entered-in-error / revoked / draft) dated in that window, a
-- procedure done in it, or an active condition dated in it (or undated). Code list: hospice_palliative.
CREATE OR REPLACE TABLE hospice_patient AS
WITH since AS (SELECT CAST($as_of AS DATE) - to_months(CAST($lookback_hospice_months AS INTEGER)) AS d)
SELECT patient_id, arg_min(ref, ref) AS resource_ref, max(fact_date) AS fact_date
FROM (
    SELECT e.patient_id, e.resource_type || '/' || e.id AS ref, e.event_date AS fact_date
    FROM care_event e
    JOIN coding_concept cc ON cc.resource_type = e.resource_type AND cc.resource_id = e.id
                          AND cc.concept = 'hospice_palliative'
    WHERE coalesce(e.status, '') NOT IN ('cancelled', 'entered-in-error', 'revoked', 'draft')
      AND e.event_date <= $as_of AND e.event_date >= (SELECT d FROM since)
    UNION ALL
    SELECT patient_id, resource_ref, fact_date FROM condition_fact
    WHERE concept = 'hospice_palliative' AND is_active
      AND (fact_date IS NULL OR fact_date >= (SELECT d FROM since))
)
WHERE patient_id IS NOT NULL
GROUP BY patient_id;
