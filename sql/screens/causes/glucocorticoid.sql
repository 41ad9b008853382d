-- glucocorticoid: systemic glucocorticoid >= glucocorticoid.min_days merged days in the exposure window at a
-- known-dose mean >= glucocorticoid.min_mean_mg prednisone-equivalent (the threshold applies when at least half of
-- the merged days have a known dose; otherwise "dose unknown"), or an active order whose supply x (1 + repeats)
-- reaches min_days. Tables: gc_interval, gc_day, gc_exposure (model/55_medication_facts.sql).
-- qualifier: high_dose (mean >= high_dose_mg with a known dose on the as-of date), dose_unknown,
-- dose_partly_unknown or dose_known.
INSERT INTO screen_hits
WITH g AS (
    SELECT g.*, (SELECT string_agg(DISTINCT ingredient, ', ' ORDER BY ingredient) FROM gc_interval i
                 WHERE i.patient_id = g.patient_id) AS ingredients
    FROM gc_exposure g WHERE g.fires
),
refs AS (SELECT DISTINCT patient_id, resource_ref FROM gc_interval)
SELECT i.patient_id, 'cause', 'glucocorticoid', i.resource_ref, CASE WHEN g.dose_known THEN g.mean_mg END, 'mg/day',
       g.last_day,
       'glucocorticoid (' || g.ingredients || ') ' || g.merged_days || ' days in the last '
           || $lookback_gc_window_months || ' months, '
           || CASE WHEN g.dose_known AND g.dose_partly_unknown
                       THEN 'mean ' || fmt_num(g.mean_mg) || ' mg/day prednisone-equivalent over the '
                            || g.known_days || ' days of known dose (dose partly unknown)'
                   WHEN g.dose_known THEN 'mean ' || fmt_num(g.mean_mg) || ' mg/day prednisone-equivalent'
                   WHEN g.mean_mg IS NOT NULL THEN 'dose unknown (known on ' || g.known_days || ' days only)'
                   ELSE 'dose unknown' END
           || CASE WHEN g.merged_days < $glucocorticoid_min_days THEN ', order for '
                        || $glucocorticoid_min_days || '+ days' ELSE '' END,
       NULL, CASE WHEN g.high_dose THEN 'high_dose' WHEN NOT g.dose_known THEN 'dose_unknown'
                  WHEN g.dose_partly_unknown THEN 'dose_partly_unknown' ELSE 'dose_known' END
FROM refs i JOIN g USING (patient_id);
