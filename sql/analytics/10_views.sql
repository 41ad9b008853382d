-- The `analytics` schema: the stable interface analysts query in the published snapshot
-- (<db>.analytics.duckdb). Pipeline internals (staging, screen_hits, model tables) stay in `main` and may change
-- between releases; these views keep their columns (docs/schema.md, "analytics schema").
CREATE SCHEMA IF NOT EXISTS analytics;

-- One row per patient: demographics, latest DXA per site and score type, exposures, causes, worklist status
-- (the latest completed run's worklist_history / worklist_resolved) and last disposition (the dispositions that run
-- read: disposition_snapshot, copied from <db>.dispositions.duckdb by the export step, so the snapshot needs no
-- other file and status and disposition agree).
CREATE OR REPLACE VIEW analytics.patient AS
WITH latest_run AS (SELECT run_id FROM main.worklist_run WHERE completed ORDER BY run_seq DESC LIMIT 1),
hist AS (
    SELECT patient_id, status, suppressed, first_listed FROM main.worklist_history
    WHERE run_id IN (SELECT run_id FROM latest_run)
),
res AS (
    SELECT patient_id, reason, first_listed FROM main.worklist_resolved WHERE run_id IN (SELECT run_id FROM latest_run)
),
disp AS (
    SELECT patient_id, arg_max(status, (recorded_at, id)) AS status, max(recorded_at) AS recorded_at,
           arg_max(review_date, (recorded_at, id)) AS review_date,
           arg_max(recorded_by, (recorded_at, id)) AS recorded_by, count(*) AS n
    FROM main.disposition_snapshot GROUP BY patient_id
),
dxa AS (
    SELECT patient_id,
           any_value(value) FILTER (WHERE score_type = 'T' AND site = 'lumbar_spine') AS t_lumbar_spine,
           any_value(value) FILTER (WHERE score_type = 'T' AND site = 'total_hip') AS t_total_hip,
           any_value(value) FILTER (WHERE score_type = 'T' AND site = 'femur') AS t_femoral_neck,
           any_value(value) FILTER (WHERE score_type = 'T' AND site = 'forearm') AS t_forearm,
           any_value(value) FILTER (WHERE score_type = 'Z' AND site = 'lumbar_spine') AS z_lumbar_spine,
           any_value(value) FILTER (WHERE score_type = 'Z' AND site = 'total_hip') AS z_total_hip,
           any_value(value) FILTER (WHERE score_type = 'Z' AND site = 'femur') AS z_femoral_neck,
           any_value(value) FILTER (WHERE score_type = 'Z' AND site = 'forearm') AS z_forearm,
           max(eff_date) AS latest_dxa_date
    FROM main.dxa_latest WHERE in_range GROUP BY patient_id
),
expo AS (
    SELECT patient_id,
           list(DISTINCT drug_group ORDER BY drug_group) FILTER (WHERE covers_as_of) AS current_exposures,
           list(DISTINCT drug_group ORDER BY drug_group) AS exposures_in_lookback
    FROM main.med_exposure
    WHERE drug_group NOT IN ('not_counted', 'glucocorticoid_excluded')
    GROUP BY patient_id
)
SELECT p.patient_id, p.mrn, p.family_name, p.given_name, p.gender AS sex, p.birth_date, p.deceased,
       dxa.t_lumbar_spine, dxa.t_total_hip, dxa.t_femoral_neck, dxa.t_forearm,
       dxa.z_lumbar_spine, dxa.z_total_hip, dxa.z_femoral_neck, dxa.z_forearm, dxa.latest_dxa_date,
       coalesce(expo.current_exposures, []) AS current_exposures,
       coalesce(expo.exposures_in_lookback, []) AS exposures_in_lookback,
       gc.mean_mg AS glucocorticoid_mean_mg, coalesce(gc.fires, false) AS glucocorticoid_qualifying,
       s.markers, s.causes, s.addressed, s.unaddressed,
       coalesce(s.listed, false) AS listed, s.priority, s.not_listed_reason, w.rank AS worklist_rank,
       w.as_of,
       coalesce(hist.status, CASE WHEN res.patient_id IS NOT NULL THEN 'resolved' END) AS worklist_status,
       res.reason AS resolved_reason, coalesce(hist.first_listed, res.first_listed) AS first_listed,
       coalesce(hist.suppressed, false) AS suppressed,
       disp.status AS last_disposition, disp.recorded_at AS last_disposition_at,
       disp.review_date AS last_disposition_review, disp.recorded_by AS last_disposition_by,
       coalesce(disp.n, 0) AS dispositions
FROM main.screen_person p
LEFT JOIN hist USING (patient_id)
LEFT JOIN res USING (patient_id)
LEFT JOIN disp USING (patient_id)
LEFT JOIN dxa USING (patient_id)
LEFT JOIN expo USING (patient_id)
LEFT JOIN main.gc_exposure gc USING (patient_id)
LEFT JOIN main.screen_patient s USING (patient_id)
LEFT JOIN main.worklist w USING (patient_id);

-- The worklist as exported (same columns as worklist.csv, in rank order).
CREATE OR REPLACE VIEW analytics.worklist AS SELECT * FROM main.worklist ORDER BY rank;

-- Every DXA score in the look-back, with its site and whether it was in the plausible range.
CREATE OR REPLACE VIEW analytics.dxa AS
SELECT patient_id, obs_id, score_type, site, value, unit, eff_date, code, in_range FROM main.dxa_result;

-- Medication exposures (one row per medication resource, resolved to an ingredient and drug group).
CREATE OR REPLACE VIEW analytics.exposure AS
SELECT patient_id, resource_ref, source_type, ingredient, drug_group, status, start_date, end_day, covers_as_of,
       daily_amount, amount_unit
FROM main.med_exposure;

-- Run history (counts only) and the load runs behind it.
CREATE OR REPLACE VIEW analytics.runs AS SELECT * FROM main.run_record ORDER BY finished_at;
CREATE OR REPLACE VIEW analytics.loads AS SELECT * FROM main.load_run ORDER BY started_at;

-- Care managers' dispositions as the latest run read them (every one, oldest first; `note` is free text).
CREATE OR REPLACE VIEW analytics.dispositions AS
SELECT patient_id, status, note, review_date, recorded_by, recorded_at, source
FROM main.disposition_snapshot ORDER BY recorded_at, id;

-- Worklist runs: counts per run (new, continuing, changed, back, resolved, suppressed).
CREATE OR REPLACE VIEW analytics.worklist_runs AS SELECT * FROM main.worklist_run ORDER BY run_seq;
