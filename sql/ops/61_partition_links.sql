-- Patient.link edges among the staged records: linked patients go to the partition of one canonical id
-- (the target of `replaced-by`, else the smaller of the two ids; one hop).
INSERT INTO _part_link
WITH t AS (SELECT rtrim(ltrim(try(decode(raw)), chr(65279)), chr(10) || chr(13)) AS txt FROM _part_stage),
p AS (SELECT txt FROM t WHERE txt IS NOT NULL AND json_valid(txt) AND contains(txt, '"link"')
      AND json_extract_string(txt, '$.resourceType') = 'Patient'),
l AS (SELECT json_extract_string(txt, '$.id') AS pid, unnest(json_extract(txt, '$.link[*]')) AS link FROM p)
SELECT pid, regexp_extract(json_extract_string(link, '$.other.reference'), '(?:^|/)Patient/([^/]+?)$', 1) AS other,
       json_extract_string(link, '$.type') AS link_type
FROM l;
