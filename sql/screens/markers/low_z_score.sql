-- low_z_score: DXA Z-score <= dxa.low_z at any site of the latest Z scan (lumbar spine, total hip, femur,
-- forearm when that scan has no central value), patient >= dxa.z_min_age at the scan. Without a birth date the
-- rule still runs (a data-quality warning says so). Tables: dxa_latest (model/20_dxa_result.sql).
INSERT INTO screen_hits
SELECT d.patient_id, 'marker', 'low_z_score', coalesce(d.report_ref, 'Observation/' || d.obs_id), d.value,
       d.unit, d.eff_date,
       'Z-score ' || coalesce(d.site_text, site_label(d.site)) || ' ' || fmt_num(d.value) || ' ('
           || fmt_date(d.eff_date) || coalesce(', from report text: "' || d.quote || '"', '') || ')',
       d.code, d.site
FROM dxa_latest d
JOIN screen_person p USING (patient_id)
WHERE d.score_type = 'Z' AND d.value <= $dxa_low_z
  AND (p.birth_date IS NULL OR age_at(p.birth_date, d.eff_date) >= $dxa_z_min_age);
