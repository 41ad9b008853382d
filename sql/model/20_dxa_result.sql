-- dxa_candidate / dxa_result: every DXA T- or Z-score Observation (or panel component) up to the as-of date inside
-- the DXA look-back.
-- Score type and site come from the code list (dxa_t_score / dxa_z_score, qualifier = site); an Observation the
-- lists do not know counts when its unit ({T-score}/{Z-score}) or its text names a T/Z-score of a bone scan.
-- Site: the code first, then bodySite (code list dxa_body_site, then its text), then the code's text.
CREATE OR REPLACE MACRO dxa_site_from_text(t) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN regexp_matches(lower(t), 'neck|femor|femur|\bfn\b') THEN 'femur'
    WHEN regexp_matches(lower(t), 'lumbar|spine|\bl1|\bl2|vertebra') THEN 'lumbar_spine'
    WHEN regexp_matches(lower(t), '\bhip') THEN 'total_hip'
    WHEN regexp_matches(lower(t), 'radius|forearm|ulna|wrist') THEN 'forearm'
    WHEN regexp_matches(lower(t), 'calcane|heel|humer') THEN 'other'
    ELSE NULL END;

-- Panels (clinical-rules.md 8): a T/Z score in Observation.component counts like a separate Observation: score
-- type and site from the component's code (then its text), date and status from the parent; obs_id stays the
-- parent's id (the evidence points at the panel). valueString holding a plain number counts as that number;
-- other text is kept (value NULL, value_text) for a data-quality warning, never screened.
-- Text tests run once per distinct observation text (texts repeat: a few hundred per population), never per row.
CREATE OR REPLACE TABLE dxa_candidate AS
WITH obs_all AS (
    SELECT o.*
    FROM observation o
    WHERE o.status IN ('final', 'amended', 'corrected')
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))
      AND o.patient_id IS NOT NULL
),
text_flag AS (
    SELECT all_text,
           CASE WHEN regexp_matches(lower(all_text), '\bt[- ]?score') THEN 'T'
                WHEN regexp_matches(lower(all_text), '\bz[- ]?score') THEN 'Z' END AS text_type,
           regexp_matches(lower(all_text), 'dxa|dexa|bone|bmd|densit') AS dxa_words,
           dxa_site_from_text(all_text) AS text_site
    FROM (SELECT DISTINCT all_text FROM obs_all)
),
coded_ids AS (
    SELECT DISTINCT resource_id AS id FROM coding_concept
    WHERE resource_type = 'Observation' AND concept IN ('dxa_t_score', 'dxa_z_score')
),
comp_ids AS (SELECT DISTINCT observation_id AS id FROM observation_component),
-- Only what can become a candidate goes on: a coded score, a score unit, a score text, or a panel (components
-- are judged on their own text below). The rest cannot pass the final filter (score type NULL).
obs AS (
    SELECT o.*, f.text_type, f.dxa_words, f.text_site
    FROM obs_all o
    JOIN text_flag f ON f.all_text = o.all_text
    WHERE f.text_type IS NOT NULL
       OR lower(coalesce(o.value_unit_code, o.value_unit)) IN ('{t-score}', '{z-score}')
       OR o.id IN (SELECT id FROM coded_ids) OR o.id IN (SELECT id FROM comp_ids)
),
coded AS (
    SELECT o.id, CASE cc.concept WHEN 'dxa_t_score' THEN 'T' ELSE 'Z' END AS score_type,
           cc.qualifier AS code_site, cc.code
    FROM obs o
    JOIN coding_concept cc ON cc.resource_type = 'Observation' AND cc.resource_id = o.id
                          AND cc.concept IN ('dxa_t_score', 'dxa_z_score')
    QUALIFY row_number() OVER (PARTITION BY o.id ORDER BY cc.concept) = 1
),
parent AS (
    SELECT o.patient_id, o.id, -1 AS component_index, o.effective_date, coalesce(o.value_unit_code, o.value_unit)
               AS unit, coalesce(o.value_num, o.value_string_num) AS value,
           CASE WHEN o.value_num IS NULL AND o.value_string_num IS NULL THEN o.value_string END AS value_text,
           o.all_text, o.all_text AS panel_text, o.body_site_system, o.body_site_code, o.body_site_text,
           c.score_type AS coded_type, c.code_site, c.code, c.id IS NOT NULL AS coded,
           o.text_type, o.dxa_words, o.text_site
    FROM obs o LEFT JOIN coded c ON c.id = o.id
),
comp_coded AS (
    SELECT oc.observation_id, oc.component_index,
           arg_min(CASE v.concept WHEN 'dxa_t_score' THEN 'T' ELSE 'Z' END, v.concept) AS score_type,
           arg_min(v.qualifier, v.concept) AS code_site, arg_min(oc.code, v.concept) AS code
    FROM observation_component oc
    LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(oc.system), '/'))
    JOIN vs_code v ON v.concept IN ('dxa_t_score', 'dxa_z_score') AND v.match = 'exact'
                  AND v.system = coalesce(cs.canonical, trim(oc.system))
                  AND v.code_norm = code_norm(coalesce(cs.canonical, trim(oc.system)), oc.code)
    GROUP BY ALL
),
comp AS (
    SELECT oc.observation_id, oc.component_index,
           concat_ws(' ', any_value(oc.code_text), string_agg(oc.display, ' ' ORDER BY oc.display)) AS comp_text,
           any_value(oc.value_num) AS value_num, any_value(oc.value_unit) AS unit,
           any_value(oc.value_string) AS value_string, any_value(oc.value_string_num) AS value_string_num
    FROM observation_component oc GROUP BY ALL
),
component AS (
    SELECT o.patient_id, o.id, c.component_index, o.effective_date, c.unit,
           coalesce(c.value_num, c.value_string_num) AS value,
           CASE WHEN c.value_num IS NULL AND c.value_string_num IS NULL THEN c.value_string END AS value_text,
           c.comp_text AS all_text, o.all_text AS panel_text, NULL AS body_site_system, NULL AS body_site_code,
           NULL AS body_site_text, k.score_type AS coded_type, k.code_site, k.code, k.observation_id IS NOT NULL,
           CASE WHEN regexp_matches(lower(c.comp_text), '\bt[- ]?score') THEN 'T'
                WHEN regexp_matches(lower(c.comp_text), '\bz[- ]?score') THEN 'Z' END,
           regexp_matches(lower(concat_ws(' ', c.comp_text, o.all_text)), 'dxa|dexa|bone|bmd|densit'),
           dxa_site_from_text(c.comp_text)
    FROM obs o
    JOIN comp c ON c.observation_id = o.id
    LEFT JOIN comp_coded k ON k.observation_id = c.observation_id AND k.component_index = c.component_index
),
typed AS (
    SELECT x.*, coalesce(x.coded_type,
               CASE WHEN lower(x.unit) = '{t-score}' OR x.text_type = 'T' THEN 'T'
                    WHEN lower(x.unit) = '{z-score}' OR x.text_type = 'Z' THEN 'Z'
               END) AS score_type
    FROM (SELECT * FROM parent UNION ALL SELECT * FROM component) x
)
SELECT t.patient_id, t.id AS obs_id, t.component_index, t.score_type,
       coalesce(t.code_site, bs.qualifier, dxa_site_from_text(t.body_site_text), t.text_site) AS site,
       t.value, t.value_text, t.unit, t.effective_date AS eff_date, t.code
FROM typed t
LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(t.body_site_system), '/'))
LEFT JOIN vs_code bs ON bs.concept = 'dxa_body_site' AND bs.code_norm = upper(trim(t.body_site_code))
                    AND bs.system = coalesce(cs.canonical, t.body_site_system)
WHERE t.score_type IS NOT NULL AND (t.value IS NOT NULL OR t.value_text IS NOT NULL)
  AND (t.coded OR lower(t.unit) IN ('{t-score}', '{z-score}') OR t.dxa_words);

-- dxa_result: the usable scores (a number); in_range = false: outside [valid_min, valid_max] -> data quality.
CREATE OR REPLACE TABLE dxa_result AS
SELECT patient_id, obs_id, score_type, site, value, unit, eff_date, code,
       value BETWEEN $dxa_valid_min AND $dxa_valid_max AS in_range,
       'observation' AS source, NULL::VARCHAR AS report_ref, NULL::VARCHAR AS quote, NULL::VARCHAR AS site_text
FROM dxa_candidate
WHERE value IS NOT NULL;

-- dxa_report: DXA reports (DiagnosticReport / DocumentReference) by code (code list dxa_report, local codes
-- included) or title, inside the DXA look-back. A report with no discrete score of that patient on its date (and
-- none among its `result` Observations) becomes a data-quality warning (data_quality.sql): its text may hold
-- the scores nobody screened.
CREATE OR REPLACE TABLE dxa_report AS
WITH rep AS (
    SELECT 'DiagnosticReport' AS resource_type, id, patient_id, status, report_date AS report_date, code_text AS title,
           result_obs_ids
    FROM diagnostic_report
    UNION ALL
    SELECT 'DocumentReference', id, patient_id, coalesce(doc_status, status), doc_date, title_text, []
    FROM document_reference
)
SELECT r.resource_type, r.id, r.patient_id, r.report_date, r.title, r.result_obs_ids
FROM rep r
WHERE r.patient_id IS NOT NULL
  AND coalesce(r.status, 'final') NOT IN ('entered-in-error', 'cancelled', 'preliminary', 'registered', 'partial',
                                          'superseded')
  AND (r.report_date IS NULL OR (r.report_date <= $as_of
       AND r.report_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))))
  AND (EXISTS (SELECT 1 FROM coding_concept cc WHERE cc.resource_type = r.resource_type AND cc.resource_id = r.id
                 AND cc.concept = 'dxa_report')
       OR regexp_matches(lower(coalesce(r.title, '')), '\bdxa\b|\bdexa\b|bone densit|densitometr|\bbmd\b'));

-- Scores read from DXA report text (model/18_dxa_report_text.sql): source 'report text', the report as reference
-- and the quoted sentence. A discrete result of the same score type, site and date wins (laterality ignored).
INSERT INTO dxa_result
SELECT s.patient_id, NULL, s.kind, s.screen_site, s.value, NULL, s.eff_date, NULL, true,
       'report text', s.report_ref, s.quote, s.label
FROM dxa_report_score s
WHERE NOT EXISTS (SELECT 1 FROM dxa_result o WHERE o.source = 'observation' AND o.patient_id = s.patient_id
                    AND o.score_type = s.kind AND o.site = s.screen_site AND o.eff_date = s.eff_date);

-- dxa_latest: per patient and score type the latest scan date (central sites + forearm); forearm values count only
-- when that scan has no spine, hip or femur value.
CREATE OR REPLACE TABLE dxa_latest AS
WITH v AS (
    SELECT * FROM dxa_result WHERE in_range AND site IN ('lumbar_spine', 'total_hip', 'femur', 'forearm')
),
scan AS (
    SELECT * FROM v
    QUALIFY eff_date = max(eff_date) OVER (PARTITION BY patient_id, score_type)
)
SELECT s.* FROM scan s
WHERE s.site <> 'forearm'
   OR NOT EXISTS (SELECT 1 FROM scan c WHERE c.patient_id = s.patient_id AND c.score_type = s.score_type
                                         AND c.site <> 'forearm');
