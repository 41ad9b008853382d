-- Addressed by the cause-specific work-up (clinical-rules.md 4 and 7) for malabsorption, hyperthyroidism,
-- hyperparathyroidism, myeloma and cushing: the work-up resulted in the lab window AND osteoporosis therapy in its
-- window; when the patient's only marker is low_z_score, the completed work-up alone addresses the cause.
--   malabsorption       25(OH)D + calcium + PTH (+ tTG-IgA when the cause came from the lab pattern only)
--   hyperthyroidism     latest TSH inside its range
--   hyperparathyroidism PTH + 25(OH)D
--   myeloma             protein electrophoresis or serum free light chains (code list lab_myeloma_workup)
--   cushing             endocrinology encounter / service request (code list endocrinology_followup) in the lab
--                       window, or a cortisol test (lab_cortisol)
--   celiac serology     (malabsorption from a positive tTG-IgA alone) a gastroenterology encounter / service request
--                       after the result (code list gi_followup); labs never count (clinical-rules.md 8)
-- A work-up test can be resulted as an Observation or as a DiagnosticReport with the work-up code (status final /
-- amended / corrected; code lists lab_myeloma_workup, lab_cortisol, or their name patterns for local codes).
CREATE OR REPLACE TABLE workup_evidence AS
WITH reports AS (
    SELECT r.patient_id, substr(v.concept, 5) AS analyte, 'DiagnosticReport/' || r.id AS ref, r.report_date AS eff_date
    FROM diagnostic_report r
    JOIN (SELECT DISTINCT resource_id, concept FROM coding_concept
          WHERE resource_type = 'DiagnosticReport' AND concept IN ('lab_myeloma_workup', 'lab_cortisol')
          UNION
          SELECT r2.id, v2.concept FROM diagnostic_report r2
          JOIN vs_code v2 ON v2.match = 'name' AND v2.concept IN ('lab_myeloma_workup', 'lab_cortisol')
          GROUP BY ALL
          HAVING bool_or(v2.qualifier = 'include' AND name_hit(name_norm(r2.code_text), v2.code_norm))
             AND NOT bool_or(v2.qualifier = 'exclude' AND name_hit(name_norm(r2.code_text), v2.code_norm))
         ) v ON v.resource_id = r.id
    WHERE r.status IN ('final', 'amended', 'corrected') AND r.patient_id IS NOT NULL
      AND r.report_date <= $as_of
      AND r.report_date >= $as_of - to_months(CAST($lookback_lab_months AS INTEGER))
),
labs AS (
    SELECT patient_id, analyte, arg_max(ref, (eff_date, ref)) AS ref, max(eff_date) AS eff_date
    FROM (SELECT patient_id, analyte, 'Observation/' || obs_id AS ref, eff_date FROM lab_result
          UNION ALL SELECT patient_id, analyte, ref, eff_date FROM reports)
    GROUP BY ALL
),
gi AS (
    SELECT e.patient_id, e.resource_type || '/' || e.id AS ref, e.event_date
    FROM care_event e
    WHERE e.event_date <= $as_of
      AND coalesce(e.status, '') NOT IN ('cancelled', 'entered-in-error', 'revoked', 'draft')
      AND (EXISTS (SELECT 1 FROM coding_concept cc WHERE cc.resource_type = e.resource_type
                     AND cc.resource_id = e.id AND cc.concept = 'gi_followup')
           OR EXISTS (SELECT 1 FROM vs_code v WHERE v.concept = 'gi_followup' AND v.match = 'text'
                        AND (contains(lower(e.event_text), v.code_norm)
                             OR EXISTS (SELECT 1 FROM care_event_coding ec WHERE ec.resource_type = e.resource_type
                                          AND ec.event_id = e.id AND contains(lower(ec.display), v.code_norm)))))
),
endo AS (
    SELECT e.patient_id, e.resource_type || '/' || e.id AS ref, e.event_date
    FROM care_event e
    WHERE e.event_date <= $as_of
      AND e.event_date >= $as_of - to_months(CAST($lookback_lab_months AS INTEGER))
      AND coalesce(e.status, '') NOT IN ('cancelled', 'entered-in-error', 'revoked', 'draft')
      AND (EXISTS (SELECT 1 FROM coding_concept cc WHERE cc.resource_type = e.resource_type
                     AND cc.resource_id = e.id AND cc.concept = 'endocrinology_followup')
           OR EXISTS (SELECT 1 FROM vs_code v WHERE v.concept = 'endocrinology_followup' AND v.match = 'text'
                        AND (contains(lower(e.event_text), v.code_norm)
                             OR EXISTS (SELECT 1 FROM care_event_coding ec WHERE ec.resource_type = e.resource_type
                                          AND ec.event_id = e.id AND contains(lower(ec.display), v.code_norm)))))
),
need AS (
    SELECT f.patient_id, f.cause, r.analyte
    FROM fired_cause f
    JOIN (VALUES ('malabsorption', 'vitamin_d'), ('malabsorption', 'calcium'), ('malabsorption', 'pth'),
                 ('malabsorption', 'ttg_iga'), ('hyperparathyroidism', 'pth'),
                 ('hyperparathyroidism', 'vitamin_d'), ('myeloma', 'myeloma_workup')) r(cause, analyte)
      ON r.cause = f.cause
    WHERE NOT (r.analyte = 'ttg_iga' AND f.from_code_or_drug) AND NOT f.only_serology
),
lab_workups AS (
    SELECT n.patient_id, n.cause, count(*) = count(l.ref) AS complete,
           list(l.ref ORDER BY l.ref) FILTER (WHERE l.ref IS NOT NULL) AS refs,
           string_agg(lab_label(n.analyte), ' + ' ORDER BY n.analyte) AS what,
           string_agg(lab_label(n.analyte), ' + ' ORDER BY n.analyte) FILTER (WHERE l.ref IS NULL) AS missing
    FROM need n LEFT JOIN labs l USING (patient_id, analyte)
    GROUP BY ALL
),
serology AS (
    SELECT f.patient_id, f.cause, true AS complete, list(g.ref ORDER BY g.ref) AS refs,
           'gastroenterology follow-up after the positive tTG-IgA' AS what, NULL AS missing
    FROM fired_cause f
    JOIN gi g ON g.patient_id = f.patient_id AND g.event_date >= f.serology_date
    WHERE f.cause = 'malabsorption' AND f.only_serology
    GROUP BY ALL
),
tsh AS (
    SELECT f.patient_id, f.cause, true AS complete, ['Observation/' || t.obs_id] AS refs,
           'TSH ' || fmt_num(t.value) || ' ' || t.unit || ' in range' AS what, NULL AS missing
    FROM fired_cause f JOIN lab_latest t ON t.patient_id = f.patient_id AND t.analyte = 'tsh'
    WHERE f.cause = 'hyperthyroidism' AND t.value BETWEEN t.range_low AND t.range_high
),
cushing AS (
    SELECT f.patient_id, f.cause, true AS complete, list(x.ref ORDER BY x.ref) AS refs,   -- sorted: deterministic
           'endocrinology follow-up / cortisol test' AS what, NULL AS missing
    FROM fired_cause f
    JOIN (SELECT patient_id, ref FROM endo
          UNION ALL SELECT patient_id, ref FROM labs WHERE analyte = 'cortisol') x
      USING (patient_id)
    WHERE f.cause = 'cushing'
    GROUP BY ALL
)
SELECT * FROM lab_workups WHERE complete
UNION ALL SELECT * FROM serology
UNION ALL SELECT * FROM tsh
UNION ALL SELECT * FROM cushing;

-- workup_missing: what is still missing of a lab work-up that is not complete (for the recommended actions).
CREATE OR REPLACE TABLE workup_missing AS
WITH need AS (
    SELECT f.patient_id, f.cause, r.analyte
    FROM fired_cause f
    JOIN (VALUES ('malabsorption', 'vitamin_d'), ('malabsorption', 'calcium'), ('malabsorption', 'pth'),
                 ('malabsorption', 'ttg_iga'), ('hyperparathyroidism', 'pth'),
                 ('hyperparathyroidism', 'vitamin_d')) r(cause, analyte)
      ON r.cause = f.cause
    WHERE NOT (r.analyte = 'ttg_iga' AND f.from_code_or_drug) AND NOT f.only_serology
)
SELECT n.patient_id, n.cause,
       string_agg(lab_label(n.analyte), ' + ' ORDER BY n.analyte) AS missing
FROM need n
WHERE NOT EXISTS (SELECT 1 FROM lab_result l WHERE l.patient_id = n.patient_id AND l.analyte = n.analyte)
GROUP BY ALL;

INSERT INTO screen_hits
WITH only_low_z AS (
    SELECT patient_id FROM screen_hits WHERE kind = 'marker'
    GROUP BY patient_id HAVING bool_and(rule_id = 'low_z_score')
),
op AS (
    SELECT patient_id, arg_max(resource_ref, (end_day, resource_ref)) AS ref,
           arg_max(ingredient, (end_day, resource_ref)) AS ingredient
    FROM op_therapy GROUP BY patient_id
)
SELECT w.patient_id, 'addressed', w.cause, x.ref, NULL, NULL, NULL,
       'addressed ' || w.cause || ': work-up done (' || w.what || ')'
           || CASE WHEN op.patient_id IS NOT NULL THEN ' and osteoporosis therapy ' || op.ingredient
                   ELSE ' (low Z-score only: treated through the cause)' END,
       NULL, CASE WHEN op.patient_id IS NOT NULL THEN 'workup_and_op_therapy' ELSE 'workup_low_z_only' END
FROM workup_evidence w
LEFT JOIN op USING (patient_id)
CROSS JOIN LATERAL (SELECT unnest(w.refs || CASE WHEN op.ref IS NULL THEN [] ELSE [op.ref] END) AS ref) x
WHERE op.patient_id IS NOT NULL OR w.patient_id IN (SELECT patient_id FROM only_low_z);
