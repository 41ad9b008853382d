-- Addressed by osteoporosis pharmacotherapy (clinical-rules.md 4): glucocorticoid, aromatase_inhibitor,
-- androgen_deprivation, inflammatory_disease, hypogonadism are addressed when any osteoporosis drug is inside its
-- window (table op_therapy: oral bisphosphonate / raloxifene 6 months, zoledronic acid 24, ibandronate IV 4,
-- denosumab 7, teriparatide / abaloparatide 3, romosozumab 2; counted back from the interval end / dose date).
-- fired_cause: one row per patient and cause; from_code_or_drug = some evidence is a code or a drug (not only a lab
-- pattern / positive serology); only_serology = malabsorption from a positive tTG-IgA alone (celiac not diagnosed).
CREATE OR REPLACE TABLE fired_cause AS
SELECT patient_id, rule_id AS cause,
       bool_or(coalesce(qualifier, '') NOT IN ('lab_pattern', 'celiac_serology')) AS from_code_or_drug,
       bool_and(coalesce(qualifier, '') = 'celiac_serology') AS only_serology,
       max(evidence_date) FILTER (WHERE qualifier = 'celiac_serology') AS serology_date
FROM screen_hits WHERE kind = 'cause' GROUP BY ALL;

INSERT INTO screen_hits
SELECT f.patient_id, 'addressed', f.cause, o.resource_ref, NULL, NULL, least(o.end_day, $as_of),
       'addressed ' || f.cause || ': osteoporosis therapy ' || o.ingredient
           || CASE WHEN o.covers_as_of THEN ' active' ELSE ' (last ' || fmt_date(o.end_day) || ')' END,
       NULL, 'op_therapy'
FROM fired_cause f
JOIN op_therapy o USING (patient_id)
WHERE f.cause IN ('glucocorticoid', 'aromatase_inhibitor', 'androgen_deprivation', 'inflammatory_disease',
                  'hypogonadism');
