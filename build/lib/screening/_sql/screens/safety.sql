-- safety (always listed, whatever else holds): osteomalacia_pattern or the latest (albumin-corrected) calcium below
-- its range, while zoledronic acid or denosumab is active (inside its osteoporosis-therapy window) or ordered
-- (an active / on-hold order, even one that starts after the as-of date).
INSERT INTO screen_hits
WITH trig AS (
    SELECT patient_id, resource_ref, 'osteomalacia pattern' AS what FROM screen_hits
    WHERE kind = 'cause' AND rule_id = 'osteomalacia_pattern'
    UNION ALL
    SELECT patient_id, 'Observation/' || obs_id,
           lab_detail(analyte, value, unit, eff_date, albumin_obs_id IS NOT NULL) || ' below range'
    FROM lab_latest WHERE analyte = 'calcium' AND value < range_low
),
drug AS (
    SELECT o.patient_id, o.resource_ref, o.ingredient FROM op_therapy o
    JOIN med_exposure e ON e.resource_ref = o.resource_ref AND e.ingredient = o.ingredient
    WHERE e.op_class IN ('zoledronic_acid', 'denosumab')
    UNION ALL
    SELECT patient_id, resource_ref, ingredient FROM med_exposure
    WHERE op_class IN ('zoledronic_acid', 'denosumab') AND source_type = 'MedicationRequest'
      AND status IN ('active', 'on-hold') AND NOT started
),
pairs AS (
    SELECT t.patient_id,
           string_agg(DISTINCT t.what, ', ' ORDER BY t.what) AS what_t,
           string_agg(DISTINCT d.ingredient, ', ' ORDER BY d.ingredient) AS what_d,
           list(DISTINCT t.resource_ref) || list(DISTINCT d.resource_ref) AS refs
    FROM trig t JOIN drug d USING (patient_id)
    GROUP BY t.patient_id
)
SELECT patient_id, 'safety', 'safety', unnest(refs), NULL, NULL, CAST($as_of AS DATE),
       'SAFETY: ' || what_t || ' while ' || what_d || ' is active or ordered', NULL, NULL
FROM pairs;
