-- worklist: one row per listed patient. The clinical-rules.md section 6 columns first, in order; then extras:
-- rank (section 5 order: priority, lowest T/Z score (none last), latest evidence), worst_score,
-- latest_evidence_date, data_quality_warnings, as_of. Lists are ';'-separated.
CREATE OR REPLACE TABLE worklist AS
WITH ev AS (   -- human-readable evidence, in reading order: markers, modifier, causes, addressed, safety
    SELECT patient_id, replace(detail, ';', ',') AS detail,
           min(CASE kind WHEN 'safety' THEN 0 WHEN 'marker' THEN 1 WHEN 'modifier' THEN 2 WHEN 'cause' THEN 3
                         ELSE 4 END * 1000000 + coalesce(date_diff('day', DATE '1900-01-01', evidence_date), 0))
               AS ord
    FROM screen_hits
    WHERE kind IN ('marker', 'modifier', 'cause', 'addressed', 'safety') AND detail IS NOT NULL
    GROUP BY ALL
),
ev_agg AS (SELECT patient_id, string_agg(detail, ';' ORDER BY ord, detail) AS evidence FROM ev GROUP BY ALL),
ids AS (
    SELECT patient_id, string_agg(DISTINCT resource_ref, ';' ORDER BY resource_ref) AS evidence_ids
    FROM screen_hits
    WHERE kind IN ('marker', 'modifier', 'cause', 'addressed', 'safety') AND resource_ref IS NOT NULL
    GROUP BY ALL
),
dq AS (
    SELECT patient_id, string_agg(DISTINCT replace(detail, ';', ','), ';' ORDER BY replace(detail, ';', ','))
               AS data_quality_warnings
    FROM screen_hits WHERE kind = 'data_quality' GROUP BY ALL
),
act AS (
    SELECT s.patient_id, string_agg(a.action, ';' ORDER BY a.ord) AS recommended_actions
    FROM screen_patient s
    JOIN cfg_action a ON list_contains(s.unaddressed, a.rule_id)
                      OR (a.rule_id = 'safety' AND s.safety)
                      OR (a.rule_id = 'glucocorticoid_dose_unknown' AND s.gc_dose_unknown
                          AND list_contains(s.unaddressed, 'glucocorticoid'))
    WHERE s.listed
    GROUP BY ALL
),
rows AS (
    SELECT s.patient_id,
           coalesce(p.mrn, '') AS mrn,
           CASE WHEN p.family_name IS NULL AND p.given_name IS NULL THEN ''
                ELSE concat_ws(', ', p.family_name, nullif(p.given_name, '')) END AS name,
           coalesce(fmt_date(p.birth_date), '') AS birth_date,
           coalesce(p.gender, '') AS sex,
           s.priority,
           array_to_string(s.markers, ';') AS risk_markers,
           array_to_string(s.causes, ';') AS causes,
           array_to_string(s.unaddressed, ';') AS unaddressed,
           coalesce(act.recommended_actions, '') AS recommended_actions,
           coalesce(ev_agg.evidence, '') AS evidence,
           coalesce(ids.evidence_ids, '') AS evidence_ids,
           s.worst_score, s.latest_evidence_date,
           coalesce(dq.data_quality_warnings, '') AS data_quality_warnings
    FROM screen_patient s
    LEFT JOIN patient p ON p.id = s.patient_id
    LEFT JOIN act USING (patient_id)
    LEFT JOIN ev_agg USING (patient_id)
    LEFT JOIN ids USING (patient_id)
    LEFT JOIN dq USING (patient_id)
    WHERE s.listed
)
SELECT patient_id, mrn, name, birth_date, sex, priority, risk_markers, causes, unaddressed, recommended_actions,
       evidence, evidence_ids,
       CAST(row_number() OVER (ORDER BY CASE priority WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                                        worst_score ASC NULLS LAST, latest_evidence_date DESC NULLS LAST,
                                        patient_id) AS INTEGER) AS rank,
       worst_score, latest_evidence_date, data_quality_warnings, CAST($as_of AS DATE) AS as_of
FROM rows
ORDER BY rank;
