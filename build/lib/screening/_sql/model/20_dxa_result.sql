-- dxa_result: every DXA T- or Z-score Observation up to the as-of date inside the DXA look-back.
-- Score type and site come from the code list (dxa_t_score / dxa_z_score, qualifier = site); an Observation the
-- lists do not know counts when its unit ({T-score}/{Z-score}) or its text names a T/Z-score of a bone scan.
-- Site: the code first, then bodySite (code list dxa_body_site, then its text), then the code's text.
-- in_range = false: outside [valid_min, valid_max] -> a data-quality issue (probably a BMD in g/cm2), never screened.
CREATE OR REPLACE MACRO dxa_site_from_text(t) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN regexp_matches(lower(t), 'neck|femor|femur|\bfn\b') THEN 'femur'
    WHEN regexp_matches(lower(t), 'lumbar|spine|\bl1|\bl2|vertebra') THEN 'lumbar_spine'
    WHEN regexp_matches(lower(t), '\bhip') THEN 'total_hip'
    WHEN regexp_matches(lower(t), 'radius|forearm|ulna|wrist') THEN 'forearm'
    WHEN regexp_matches(lower(t), 'calcane|heel|humer') THEN 'other'
    ELSE NULL END;

CREATE OR REPLACE TABLE dxa_result AS
WITH obs AS (
    SELECT o.*, coalesce(o.value_unit_code, o.value_unit) AS unit,
           concat_ws(' ', o.code_text, (SELECT string_agg(display, ' ' ORDER BY display) FROM observation_coding oc
                                        WHERE oc.observation_id = o.id)) AS all_text
    FROM observation o
    WHERE o.status IN ('final', 'amended', 'corrected')
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_dxa_months AS INTEGER))
      AND o.patient_id IS NOT NULL
),
coded AS (
    SELECT o.id, CASE cc.concept WHEN 'dxa_t_score' THEN 'T' ELSE 'Z' END AS score_type,
           cc.qualifier AS code_site, cc.code
    FROM obs o
    JOIN coding_concept cc ON cc.resource_type = 'Observation' AND cc.resource_id = o.id
                          AND cc.concept IN ('dxa_t_score', 'dxa_z_score')
    QUALIFY row_number() OVER (PARTITION BY o.id ORDER BY cc.concept) = 1
),
typed AS (
    SELECT o.*, coalesce(c.score_type,
               CASE WHEN lower(o.unit) = '{t-score}' OR regexp_matches(lower(o.all_text), '\bt[- ]?score') THEN 'T'
                    WHEN lower(o.unit) = '{z-score}' OR regexp_matches(lower(o.all_text), '\bz[- ]?score') THEN 'Z'
               END) AS score_type,
           c.code_site, c.code, c.id IS NOT NULL AS coded
    FROM obs o LEFT JOIN coded c ON c.id = o.id
)
SELECT t.patient_id, t.id AS obs_id, t.score_type,
       coalesce(t.code_site, bs.qualifier, dxa_site_from_text(t.body_site_text), dxa_site_from_text(t.all_text))
           AS site,
       t.value_num AS value, t.unit, t.effective_date AS eff_date, t.code,
       t.value_num BETWEEN $dxa_valid_min AND $dxa_valid_max AS in_range
FROM typed t
LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(t.body_site_system), '/'))
LEFT JOIN vs_code bs ON bs.concept = 'dxa_body_site' AND bs.code_norm = upper(trim(t.body_site_code))
                    AND bs.system = coalesce(cs.canonical, t.body_site_system)
WHERE t.score_type IS NOT NULL AND t.value_num IS NOT NULL
  AND (t.coded OR lower(t.unit) IN ('{t-score}', '{z-score}')
       OR regexp_matches(lower(t.all_text), 'dxa|dexa|bone|bmd|densit'));

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
