-- The second half of the snapshot's digest (40_fingerprint.sql is the first): what the export step decided for
-- the latest completed run (status, suppression, last disposition per listed patient; the resolved patients; the
-- dispositions it read), so a care manager's disposition reaches analytics.patient after the next run even when
-- no data changed. Runs after the export step, whose tables it reads (a partition file has none: not used there).
WITH latest_run AS (SELECT run_id FROM worklist_run WHERE completed ORDER BY run_seq DESC LIMIT 1)
SELECT md5(concat_ws('|',
    (SELECT coalesce(md5(string_agg(md5(concat_ws('|', h.patient_id, h.status, h.suppressed, h.first_listed,
                                                  h.last_disposition, h.disposition_status)), ''
                                    ORDER BY h.patient_id)), '')
     FROM worklist_history h WHERE h.run_id IN (SELECT run_id FROM latest_run)),
    (SELECT coalesce(md5(string_agg(md5(concat_ws('|', r.patient_id, r.reason)), '' ORDER BY r.patient_id)), '')
     FROM worklist_resolved r WHERE r.run_id IN (SELECT run_id FROM latest_run)),
    (SELECT count(*)::VARCHAR || ':' || coalesce(max(recorded_at)::VARCHAR, '') FROM disposition_snapshot)
)) AS fingerprint;
