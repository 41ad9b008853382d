-- Medication facts the screens use, per patient.

-- gc_interval: systemic glucocorticoid dosage lines (med_segment) inside the exposure window, clipped to it
-- (inclusive days). Systemic = oral or parenteral route of the line (coded route, route text tokens, else the dose
-- form in the name); with no route at all only the ingredients marked route_unknown_counts (prednisone,
-- prednisolone, methylprednisolone, deflazacort, cortisone). Hydrocortisone up to replacement_hc_max_mg/day (or of
-- unknown dose) is replacement, not exposure, when adrenal insufficiency or hypopituitarism is coded.
CREATE OR REPLACE TABLE gc_interval AS
WITH win AS (SELECT CAST(CAST($as_of AS DATE) - to_months(CAST($lookback_gc_window_months AS INTEGER)) AS DATE) AS ws),
replacement AS (
    SELECT DISTINCT patient_id FROM condition_fact WHERE concept = 'adrenal_insufficiency' AND is_active
)
SELECT s.*, f.factor AS pred_factor,
       s.daily_amount * f.factor AS daily_pred_mg,
       s.use_start <= $as_of AND s.use_end >= $as_of AS covers_as_of,
       greatest(s.seg_start, win.ws) AS clip_start,
       least(s.seg_end, CAST($as_of AS DATE)) AS clip_end,
       date_diff('day', greatest(s.seg_start, win.ws), least(s.seg_end, CAST($as_of AS DATE))) + 1 AS clip_days
FROM med_segment s
CROSS JOIN win
JOIN cfg_pred_factor f ON f.ingredient = s.ingredient
WHERE s.drug_group = 'glucocorticoid' AND s.seg_start <= $as_of
  AND (s.route_class IN ('oral', 'parenteral') OR (s.route_class IS NULL AND s.route_unknown_counts))
  AND s.seg_end >= win.ws
  AND NOT (s.ingredient = 'hydrocortisone'
           AND s.patient_id IN (SELECT patient_id FROM replacement)
           AND coalesce(s.daily_amount, 0) <= $glucocorticoid_replacement_hc_max_mg);

-- gc_day: the patient's glucocorticoid days cut into blocks where the same records run (boundaries of every clipped
-- line). Per block and ingredient one record gives the dose (clinical-rules.md 8): the administration, else the
-- dispense, else the statement, else the order (then a known dose, the latest start, the reference); lines of that
-- record running together add up. Different ingredients add up; a block's dose is known when every ingredient's is.
CREATE OR REPLACE TABLE gc_day AS
WITH pts AS (
    SELECT DISTINCT patient_id, p FROM (
        SELECT patient_id, clip_start AS p FROM gc_interval
        UNION ALL SELECT patient_id, clip_end + 1 FROM gc_interval)
),
blocks AS (
    SELECT patient_id, p AS b_start, lead(p) OVER (PARTITION BY patient_id ORDER BY p) - 1 AS b_end FROM pts
),
per_record AS (
    SELECT b.patient_id, b.b_start, b.b_end, g.ingredient, g.resource_ref, g.source_type,
           min(g.use_start) AS use_start,
           CASE WHEN bool_and(g.daily_pred_mg IS NOT NULL) THEN sum(g.daily_pred_mg) END AS pred_mg_day
    FROM blocks b
    JOIN gc_interval g ON g.patient_id = b.patient_id AND g.clip_start <= b.b_start AND g.clip_end >= b.b_end
    WHERE b.b_end IS NOT NULL
    GROUP BY ALL
),
chosen AS (
    SELECT * FROM per_record
    QUALIFY row_number() OVER (
        PARTITION BY patient_id, b_start, ingredient
        ORDER BY CASE source_type WHEN 'MedicationAdministration' THEN 1 WHEN 'MedicationDispense' THEN 2
                                  WHEN 'MedicationStatement' THEN 3 ELSE 4 END,
                 pred_mg_day IS NULL, use_start DESC, resource_ref) = 1
)
SELECT patient_id, b_start, b_end, date_diff('day', b_start, b_end) + 1 AS days,
       bool_and(pred_mg_day IS NOT NULL) AS known,
       CASE WHEN bool_and(pred_mg_day IS NOT NULL) THEN sum(pred_mg_day) END AS pred_mg_day,
       b_start <= $as_of AND b_end >= $as_of AS is_as_of
FROM chosen GROUP BY patient_id, b_start, b_end;

-- gc_exposure: per patient, merged exposure days, known-dose days and the known-dose mean (prednisone-equivalent
-- mg over the days whose dose is known / those days). The 2.5 mg/day threshold applies when at least half of the
-- merged days have a known dose (dose_known), otherwise the cause fires as "dose unknown"; some unknown days make
-- "dose partly unknown". The 7.5 mg/day trigger and the FRAX multiplier need the block on the as-of date to have a
-- known dose (`current`). A qualifying order: an active / on-hold dated order covering the as-of date whose
-- supply x (1 + repeats) reaches min_days.
CREATE OR REPLACE TABLE gc_exposure AS
WITH d AS (
    SELECT patient_id, sum(days) AS merged_days,
           coalesce(sum(days) FILTER (WHERE known), 0) AS known_days,
           sum(pred_mg_day * days) FILTER (WHERE known) AS pred_mg,
           coalesce(bool_or(is_as_of AND known), false) AS current,
           coalesce(bool_or(is_as_of), false) AS covers_as_of,
           max(b_end) AS last_day
    FROM gc_day GROUP BY patient_id
),
o AS (
    SELECT patient_id,
           bool_or(source_type = 'MedicationRequest' AND status IN ('active', 'on-hold') AND covers_as_of
                   AND NOT no_dates AND expected_days >= $glucocorticoid_min_days
                   AND (daily_pred_mg IS NULL OR daily_pred_mg >= $glucocorticoid_min_mean_mg)) AS qualifying_order
    FROM gc_interval GROUP BY patient_id
),
m AS (
    SELECT d.*, coalesce(o.qualifying_order, false) AS qualifying_order,
           d.known_days > 0 AND d.known_days * 2 >= d.merged_days AS dose_known,
           d.known_days > 0 AND d.known_days < d.merged_days AS dose_partly_unknown,
           CASE WHEN d.known_days > 0 THEN d.pred_mg / d.known_days END AS mean_mg
    FROM d LEFT JOIN o USING (patient_id)
)
SELECT patient_id, merged_days, known_days, dose_known, dose_partly_unknown, current, covers_as_of,
       qualifying_order, last_day, mean_mg,
       (merged_days >= $glucocorticoid_min_days AND (NOT dose_known OR mean_mg >= $glucocorticoid_min_mean_mg))
           OR qualifying_order AS fires,
       current AND mean_mg >= $glucocorticoid_high_dose_mg
           AND ((merged_days >= $glucocorticoid_min_days AND (NOT dose_known OR mean_mg >= $glucocorticoid_min_mean_mg))
                OR qualifying_order) AS high_dose
FROM m;

-- op_therapy: osteoporosis pharmacotherapy whose last dose / order / statement (interval end or administration day)
-- lies inside its class window (settings [op_therapy_months]); ibandronate given parenterally uses ibandronate_iv.
CREATE OR REPLACE TABLE op_therapy AS
SELECT e.patient_id, e.resource_ref, e.ingredient, e.start_date, e.end_day, w.months,
       e.covers_as_of
FROM med_exposure e
JOIN cfg_op_window w ON w.op_class = CASE
        WHEN e.op_class = 'ibandronate' AND e.route_class = 'parenteral' THEN 'ibandronate_iv'
        WHEN e.op_class = 'ibandronate' THEN 'oral_bisphosphonate'
        ELSE e.op_class END
WHERE e.drug_group = 'op_therapy' AND e.started
  AND least(e.end_day, CAST($as_of AS DATE)) >= CAST($as_of AS DATE) - to_months(CAST(w.months AS INTEGER));

-- vitd_repletion: cholecalciferol / ergocalciferol at a daily-equivalent >= repletion_daily_iu covering the as-of
-- date, or a single dose >= loading_dose_iu within loading_months (calcitriol is not vitamin D repletion).
CREATE OR REPLACE TABLE vitd_repletion AS
SELECT patient_id, resource_ref, ingredient, start_date, end_day, daily_amount, amount
FROM med_exposure
WHERE drug_group = 'vitamin_d' AND started
  AND ((covers_as_of AND daily_amount >= $vitamin_d_repletion_daily_iu)
       OR (amount >= $vitamin_d_loading_dose_iu
           AND start_date >= CAST($as_of AS DATE) - to_months(CAST($vitamin_d_loading_months AS INTEGER))));
