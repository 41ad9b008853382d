-- Evidence timeline of every patient on run $run_id's active list: one row per fact behind the flag, by date.
-- Labs carry their reference range (observation.ref_low / ref_high) when the Observation has one.
SELECT s.patient_id, s.kind, s.rule_id, s.resource_ref, s.value, s.unit, s.evidence_date, s.detail, s.qualifier,
       o.ref_low, o.ref_high, o.ref_unit
FROM screen_hits s
LEFT JOIN observation o ON s.resource_ref = 'Observation/' || o.id
JOIN worklist_history h ON h.patient_id = s.patient_id AND h.run_id = $run_id AND NOT h.suppressed
WHERE s.kind IN ('marker', 'modifier', 'cause', 'addressed', 'safety', 'data_quality')
ORDER BY s.patient_id, s.evidence_date NULLS LAST, s.kind, s.rule_id, s.resource_ref, s.detail;
