-- Record this run's worklist in worklist_history and worklist_resolved, deciding status and suppression.
-- Parameters: $run_id, $run_seq, $as_of, $snapshot_at. Inputs: worklist, screen_patient, screen_hits, care_team,
-- disposition_snapshot, cfg_disposition (config/dispositions.csv), earlier worklist_history rows.
CREATE OR REPLACE TEMP TABLE _prev_run AS
SELECT run_id FROM worklist_run
WHERE run_seq = (SELECT max(run_seq) FROM worklist_run WHERE run_seq < $run_seq AND completed);

CREATE OR REPLACE TEMP TABLE _cur AS
SELECT w.patient_id, w.priority, s.markers, s.causes, s.unaddressed, s.safety,
       list_sort(coalesce(string_split(nullif(w.evidence_ids, ''), ';'), [])) AS evidence_ids,
       md5(array_to_string(list_sort(s.markers), ',') || '|' || array_to_string(list_sort(s.unaddressed), ','))
           AS fingerprint,
       CAST(row_number() OVER (ORDER BY w.rank) AS INTEGER) AS ord,
       coalesce(ct.care_team, 'Unassigned') AS care_team
FROM worklist w
JOIN screen_patient s USING (patient_id)
LEFT JOIN care_team ct ON ct.patient_id = w.patient_id;

-- Every earlier history row with its run's time, for "what did the care manager see when she recorded it".
-- Only completed runs: a run whose files were never written was never seen.
CREATE OR REPLACE TEMP TABLE _seen AS
SELECT h.patient_id, h.fingerprint, h.suppressed, r.snapshot_at, r.as_of, r.run_seq
FROM worklist_history h JOIN worklist_run r USING (run_id)
WHERE r.run_seq < $run_seq AND r.completed;

CREATE OR REPLACE TEMP TABLE _disp AS
WITH latest AS (
    SELECT patient_id, arg_max(id, (recorded_at, id)) AS id FROM disposition_snapshot
    WHERE recorded_at <= CAST($snapshot_at AS TIMESTAMPTZ) GROUP BY ALL
),
attempts AS (   -- consecutive `unable to reach` dispositions ending with the latest one
    SELECT d.patient_id, count(*) AS n
    FROM disposition_snapshot d
    WHERE d.status = 'unable to reach' AND d.recorded_at <= CAST($snapshot_at AS TIMESTAMPTZ)
      AND d.recorded_at > coalesce((SELECT max(o.recorded_at) FROM disposition_snapshot o
                                    WHERE o.patient_id = d.patient_id AND o.status <> 'unable to reach'
                                      AND o.recorded_at <= CAST($snapshot_at AS TIMESTAMPTZ)),
                                   TIMESTAMPTZ '0001-01-01 00:00:00+00')
    GROUP BY ALL
)
SELECT d.*, c.suppresses, c.default_days, coalesce(a.n, 0) AS attempts,
       coalesce(d.review_date, CAST(d.recorded_at AS DATE) + CAST(c.default_days AS INTEGER)) AS suppress_until,
       (SELECT arg_max(s.fingerprint, s.run_seq) FROM _seen s
        WHERE s.patient_id = d.patient_id AND s.snapshot_at <= d.recorded_at) AS seen_fingerprint
FROM disposition_snapshot d
JOIN latest USING (id)
LEFT JOIN cfg_disposition c ON c.status = d.status
LEFT JOIN attempts a ON a.patient_id = d.patient_id;

CREATE OR REPLACE TEMP TABLE _decided AS
WITH base AS (
    SELECT c.*, d.status AS disposition_status, d.recorded_at, d.suppresses, d.suppress_until, d.seen_fingerprint,
           d.attempts, d.review_date, d.recorded_by,
           p.fingerprint AS prev_fingerprint, p.suppressed AS prev_suppressed, p.patient_id IS NOT NULL AS was_listed,
           (SELECT max(s.snapshot_at) FROM _seen s WHERE s.patient_id = c.patient_id AND NOT s.suppressed)
               AS last_active_at,
           coalesce(d.seen_fingerprint, p.fingerprint) AS ref_fingerprint
    FROM _cur c
    LEFT JOIN _disp d USING (patient_id)
    LEFT JOIN (SELECT h.* FROM worklist_history h JOIN _prev_run USING (run_id)) p USING (patient_id)
),
flags AS (
    SELECT *,
           coalesce(suppresses, false) AND CAST($as_of AS DATE) < suppress_until
               AND (seen_fingerprint IS NULL OR seen_fingerprint = fingerprint) AS suppressed_now,
           coalesce(prev_suppressed, false)
               OR (coalesce(suppresses, false) AND recorded_at > coalesce(last_active_at, TIMESTAMPTZ '0001-01-01 00:00:00+00'))
               AS after_disposition
    FROM base
)
SELECT *,
       CASE WHEN suppressed_now THEN 'suppressed'
            WHEN after_disposition AND ref_fingerprint IS NOT NULL AND ref_fingerprint <> fingerprint
                THEN 'back: new evidence'
            WHEN after_disposition THEN 'back: review due'
            WHEN NOT was_listed THEN 'new'
            WHEN prev_fingerprint <> fingerprint THEN 'changed'
            ELSE 'continuing' END AS status,
       CASE WHEN disposition_status IS NULL THEN NULL
            ELSE disposition_status
                 || CASE WHEN attempts > 1 THEN ' (attempt ' || attempts || ')' ELSE '' END
                 || ' ' || strftime(recorded_at, '%Y-%m-%d') || ' by ' || recorded_by
                 || coalesce(', review ' || strftime(review_date, '%Y-%m-%d'), '') END AS last_disposition
FROM flags;

INSERT INTO worklist_history
SELECT $run_id, d.patient_id, d.priority, d.markers, d.causes, d.unaddressed, d.evidence_ids, d.fingerprint,
       d.status, d.suppressed_now, d.safety, d.care_team,
       least(CAST($as_of AS DATE), coalesce((SELECT min(s.as_of) FROM _seen s WHERE s.patient_id = d.patient_id),
                                            CAST($as_of AS DATE))),
       d.last_disposition, d.disposition_status, d.ord
FROM _decided d;

INSERT INTO worklist_resolved
SELECT $run_id, p.patient_id,
       CASE WHEN sp.patient_id IS NULL THEN 'data removed'
            WHEN sp.deceased THEN 'deceased'
            WHEN EXISTS (SELECT 1 FROM screen_hits h WHERE h.patient_id = p.patient_id AND h.kind = 'addressed'
                           AND list_contains(p.unaddressed, h.rule_id)
                           AND h.qualifier IN ('op_therapy', 'vitamin_d_repletion', 'workup_and_op_therapy')) THEN 'treated'
            WHEN EXISTS (SELECT 1 FROM screen_hits h WHERE h.patient_id = p.patient_id AND h.kind = 'addressed'
                           AND list_contains(p.unaddressed, h.rule_id)) THEN 'work-up resulted'
            ELSE 'cause gone' END,
       p.priority, p.unaddressed, p.first_listed
FROM (SELECT h.* FROM worklist_history h JOIN _prev_run USING (run_id)) p
LEFT JOIN screen_patient sp ON sp.patient_id = p.patient_id
WHERE p.patient_id NOT IN (SELECT patient_id FROM _cur);

INSERT INTO worklist_run
SELECT $run_id, $run_seq, CAST($as_of AS DATE), CAST($snapshot_at AS TIMESTAMPTZ),
       (SELECT count(*) FROM screen_patient),
       (SELECT count(*) FROM _decided),
       (SELECT count(*) FROM _decided WHERE NOT suppressed_now),
       (SELECT count(*) FROM _decided WHERE suppressed_now),
       (SELECT count(*) FROM _decided WHERE status = 'new'),
       (SELECT count(*) FROM _decided WHERE status = 'continuing'),
       (SELECT count(*) FROM _decided WHERE status = 'changed'),
       (SELECT count(*) FROM _decided WHERE status LIKE 'back:%'),
       (SELECT count(*) FROM worklist_resolved WHERE run_id = $run_id),
       false;
