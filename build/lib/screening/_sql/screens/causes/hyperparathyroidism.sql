-- hyperparathyroidism: E21.0-E21.3 and SNOMED equivalents (code list hyperparathyroidism), or the latest
-- (albumin-corrected) calcium above its range (default 10.5 mg/dL) with the latest PTH above its range (65 pg/mL).
INSERT INTO screen_hits SELECT * FROM coded_cause('hyperparathyroidism', 'hyperparathyroidism');

INSERT INTO screen_hits
WITH c AS (SELECT * FROM lab_latest WHERE analyte = 'calcium' AND value > range_high),
     p AS (SELECT * FROM lab_latest WHERE analyte = 'pth' AND value > range_high)
SELECT c.patient_id, 'cause', 'hyperparathyroidism', 'Observation/' || x.obs_id, x.value, x.unit, x.eff_date,
       'lab pattern: ' || lab_detail(c.analyte, c.value, c.unit, c.eff_date, c.albumin_obs_id IS NOT NULL)
           || ' with ' || lab_detail(p.analyte, p.value, p.unit, p.eff_date, false) || ', both above range',
       x.code, 'lab_pattern'
FROM c JOIN p USING (patient_id)
CROSS JOIN LATERAL (SELECT c.obs_id, c.value, c.unit, c.eff_date, c.code
                    UNION ALL SELECT p.obs_id, p.value, p.unit, p.eff_date, p.code) x;
