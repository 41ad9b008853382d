-- osteoporosis_t_score: DXA T-score <= dxa.osteoporosis_t at lumbar spine, total hip or femur of the latest T scan
-- (forearm only when that scan has no other site), age >= dxa.t_min_age at the scan, or a woman under it with an
-- active hypogonadism code (postmenopausal by cause). No birth date: T-scores are not used.
-- The lowest site decides, so a normal spine never clears an osteoporotic hip (spine_hip_discordance).
-- t_eligible: per-run TEMP (read only by this run's screens; never persisted).
DROP TABLE IF EXISTS main.t_eligible;
CREATE OR REPLACE TEMP TABLE t_eligible AS
SELECT DISTINCT d.patient_id, d.eff_date
FROM dxa_latest d
JOIN screen_person p USING (patient_id)
WHERE d.score_type = 'T' AND p.birth_date IS NOT NULL
  AND (age_at(p.birth_date, d.eff_date) >= $dxa_t_min_age
       OR (p.gender = 'female' AND EXISTS (SELECT 1 FROM condition_fact c WHERE c.patient_id = d.patient_id
                                             AND c.concept = 'hypogonadism' AND c.is_active)));

INSERT INTO screen_hits
SELECT d.patient_id, 'marker', 'osteoporosis_t_score', coalesce(d.report_ref, 'Observation/' || d.obs_id), d.value,
       d.unit, d.eff_date,
       'T-score ' || coalesce(d.site_text, site_label(d.site)) || ' ' || fmt_num(d.value) || ' ('
           || fmt_date(d.eff_date) || coalesce(', from report text: "' || d.quote || '"', '') || ')',
       d.code, d.site
FROM dxa_latest d
JOIN t_eligible USING (patient_id)
WHERE d.score_type = 'T' AND d.value <= $dxa_osteoporosis_t;
