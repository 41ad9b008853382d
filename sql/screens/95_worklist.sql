-- worklist: one row per listed patient. The clinical-rules.md section 6 columns first, in order; then extras:
-- rank (section 8 order: safety first, then priority, lowest T/Z score (none last), latest evidence, patient_id),
-- worst_score, latest_evidence_date, data_quality_warnings, as_of. Lists are ';'-separated.
-- Evidence text from a lab matched by name (local code) says so: "(matched by name)".
CREATE OR REPLACE TABLE worklist_action AS
-- Recommended actions follow what is still missing (clinical-rules.md 8), each citing the evidence it rests on:
--  * an unaddressed cause whose work-up is resulted is not asked for again (its request action is dropped);
--    a partly resulted lab work-up asks only for the missing tests (<missing>);
--  * malabsorption from a positive tTG-IgA alone asks for GI referral (malabsorption_celiac_serology);
--  * start_therapy: fracture / T <= -2.5 / high FRAX, no osteoporosis therapy in its window, and no unaddressed
--    cause still waiting for its work-up (a fragility fracture always); names the specialists of the causes whose
--    work-up is done.
WITH listed AS (SELECT * FROM screen_patient WHERE listed),
workup_cause AS (SELECT * FROM (VALUES ('malabsorption'), ('hyperthyroidism'), ('hyperparathyroidism'), ('myeloma'),
                                       ('cushing')) t(cause)),
cause_refs AS (
    SELECT patient_id, rule_id, string_agg(DISTINCT resource_ref, ', ' ORDER BY resource_ref) AS refs
    FROM screen_hits WHERE kind IN ('cause', 'safety') AND resource_ref IS NOT NULL GROUP BY ALL
),
pending AS (   -- per listed patient and unaddressed cause: is its work-up still missing?
    SELECT s.patient_id, u.cause,
           u.cause IN (SELECT cause FROM workup_cause) AS is_workup_cause,
           w.patient_id IS NOT NULL AS workup_done,
           coalesce(f.only_serology, false) AS only_serology
    FROM listed s
    CROSS JOIN LATERAL (SELECT unnest(s.unaddressed) AS cause) u
    LEFT JOIN (SELECT DISTINCT patient_id, cause FROM workup_evidence) w
           ON w.patient_id = s.patient_id AND w.cause = u.cause
    LEFT JOIN fired_cause f ON f.patient_id = s.patient_id AND f.cause = u.cause
),
cause_actions AS (
    SELECT p.patient_id, a.ord, a.rule_id,
           replace(a.action, '<missing>', coalesce(m.missing, '25(OH)D + calcium + PTH')) AS action,
           r.refs
    FROM pending p
    JOIN cfg_action a ON a.rule_id = CASE WHEN p.only_serology THEN 'malabsorption_celiac_serology' ELSE p.cause END
    LEFT JOIN (SELECT patient_id, cause, missing FROM workup_missing
               UNION ALL
               SELECT patient_id, 'unexplained',
                      array_to_string(list_transform(missing, lambda x: replace(lab_label(x), '_', ' ')), ', ')
               FROM tier1_panel WHERE len(missing) > 0) m ON m.patient_id = p.patient_id AND m.cause = p.cause
    LEFT JOIN cause_refs r ON r.patient_id = p.patient_id AND r.rule_id = p.cause
    WHERE NOT (p.is_workup_cause AND p.workup_done)
),
extra_actions AS (
    SELECT s.patient_id, a.ord, a.rule_id, a.action, r.refs
    FROM listed s
    JOIN cfg_action a ON (a.rule_id = 'safety' AND s.safety)
                      OR (a.rule_id = 'glucocorticoid_dose_unknown' AND s.gc_dose_unknown
                          AND list_contains(s.unaddressed, 'glucocorticoid'))
    LEFT JOIN cause_refs r ON r.patient_id = s.patient_id
                          AND r.rule_id = CASE a.rule_id WHEN 'safety' THEN 'safety' ELSE 'glucocorticoid' END
),
therapy AS (
    SELECT s.patient_id,
           list_contains(s.markers, 'fragility_fracture') AS fracture,
           (SELECT string_agg(DISTINCT a.specialist, ', ' ORDER BY a.specialist) FROM pending p
            JOIN cfg_action a ON a.rule_id = p.cause
            WHERE p.patient_id = s.patient_id AND p.workup_done AND a.specialist IS NOT NULL) AS specialists,
           (SELECT string_agg(DISTINCT x.ref, ', ' ORDER BY x.ref) FROM (
                SELECT h.resource_ref AS ref FROM screen_hits h
                WHERE h.patient_id = s.patient_id AND h.kind = 'marker'
                  AND h.rule_id IN ('fragility_fracture', 'osteoporosis_t_score', 'high_fracture_risk')
                UNION ALL   -- the resulted work-ups it rests on
                SELECT unnest(w.refs) FROM workup_evidence w
                WHERE w.patient_id = s.patient_id AND list_contains(s.unaddressed, w.cause)) x) AS refs,
           EXISTS (SELECT 1 FROM pending p WHERE p.patient_id = s.patient_id
                     AND ((p.is_workup_cause AND NOT p.workup_done) OR p.cause = 'unexplained')) AS waiting
    FROM listed s
    WHERE NOT s.on_op_therapy
      AND (list_contains(s.markers, 'fragility_fracture') OR list_contains(s.markers, 'osteoporosis_t_score')
           OR list_contains(s.markers, 'high_fracture_risk'))
),
therapy_actions AS (
    SELECT t.patient_id, a.ord, a.rule_id,
           a.action || coalesce(' (work-up done: with ' || t.specialists || ')', '') AS action, t.refs
    FROM therapy t JOIN cfg_action a ON a.rule_id = 'start_therapy'
    WHERE t.fracture OR NOT t.waiting
)
SELECT patient_id, ord, rule_id,
       replace(action, ';', ',') || coalesce(' [evidence: ' || refs || ']', '') AS action
FROM (SELECT * FROM cause_actions UNION ALL SELECT * FROM extra_actions UNION ALL SELECT * FROM therapy_actions);

CREATE OR REPLACE TABLE worklist AS
WITH by_name AS (SELECT DISTINCT 'Observation/' || obs_id AS ref FROM lab_result WHERE matched_by = 'name'),
ev AS (   -- human-readable evidence, in reading order: safety, markers, modifier, causes, addressed
    SELECT patient_id, detail,
           min(CASE kind WHEN 'safety' THEN 0 WHEN 'marker' THEN 1 WHEN 'modifier' THEN 2 WHEN 'cause' THEN 3
                         ELSE 4 END * 1000000 + coalesce(date_diff('day', DATE '1900-01-01', evidence_date), 0))
               AS ord
    FROM (SELECT h.patient_id, h.kind, h.evidence_date,
                 replace(h.detail, ';', ',')
                     || CASE WHEN bool_or(b.ref IS NOT NULL) OVER (PARTITION BY h.patient_id, h.detail)
                             THEN ' (matched by name)' ELSE '' END AS detail
          FROM screen_hits h LEFT JOIN by_name b ON b.ref = h.resource_ref
          WHERE h.kind IN ('marker', 'modifier', 'cause', 'addressed', 'safety') AND h.detail IS NOT NULL)
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
    SELECT patient_id, string_agg(action, ';' ORDER BY ord, action) AS recommended_actions
    FROM worklist_action GROUP BY ALL
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
           s.safety, s.worst_score, s.latest_evidence_date,
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
       CAST(row_number() OVER (ORDER BY safety DESC,
                                        CASE priority WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                                        worst_score ASC NULLS LAST, latest_evidence_date DESC NULLS LAST,
                                        patient_id) AS INTEGER) AS rank,
       worst_score, latest_evidence_date, data_quality_warnings, CAST($as_of AS DATE) AS as_of
FROM rows
ORDER BY rank;

-- data_quality: every data-quality warning of every screened patient, listed or not (clinical-rules.md 8: an
-- unlisted patient with an unread DXA report is exactly the one at risk of being missed). Exported as
-- data_quality.csv beside the worklist.
CREATE OR REPLACE TABLE data_quality AS
SELECT h.patient_id, h.rule_id, h.resource_ref, h.evidence_date, replace(h.detail, ';', ',') AS detail,
       coalesce(s.listed, false) AS listed, s.not_listed_reason
FROM screen_hits h
LEFT JOIN screen_patient s USING (patient_id)
WHERE h.kind = 'data_quality'
ORDER BY h.patient_id, h.rule_id, h.resource_ref;
