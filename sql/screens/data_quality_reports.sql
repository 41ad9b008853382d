-- Data-quality warnings for DXA reports (model/18_dxa_report_text.sql), never screened, always shown.
-- dxa_report_unread: a DXA report inside the DXA look-back from which no score could be read (no text, PDF without
--   a text layer, unsupported attachment type, attachment url not in the load, above the record-size limit, or a
--   text without T/Z scores) and with no discrete DXA result of the patient on the report's date. A report whose
--   text was read does not get it; one whose numbers could not be attributed gets dxa_report_unattributed instead.
-- dxa_report_unattributed: a report with score-like numbers that could not be attributed to a site or score type:
--   those numbers are not screened, never guessed.
INSERT INTO screen_hits
SELECT s.patient_id, 'data_quality', 'dxa_report_unread', s.report_ref, NULL, NULL, s.report_date,
       'DXA report' || coalesce(' (' || fmt_date(s.report_date) || ')', '') || ' could not be read ('
           || s.statuses
           || '): not screened',
       NULL, 'report'
FROM dxa_report_status s
WHERE s.scores = 0 AND s.unattributed = 0
  AND (s.report_date IS NULL OR (s.report_date <= $as_of
       AND s.report_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))))
  AND NOT EXISTS (SELECT 1 FROM dxa_result o WHERE o.source = 'observation' AND o.patient_id = s.patient_id
                    AND o.eff_date = s.report_date);

INSERT INTO screen_hits
SELECT s.patient_id, 'data_quality', 'dxa_report_unattributed', s.report_ref, s.unattributed, NULL, s.report_date,
       'DXA report' || coalesce(' (' || fmt_date(s.report_date) || ')', '') || ': ' || s.unattributed
           || ' score(s) in the text could not be attributed to a site: not screened',
       NULL, 'report'
FROM dxa_report_status s
WHERE s.unattributed > 0
  AND (s.report_date IS NULL OR (s.report_date <= $as_of
       AND s.report_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))));
