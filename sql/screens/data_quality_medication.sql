-- Medication data-quality warnings (kind data_quality; clinical-rules.md 8: nothing ignored in silence). Kept for
-- every patient, listed or not. Tables: med_exposure, med_unused (model/50_medication.sql).
-- medication_no_dates: an active / on-hold use with no date: counted as active on the as-of date only.
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'medication_no_dates', resource_ref, NULL, NULL, CAST($as_of AS DATE),
       ingredient || ' (' || lower(regexp_replace(source_type, '^Medication', '')) || ', status ' || status
           || ') has no dates: counted as active on ' || fmt_date(CAST($as_of AS DATE)) || ' only',
       NULL, ingredient
FROM med_exposure WHERE no_dates;

-- medication_route_unknown: a route text no token recognises; the route then comes from the dose form in the drug
-- name, else only prednisone, prednisolone, methylprednisolone, deflazacort and cortisone count (section 7).
INSERT INTO screen_hits
SELECT DISTINCT s.patient_id, 'data_quality', 'medication_route_unknown', s.resource_ref, NULL, NULL, s.use_start,
       s.ingredient || ' (' || fmt_date(s.use_start) || '): route text ''' || left(s.route_text, 40)
           || ''' not recognised: route taken from the dose form'
           || CASE WHEN s.drug_group = 'glucocorticoid' THEN ' (or counted only for an oral-only glucocorticoid)'
                   ELSE '' END,
       NULL, s.ingredient
FROM med_segment s
WHERE s.route_text_unknown
  AND s.drug_group IN ('glucocorticoid', 'aromatase_inhibitor', 'androgen_deprivation', 'thyroid_hormone',
                       'op_therapy', 'vitamin_d');

-- medication_depot_unknown: a depot product with no labelled interval in config/medications/depots.csv.
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'medication_depot_unknown', resource_ref, NULL, NULL, start_date,
       depot_label || ' (' || fmt_date(start_date) || '): add its row to config/medications/depots.csv',
       NULL, ingredient
FROM med_exposure WHERE depot_unknown;

-- medication_not_used: a record of a screened drug that no rule could use (a dispense not completed, no date).
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'medication_not_used', resource_ref, NULL, NULL, NULL,
       ingredient || ' ' || lower(regexp_replace(split_part(resource_ref, '/', 1), '^Medication', ''))
           || ' not used: ' || reason,
       NULL, ingredient
FROM med_unused;
