-- malabsorption: celiac disease, other malabsorption, bariatric surgery (code list malabsorption; qualifier
-- celiac / other / bariatric), or the lab pattern: latest 25(OH)D < vitamin_d.deficiency_ngml with the latest PTH
-- above its range (qualifier lab_pattern). Labs: lab_latest (model/30_lab_result.sql).
INSERT INTO screen_hits SELECT * FROM coded_cause('malabsorption', 'malabsorption / celiac / bariatric');

INSERT INTO screen_hits
WITH v AS (SELECT * FROM lab_latest WHERE analyte = 'vitamin_d' AND value < $vitamin_d_deficiency_ngml),
     p AS (SELECT * FROM lab_latest WHERE analyte = 'pth' AND value > range_high)
SELECT v.patient_id, 'cause', 'malabsorption', 'Observation/' || x.obs_id, x.value, x.unit, x.eff_date,
       'lab pattern: ' || lab_detail(v.analyte, v.value, v.unit, v.eff_date, false) || ' with '
           || lab_detail(p.analyte, p.value, p.unit, p.eff_date, false) || ' above range',
       x.code, 'lab_pattern'
FROM v JOIN p USING (patient_id)
CROSS JOIN LATERAL (SELECT v.obs_id, v.value, v.unit, v.eff_date, v.code
                    UNION ALL SELECT p.obs_id, p.value, p.unit, p.eff_date, p.code) x;
