-- spine_hip_discordance (modifier, goes into evidence): on the latest T scan the lumbar-spine T-score is >=
-- dxa.discordance_sd higher than the lowest hip/femur T-score of the same date, or the patient has lumbar
-- spondylosis / aortic calcification (code list spine_artifact) or a vertebral fracture code and a T scan.
-- Classification already uses the lowest site, so the hip decides (osteoporosis_t_score).
INSERT INTO screen_hits
WITH scan AS (
    SELECT patient_id, eff_date,
           min(value) FILTER (WHERE site = 'lumbar_spine') AS spine_t,
           arg_min(coalesce(report_ref, 'Observation/' || obs_id), (value, obs_id))
               FILTER (WHERE site = 'lumbar_spine') AS spine_obs,
           min(value) FILTER (WHERE site IN ('total_hip', 'femur')) AS hip_t,
           arg_min(coalesce(report_ref, 'Observation/' || obs_id), (value, obs_id))
               FILTER (WHERE site IN ('total_hip', 'femur')) AS hip_obs,
           arg_min(site, (value, obs_id)) FILTER (WHERE site IN ('total_hip', 'femur')) AS hip_site
    FROM dxa_latest WHERE score_type = 'T' GROUP BY ALL
),
by_score AS (
    SELECT patient_id, hip_obs AS ref, spine_t - hip_t AS gap, eff_date,
           'spine BMD may be falsely elevated (lumbar spine T ' || fmt_num(spine_t) || ' vs ' || site_label(hip_site)
               || ' T ' || fmt_num(hip_t) || ', ' || fmt_date(eff_date) || ')' AS detail, 'score_gap' AS q
    FROM scan WHERE spine_t - hip_t >= $dxa_discordance_sd
    UNION ALL
    SELECT patient_id, spine_obs, spine_t - hip_t, eff_date, NULL, 'score_gap'
    FROM scan WHERE spine_t - hip_t >= $dxa_discordance_sd
),
by_code AS (
    SELECT c.patient_id, c.resource_ref AS ref, NULL::DOUBLE AS gap, c.fact_date AS eff_date,
           'spine BMD may be falsely elevated (' || CASE WHEN c.concept = 'fracture' THEN 'vertebral fracture'
                                                         ELSE 'spondylosis / aortic calcification' END
               || ' coded: ' || display_or_code(c.display, c.code) || ')' AS detail, 'code' AS q
    FROM condition_fact c
    JOIN scan s USING (patient_id)
    WHERE (c.concept = 'spine_artifact' AND c.is_active)
       OR (c.concept = 'fracture' AND c.qualifier IN ('vertebral', 'osteoporotic_vertebral'))
)
SELECT patient_id, 'modifier', 'spine_hip_discordance', ref, gap, NULL, eff_date, detail, NULL, q
FROM (SELECT * FROM by_score UNION ALL SELECT * FROM by_code);
