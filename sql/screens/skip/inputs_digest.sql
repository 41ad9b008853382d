-- What the screens read from the load, as one digest (screening/screens/skip.py): every stored resource version
-- (resource_raw: load_seq is new whenever a record is written, and an identical re-load rewrites nothing), every
-- deletion and every Bundle reference mapping. The typed tables are a function of these and of the typed SQL
-- (typed_state, added by the caller). Same digest + same as-of + same config and code = same screen result.
-- Reads three narrow columns, never the JSON bodies: about 0.1 s per million resources.
SELECT md5(concat_ws('|',
    (SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(resource_type, id, load_seq)), 0)::VARCHAR
     FROM resource_raw),
    (SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(resource_type, id, load_seq)), 0)::VARCHAR
     FROM deleted_resource),
    (SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(source_file, full_url, ref)), 0)::VARCHAR
     FROM bundle_ref_map)
)) AS inputs_digest;
