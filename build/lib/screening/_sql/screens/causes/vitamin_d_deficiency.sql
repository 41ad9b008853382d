-- vitamin_d_deficiency: latest 25(OH)D in the lab window < vitamin_d.deficiency_ngml (20 ng/mL = 50 nmol/L).
-- Repletion does not stop the cause; it can address it (addressed/vitamin_d_repletion.sql).
INSERT INTO screen_hits
SELECT patient_id, 'cause', 'vitamin_d_deficiency', 'Observation/' || obs_id, value, unit, eff_date,
       lab_detail(analyte, value, unit, eff_date, false), code, NULL
FROM lab_latest
WHERE analyte = 'vitamin_d' AND value < $vitamin_d_deficiency_ngml;
