-- unexplained: low_z_score and no section-3 cause at all (an addressed cause still explains), unless the tier-1
-- panel was resulted in the lab window: calcium, phosphate, ALP, creatinine or eGFR, 25(OH)D, TSH, and testosterone
-- for men. Backed by the low Z-score observation(s); the detail names what is missing.
-- tier1_panel: per-run TEMP (never persisted), one row per patient with a low Z-score marker: only they can be
-- `unexplained`, and the worklist's action for that cause reads the missing tests from here.
DROP TABLE IF EXISTS main.tier1_panel;
CREATE OR REPLACE TEMP TABLE tier1_panel AS
WITH need AS (
    SELECT p.patient_id, t.test
    FROM screen_person p
    CROSS JOIN (VALUES ('calcium'), ('phosphate'), ('alp'), ('creatinine_or_egfr'), ('vitamin_d'), ('tsh'),
                       ('testosterone')) t(test)
    WHERE (t.test <> 'testosterone' OR p.gender = 'male')
      AND p.patient_id IN (SELECT patient_id FROM screen_hits WHERE kind = 'marker' AND rule_id = 'low_z_score')
),
have AS (
    SELECT DISTINCT patient_id,
           CASE WHEN analyte IN ('creatinine', 'egfr') THEN 'creatinine_or_egfr' ELSE analyte END AS test
    FROM lab_result
)
SELECT n.patient_id, list(n.test ORDER BY n.test) FILTER (WHERE h.test IS NULL) AS missing
FROM need n LEFT JOIN have h USING (patient_id, test)
GROUP BY n.patient_id;

INSERT INTO screen_hits
SELECT z.patient_id, 'cause', 'unexplained', z.resource_ref, z.value, NULL, z.evidence_date,
       'no secondary cause found and the tier-1 lab panel is incomplete (missing: '
           || array_to_string(list_transform(t.missing, lambda x: replace(lab_label(x), '_', ' ')), ', ') || ')',
       NULL, NULL
FROM screen_hits z
JOIN tier1_panel t USING (patient_id)
WHERE z.kind = 'marker' AND z.rule_id = 'low_z_score' AND len(t.missing) > 0
  AND z.patient_id NOT IN (SELECT patient_id FROM screen_hits WHERE kind = 'cause');
