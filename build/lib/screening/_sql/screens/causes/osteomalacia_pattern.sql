-- osteomalacia_pattern (safety-relevant cause): latest 25(OH)D < vitamin_d.severe_ngml, or < deficiency_ngml with
-- the latest ALP above its range and the latest phosphate below its range, or an osteomalacia code (M83.x).
INSERT INTO screen_hits SELECT * FROM coded_cause('osteomalacia_pattern', 'osteomalacia');

INSERT INTO screen_hits
SELECT patient_id, 'cause', 'osteomalacia_pattern', 'Observation/' || obs_id, value, unit, eff_date,
       lab_detail(analyte, value, unit, eff_date, false) || ' (severe deficiency)', code, 'severe_vitamin_d'
FROM lab_latest
WHERE analyte = 'vitamin_d' AND value < $vitamin_d_severe_ngml;

INSERT INTO screen_hits
WITH v AS (SELECT * FROM lab_latest WHERE analyte = 'vitamin_d' AND value < $vitamin_d_deficiency_ngml
                                      AND value >= $vitamin_d_severe_ngml),
     a AS (SELECT * FROM lab_latest WHERE analyte = 'alp' AND value > range_high),
     p AS (SELECT * FROM lab_latest WHERE analyte = 'phosphate' AND value < range_low)
SELECT v.patient_id, 'cause', 'osteomalacia_pattern', 'Observation/' || x.obs_id, x.value, x.unit, x.eff_date,
       'lab pattern: ' || lab_detail(v.analyte, v.value, v.unit, v.eff_date, false) || ' with '
           || lab_detail(a.analyte, a.value, a.unit, a.eff_date, false) || ' above range and '
           || lab_detail(p.analyte, p.value, p.unit, p.eff_date, false) || ' below range',
       x.code, 'lab_pattern'
FROM v JOIN a USING (patient_id) JOIN p USING (patient_id)
CROSS JOIN LATERAL (SELECT v.obs_id, v.value, v.unit, v.eff_date, v.code
                    UNION ALL SELECT a.obs_id, a.value, a.unit, a.eff_date, a.code
                    UNION ALL SELECT p.obs_id, p.value, p.unit, p.eff_date, p.code) x;
