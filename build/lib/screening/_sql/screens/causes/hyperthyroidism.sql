-- hyperthyroidism: hyperthyroidism / thyrotoxicosis / Graves (code list hyperthyroidism), or levothyroxine /
-- liothyronine covering the as-of date with the latest TSH < thyroid.suppressed_tsh mIU/L. A thyroid-cancer code
-- (code list thyroid_cancer, any status) switches off the levothyroxine/TSH path and thyrotoxicosis factitia only.
CREATE OR REPLACE TABLE thyroid_cancer_patient AS
SELECT DISTINCT patient_id FROM condition_fact WHERE concept = 'thyroid_cancer';

INSERT INTO screen_hits
SELECT * FROM coded_cause('hyperthyroidism', 'hyperthyroidism / thyrotoxicosis')
WHERE coalesce(qualifier, '') <> 'factitia' OR patient_id NOT IN (SELECT patient_id FROM thyroid_cancer_patient);

INSERT INTO screen_hits
WITH t AS (SELECT * FROM lab_latest WHERE analyte = 'tsh' AND value < $thyroid_suppressed_tsh),
     m AS (SELECT * FROM med_exposure WHERE drug_group = 'thyroid_hormone' AND covers_as_of)
SELECT t.patient_id, 'cause', 'hyperthyroidism', x.ref, t.value, t.unit, t.eff_date,
       m.ingredient || ' active with ' || lab_detail(t.analyte, t.value, t.unit, t.eff_date, false),
       t.code, 'suppressed_tsh'
FROM t JOIN m USING (patient_id)
CROSS JOIN LATERAL (SELECT 'Observation/' || t.obs_id AS ref UNION ALL SELECT m.resource_ref) x
WHERE t.patient_id NOT IN (SELECT patient_id FROM thyroid_cancer_patient);
