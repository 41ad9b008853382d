-- glucocorticoid: systemic glucocorticoid >= glucocorticoid.min_days merged days in the exposure window at a mean
-- >= glucocorticoid.min_mean_mg prednisone-equivalent (or at unknown dose: "dose unknown"), or an active order
-- whose supply x (1 + repeats) reaches min_days. Tables: gc_interval, gc_exposure (model/55_medication_facts.sql).
-- qualifier: high_dose (mean >= high_dose_mg and current), dose_unknown, or dose_known.
INSERT INTO screen_hits
WITH g AS (
    SELECT g.*, (SELECT string_agg(DISTINCT ingredient, ', ' ORDER BY ingredient) FROM gc_interval i
                 WHERE i.patient_id = g.patient_id) AS ingredients
    FROM gc_exposure g WHERE g.fires
)
SELECT i.patient_id, 'cause', 'glucocorticoid', i.resource_ref, g.mean_mg, 'mg/day', g.last_day,
       'glucocorticoid (' || g.ingredients || ') ' || g.merged_days || ' days in the last '
           || $lookback_gc_window_months || ' months, '
           || CASE WHEN g.mean_mg IS NOT NULL THEN 'mean ' || fmt_num(g.mean_mg) || ' mg/day prednisone-equivalent'
                   ELSE 'dose unknown' END
           || CASE WHEN g.merged_days < $glucocorticoid_min_days THEN ', order for '
                        || $glucocorticoid_min_days || '+ days' ELSE '' END,
       NULL, CASE WHEN g.high_dose THEN 'high_dose' WHEN NOT g.dose_known THEN 'dose_unknown' ELSE 'dose_known' END
FROM gc_interval i JOIN g USING (patient_id);
