-- Addressed by vitamin D repletion (clinical-rules.md 7): vitamin_d_deficiency / osteomalacia_pattern are
-- addressed when repletion is active (vitd_repletion), the latest 25(OH)D exists, at most one value in the lab
-- window is under vitamin_d.deficiency_ngml, and a low latest value is at most vitamin_d.repeat_months old.
-- Calcium + vitamin D never addresses any other cause.
INSERT INTO screen_hits
WITH vd AS (
    SELECT patient_id, count(*) FILTER (WHERE value < $vitamin_d_deficiency_ngml) AS n_low
    FROM lab_result WHERE analyte = 'vitamin_d' AND convertible AND value IS NOT NULL GROUP BY patient_id
),
ok AS (
    SELECT l.patient_id, l.obs_id, l.value, l.eff_date
    FROM lab_latest l JOIN vd USING (patient_id)
    WHERE l.analyte = 'vitamin_d' AND vd.n_low <= 1
      AND (l.value >= $vitamin_d_deficiency_ngml
           OR l.eff_date >= $as_of - to_months(CAST($vitamin_d_repeat_months AS INTEGER)))
),
rep AS (
    SELECT patient_id, arg_max(resource_ref, (start_date, resource_ref)) AS ref,
           arg_max(ingredient, (start_date, resource_ref)) AS ingredient
    FROM vitd_repletion GROUP BY patient_id
)
SELECT f.patient_id, 'addressed', f.cause, x.ref, NULL, NULL, ok.eff_date,
       'addressed ' || f.cause || ': vitamin D repletion (' || rep.ingredient || ') active',
       NULL, 'vitamin_d_repletion'
FROM fired_cause f
JOIN rep USING (patient_id)
JOIN ok USING (patient_id)
CROSS JOIN LATERAL (SELECT rep.ref AS ref UNION ALL SELECT 'Observation/' || ok.obs_id) x
WHERE f.cause IN ('vitamin_d_deficiency', 'osteomalacia_pattern');
