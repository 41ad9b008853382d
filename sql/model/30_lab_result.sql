-- lab_result: every lab Observation of a lab_* code list inside the lab look-back, converted to its canonical unit
-- (settings.toml [labs.units.<analyte>]); its reference range converted the same way, else the config default.
-- A numeric analyte with a unit that cannot be converted is quarantined (convertible = false, data-quality hit).
-- Calcium is albumin-corrected when an albumin from the same day exists.
-- Labs match by code first; an Observation no lab list knows by code matches by name (clinical-rules.md 8): its
-- code text / displays hit an `include` name pattern of exactly one test and no `exclude` pattern of it, and
-- its unit converts for that test (tests without a unit table: any unit). matched_by = 'code' | 'name'.
-- Only local codes are matched by name ("when the code is local": a LOINC code our lists do not hold is another
-- test, so it is not used, but it is a data-quality warning); vital signs / surveys / social history / imaging are
-- never name-matched.
CREATE OR REPLACE TABLE lab_name_candidate AS
WITH coded AS (
    SELECT DISTINCT resource_id FROM coding_concept
    WHERE resource_type = 'Observation'
      AND (starts_with(concept, 'lab_') OR starts_with(concept, 'dxa_') OR starts_with(concept, 'frax_'))
),
raw AS (
    SELECT o.*, list_has_any(coalesce(o.code_systems, []), l.systems) AS loinc_coded
    FROM observation o
    CROSS JOIN observation_loinc l
    ANTI JOIN coded c ON c.resource_id = o.id
    WHERE o.status IN ('final', 'amended', 'corrected')
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_lab_months AS INTEGER))
      AND o.patient_id IS NOT NULL
      AND NOT list_has_any(coalesce(o.category_codes, []), ['vital-signs', 'survey', 'social-history', 'imaging'])
),
texts AS (SELECT all_text, name_norm(all_text) AS norm_text FROM (SELECT DISTINCT all_text FROM raw)),
names AS (SELECT DISTINCT norm_text FROM texts),   -- patterns are matched once per distinct name, not per result
hit AS (
    SELECT n.norm_text, v.concept
    FROM names n JOIN vs_code v ON v.match = 'name' AND starts_with(v.concept, 'lab_')
    GROUP BY ALL
    HAVING bool_or(v.qualifier = 'include' AND name_hit(n.norm_text, v.code_norm))
       AND NOT bool_or(v.qualifier = 'exclude' AND name_hit(n.norm_text, v.code_norm))
),
one AS (SELECT norm_text, any_value(concept) AS concept FROM hit GROUP BY norm_text HAVING count(*) = 1),
-- only the results whose text names exactly one test are joined back (all_text is never NULL: concat_ws)
obs AS (SELECT r.*, x.norm_text FROM raw r JOIN (SELECT * FROM texts JOIN one USING (norm_text)) x
                                          ON x.all_text = r.all_text)
SELECT o.id AS obs_id, o.patient_id, substr(one.concept, 5) AS analyte,
       coalesce(o.value_unit_code, o.value_unit) AS raw_unit, o.value_num, o.effective_date AS eff_date,
       trim(o.norm_text) AS name_text, o.loinc_coded,
       (SELECT count(*) = 0 FROM cfg_unit u WHERE u.analyte = substr(one.concept, 5))
       OR EXISTS (SELECT 1 FROM cfg_unit u WHERE u.analyte = substr(one.concept, 5)
                    AND u.unit = lower(replace(coalesce(o.value_unit_code, o.value_unit), ' ', '')))
           AS unit_converts
FROM obs o JOIN one ON one.norm_text = o.norm_text;

CREATE OR REPLACE TABLE lab_result AS
WITH obs AS (
    SELECT o.*, substr(cc.concept, 5) AS analyte, cc.code,
           coalesce(o.value_unit_code, o.value_unit) AS raw_unit, 'code' AS matched_by
    FROM observation o
    JOIN coding_concept cc ON cc.resource_type = 'Observation' AND cc.resource_id = o.id
                          AND starts_with(cc.concept, 'lab_')
    WHERE o.status IN ('final', 'amended', 'corrected')
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_lab_months AS INTEGER))
      AND o.patient_id IS NOT NULL
    UNION ALL BY NAME
    SELECT o.*, n.analyte, coalesce(o.code_text, 'local code') AS code, n.raw_unit, 'name' AS matched_by
    FROM lab_name_candidate n JOIN observation o ON o.id = n.obs_id
    WHERE n.unit_converts AND NOT n.loinc_coded
),
numeric_analyte AS (SELECT DISTINCT analyte FROM cfg_unit),
conv AS (
    SELECT o.*, na.analyte IS NOT NULL AS needs_unit, u.factor,
           ru.factor AS ref_factor
    FROM obs o
    LEFT JOIN numeric_analyte na ON na.analyte = o.analyte
    LEFT JOIN cfg_unit u ON u.analyte = o.analyte AND u.unit = lower(replace(o.raw_unit, ' ', ''))
    LEFT JOIN cfg_unit ru ON ru.analyte = o.analyte
                         AND ru.unit = lower(replace(coalesce(o.ref_unit, o.raw_unit), ' ', ''))
)
SELECT c.id AS obs_id, c.patient_id, c.analyte, c.code, c.effective_date AS eff_date,
       c.value_num AS raw_value, c.raw_unit, c.value_comparator,
       NOT c.needs_unit OR (c.factor IS NOT NULL AND c.value_num IS NOT NULL) AS convertible,
       CASE WHEN c.needs_unit THEN round(c.value_num * c.factor, 6) ELSE c.value_num END AS value,
       cu.unit AS unit,
       coalesce(round(c.ref_low * c.ref_factor, 6), CASE WHEN NOT c.needs_unit THEN c.ref_low END, r.low) AS range_low,
       coalesce(round(c.ref_high * c.ref_factor, 6), CASE WHEN NOT c.needs_unit THEN c.ref_high END, r.high)
           AS range_high,
       (c.ref_low IS NOT NULL OR c.ref_high IS NOT NULL) AND c.ref_factor IS NOT NULL AS range_from_observation,
       c.matched_by, c.interpretation_code
FROM conv c
LEFT JOIN cfg_lab_range r ON r.analyte = c.analyte
LEFT JOIN cfg_unit_canonical cu ON cu.analyte = c.analyte;

-- Albumin-corrected calcium (same-day albumin, latest albumin of that day).
CREATE OR REPLACE TABLE lab_result AS
SELECT l.* EXCLUDE (value),
       CASE WHEN l.analyte = 'calcium' AND a.value IS NOT NULL
            THEN l.value + $labs_albumin_correction_factor * ($labs_albumin_correction_normal_g_dl - a.value)
            ELSE l.value END AS value,
       l.value AS uncorrected_value,
       CASE WHEN l.analyte = 'calcium' AND a.value IS NOT NULL THEN a.obs_id END AS albumin_obs_id
FROM lab_result l
LEFT JOIN (
    SELECT patient_id, eff_date, value, obs_id FROM lab_result
    WHERE analyte = 'albumin' AND convertible AND value IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY patient_id, eff_date ORDER BY obs_id DESC) = 1
) a ON l.analyte = 'calcium' AND a.patient_id = l.patient_id AND a.eff_date = l.eff_date;

-- lab_latest: the latest usable value of each test (not paired by date across tests).
CREATE OR REPLACE TABLE lab_latest AS
SELECT * FROM lab_result
WHERE convertible AND value IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY patient_id, analyte ORDER BY eff_date DESC, obs_id DESC) = 1;
