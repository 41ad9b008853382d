-- Evidence timeline of every patient on run $run_id's active list: one row per fact behind the flag, by date.
-- Labs carry their reference range (observation.ref_low / ref_high) when the Observation has one; medication
-- uses (glucocorticoid exposure, treatments) their period and first dose.
SELECT s.patient_id, s.kind, s.rule_id, s.resource_ref, s.value, s.unit, s.evidence_date, s.detail, s.qualifier,
       o.ref_low, o.ref_high, o.ref_unit,
       m.start_date AS med_start, m.end_date AS med_end, m.dose_value AS med_dose, m.dose_unit AS med_dose_unit
FROM screen_hits s
LEFT JOIN observation o ON s.resource_ref = 'Observation/' || o.id
LEFT JOIN medication_use m ON s.resource_ref = m.source_type || '/' || m.id
JOIN worklist_history h ON h.patient_id = s.patient_id AND h.run_id = $run_id AND NOT h.suppressed
WHERE s.kind IN ('marker', 'modifier', 'cause', 'addressed', 'safety', 'data_quality')
ORDER BY s.patient_id, s.evidence_date NULLS LAST, s.kind, s.rule_id, s.resource_ref, s.detail;
