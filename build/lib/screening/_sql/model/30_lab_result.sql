-- lab_result: every lab Observation of a lab_* code list inside the lab look-back, converted to its canonical unit
-- (settings.toml [labs.units.<analyte>]); its reference range converted the same way, else the config default.
-- A numeric analyte with a unit that cannot be converted is quarantined (convertible = false, data-quality hit).
-- Calcium is albumin-corrected when an albumin from the same day exists.
CREATE OR REPLACE TABLE lab_result AS
WITH obs AS (
    SELECT o.*, substr(cc.concept, 5) AS analyte, cc.code,
           coalesce(o.value_unit_code, o.value_unit) AS raw_unit
    FROM observation o
    JOIN coding_concept cc ON cc.resource_type = 'Observation' AND cc.resource_id = o.id
                          AND starts_with(cc.concept, 'lab_')
    WHERE o.status IN ('final', 'amended', 'corrected')
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_lab_months AS INTEGER))
      AND o.patient_id IS NOT NULL
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
       coalesce(round(c.ref_low * c.ref_factor, 6), r.low) AS range_low,
       coalesce(round(c.ref_high * c.ref_factor, 6), r.high) AS range_high,
       (c.ref_low IS NOT NULL OR c.ref_high IS NOT NULL) AND c.ref_factor IS NOT NULL AS range_from_observation
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
