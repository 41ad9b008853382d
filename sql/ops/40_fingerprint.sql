-- What the analytics snapshot shows, as one digest: the stored resources (identity, version, size: an identical
-- re-load changes none of them), quarantine and deletion counts, and the screen output (every screen_patient and
-- worklist row). Same digest (with 41_fingerprint_worklist.sql) = nothing changed = not republished.
SELECT md5(concat_ws('|',
    (SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(resource_type, id, version_id, last_updated,
                                                              length(body))), 0)::VARCHAR
     FROM resource_raw),
    (SELECT count(*)::VARCHAR FROM quarantine),
    (SELECT count(*)::VARCHAR FROM deleted_resource),
    (SELECT coalesce(md5(string_agg(md5(s::VARCHAR), '' ORDER BY s.patient_id)), '') FROM screen_patient s),
    (SELECT coalesce(md5(string_agg(md5(w::VARCHAR), '' ORDER BY w.patient_id)), '') FROM worklist w)
)) AS fingerprint;
