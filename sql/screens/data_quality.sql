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

-- DXA score whose valueString is not a plain number (clinical-rules.md 8): never a score, always shown.
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'dxa_value_text', 'Observation/' || obs_id, NULL, unit, eff_date,
       'DXA ' || score_type || '-score' || coalesce(' ' || site_label(site), '') || ' (' || fmt_date(eff_date)
           || ') is text, not a number (''' || left(replace(value_text, '''', ''), 40) || '''): not screened',
       code, site
FROM dxa_candidate WHERE value IS NULL AND value_text IS NOT NULL;

-- DXA report with no discrete score (clinical-rules.md 8, nothing ignored in silence): a DXA DiagnosticReport /
-- DocumentReference in the look-back with none of its `result` Observations and no T/Z-score of that patient on
-- its date among the screened scores. Scores read from report text (into dxa_result, same patient and date)
-- clear the warning for the reports that could be read.
INSERT INTO screen_hits
SELECT r.patient_id, 'data_quality', 'dxa_report_unread', r.resource_type || '/' || r.id, NULL, NULL, r.report_date,
       'DXA report' || coalesce(' (' || fmt_date(r.report_date) || ')', ' (undated)')
           || ' has no discrete T/Z-scores: read the report (its scores were not screened)',
       NULL, r.resource_type
FROM dxa_report r
WHERE NOT EXISTS (SELECT 1 FROM dxa_result d WHERE d.patient_id = r.patient_id
                    AND (d.eff_date = r.report_date OR list_contains(r.result_obs_ids, d.obs_id)
                         OR d.report_ref = r.resource_type || '/' || r.id))
  -- a report whose text the report reader examined has its own, more precise warning (data_quality_reports.sql)
  AND NOT EXISTS (SELECT 1 FROM dxa_report_status s WHERE s.report_ref = r.resource_type || '/' || r.id);

-- A lab with a known name but a local code whose unit does not convert (clinical-rules.md 8): not used, shown.
INSERT INTO screen_hits
SELECT patient_id, 'data_quality', 'lab_name_unit_unknown', 'Observation/' || obs_id, value_num, raw_unit, eff_date,
       lab_label(analyte) || ' by name (''' || left(name_text, 40) || ''', ' || fmt_date(eff_date) || ') unit '''
           || coalesce(raw_unit, 'none') || ''' cannot be converted: value not used',
       NULL, analyte
FROM lab_name_candidate WHERE NOT unit_converts AND NOT loinc_coded AND value_num IS NOT NULL;

-- A lab named like a screened test whose (LOINC) code is in no code list: not used, shown (add the code to the
-- list or to config/local/ if it is the same test).
INSERT INTO screen_hits
SELECT n.patient_id, 'data_quality', 'lab_code_unknown', 'Observation/' || n.obs_id, n.value_num, n.raw_unit,
       n.eff_date,
       lab_label(n.analyte) || '-like result (''' || left(n.name_text, 40) || ''', ' || fmt_date(n.eff_date)
           || ') has a code in no code list (' || coalesce((SELECT min(ca.code) FROM coding_all ca
                                                    WHERE ca.resource_type = 'Observation' AND ca.resource_id = n.obs_id
                                                      AND ca.system = 'http://loinc.org'), '?')
           || '): value not used',
       NULL, n.analyte
FROM lab_name_candidate n WHERE n.loinc_coded;
