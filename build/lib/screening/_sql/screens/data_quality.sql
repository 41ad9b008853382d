-- Data-quality warnings (kind data_quality): never screened, always shown.
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'dxa_value_out_of_range', 'Observation/' || obs_id, value, unit, eff_date,
       'DXA ' || score_type || '-score value ' || fmt_num(value) || ' (' || fmt_date(eff_date) || ') is outside '
           || fmt_num($dxa_valid_min) || '..' || fmt_num($dxa_valid_max) || ' (probably a BMD): not screened',
       code, site
FROM dxa_result WHERE NOT in_range;

INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'dxa_site_unknown', 'Observation/' || obs_id, value, unit, eff_date,
       'DXA ' || score_type || '-score (' || fmt_date(eff_date) || ') has no recognisable site: not screened',
       code, NULL
FROM dxa_result WHERE in_range AND site IS NULL;

INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'lab_unit_not_convertible', 'Observation/' || obs_id, raw_value, raw_unit,
       eff_date,
       lab_label(analyte) || ' (' || fmt_date(eff_date) || ') unit ''' || coalesce(raw_unit, 'none')
           || ''' cannot be converted: value not used',
       code, analyte
FROM lab_result WHERE NOT convertible AND raw_value IS NOT NULL;

INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'no_patient_resource', NULL, NULL, NULL, NULL,
       'no Patient resource: demographics empty', NULL, NULL
FROM screen_person WHERE NOT has_patient_resource;

INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'no_birth_date',
       CASE WHEN has_patient_resource THEN 'Patient/' || patient_id END, NULL, NULL, NULL,
       'no birth date: only the Z-score and M80.x rules ran', NULL, NULL
FROM screen_person WHERE birth_date IS NULL;
