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

-- celiac serology positive, not diagnosed (clinical-rules.md 8): the latest tTG-IgA above its reference range
-- (the Observation's own range; tTG cut-offs are assay-specific, so there is no default) or flagged high /
-- positive by its interpretation, with no celiac code (any status). Qualifier celiac_serology; its work-up is a
-- gastroenterology encounter or service request after the result (addressed/workup.sql), never a lab.
INSERT INTO screen_hits
SELECT l.patient_id, 'cause', 'malabsorption', 'Observation/' || l.obs_id, l.value, l.unit, l.eff_date,
       'celiac serology positive, not diagnosed: tTG-IgA' || coalesce(' ' || fmt_num(l.value), '')
           || coalesce(' ' || l.raw_unit, '') || ' (' || fmt_date(l.eff_date) || ') above range',
       l.code, 'celiac_serology'
FROM lab_latest l
WHERE l.analyte = 'ttg_iga'
  AND (l.value > l.range_high OR upper(coalesce(l.interpretation_code, '')) IN ('H', 'HH', 'POS', 'A', 'AA', 'DET'))
  AND NOT EXISTS (SELECT 1 FROM condition_fact c WHERE c.patient_id = l.patient_id AND c.concept = 'malabsorption'
                    AND c.qualifier = 'celiac');
