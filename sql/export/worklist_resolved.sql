-- Patients who left the list in run $run_id, with why, for the Resolved sheet / resolved.csv.
SELECT r.patient_id, coalesce(p.mrn, '') AS mrn,
       CASE WHEN p.family_name IS NULL AND p.given_name IS NULL THEN ''
            ELSE concat_ws(', ', p.family_name, nullif(p.given_name, '')) END AS name,
       r.reason, r.last_priority, array_to_string(r.last_unaddressed, ';') AS last_unaddressed, r.first_listed,
       coalesce(ct.care_team, 'Unassigned') AS care_team
FROM worklist_resolved r
LEFT JOIN patient p ON p.id = r.patient_id
LEFT JOIN care_team ct ON ct.patient_id = r.patient_id
WHERE r.run_id = $run_id
ORDER BY r.reason, r.patient_id;
