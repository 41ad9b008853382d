-- Per patient listed by the rules in run $run_id (active and suppressed): what the FHIR Tasks (all, so a
-- disposition updates its Task) and the de-identified export (active only) need.
SELECT h.patient_id, p.birth_date, p.gender, h.priority, h.markers, h.causes, h.unaddressed, h.evidence_ids,
       h.fingerprint, h.status, h.safety, h.care_team, ct.care_team_ref, h.first_listed, h.disposition_status,
       h.ord, h.suppressed
FROM worklist_history h
LEFT JOIN patient p ON p.id = h.patient_id
LEFT JOIN care_team ct ON ct.patient_id = h.patient_id
WHERE h.run_id = $run_id
ORDER BY h.ord;
