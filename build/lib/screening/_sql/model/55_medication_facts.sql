-- Medication facts the screens use, per patient.

-- gc_interval: systemic glucocorticoid exposure inside the exposure window, clipped to it (inclusive days).
-- Systemic = oral or parenteral route (dosage route, else the dose form in the name); with no route at all only the
-- ingredients marked route_unknown_counts (prednisone, prednisolone, methylprednisolone, deflazacort, cortisone).
-- Hydrocortisone up to replacement_hc_max_mg/day (or of unknown dose) is replacement, not exposure, when adrenal
-- insufficiency or hypopituitarism is coded.
CREATE OR REPLACE TABLE gc_interval AS
WITH win AS (SELECT CAST($as_of AS DATE) - to_months(CAST($lookback_gc_window_months AS INTEGER)) AS ws),
replacement AS (
    SELECT DISTINCT patient_id FROM condition_fact WHERE concept = 'adrenal_insufficiency' AND is_active
)
SELECT e.*, f.factor AS pred_factor,
       e.daily_amount * f.factor AS daily_pred_mg,
       greatest(e.start_date, win.ws) AS clip_start,
       least(e.end_day, CAST($as_of AS DATE)) AS clip_end,
       date_diff('day', greatest(e.start_date, win.ws), least(e.end_day, CAST($as_of AS DATE))) + 1 AS clip_days
FROM med_exposure e
CROSS JOIN win
JOIN cfg_pred_factor f ON f.ingredient = e.ingredient
WHERE e.drug_group = 'glucocorticoid' AND e.started
  AND (e.route_class IN ('oral', 'parenteral') OR (e.route_class IS NULL AND e.route_unknown_counts))
  AND e.end_day >= win.ws
  AND NOT (e.ingredient = 'hydrocortisone'
           AND e.patient_id IN (SELECT patient_id FROM replacement)
           AND coalesce(e.daily_amount, 0) <= $glucocorticoid_replacement_hc_max_mg);

-- gc_exposure: per patient, merged exposure days (overlaps merged first), prednisone-equivalent mg, mean dose.
-- The mean is computed only when every interval has a dose; otherwise the exposure is "dose unknown".
-- A qualifying order: an active order covering the as-of date whose supply x (1 + repeats) reaches min_days.
CREATE OR REPLACE TABLE gc_exposure AS
WITH ordered AS (
    SELECT patient_id, clip_start, clip_end,
           max(clip_end) OVER (PARTITION BY patient_id ORDER BY clip_start, clip_end
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM gc_interval
),
islands AS (
    SELECT patient_id, clip_start, clip_end,
           sum(CASE WHEN prev_end IS NULL OR clip_start > prev_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY patient_id ORDER BY clip_start, clip_end ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
),
merged AS (
    SELECT patient_id, sum(date_diff('day', s, e) + 1) AS merged_days
    FROM (SELECT patient_id, island, min(clip_start) AS s, max(clip_end) AS e FROM islands GROUP BY ALL)
    GROUP BY patient_id
),
agg AS (
    SELECT patient_id,
           bool_and(daily_pred_mg IS NOT NULL) AS dose_known,
           sum(daily_pred_mg * clip_days) AS pred_mg,
           bool_or(covers_as_of) AS current,
           bool_or(source_type = 'MedicationRequest' AND status IN ('active', 'on-hold') AND covers_as_of
                   AND expected_days >= $glucocorticoid_min_days
                   AND (daily_pred_mg IS NULL OR daily_pred_mg >= $glucocorticoid_min_mean_mg)) AS qualifying_order,
           max(clip_end) AS last_day
    FROM gc_interval GROUP BY patient_id
)
SELECT a.patient_id, m.merged_days, a.dose_known, a.current, a.qualifying_order, a.last_day,
       CASE WHEN a.dose_known THEN a.pred_mg / m.merged_days END AS mean_mg,
       (m.merged_days >= $glucocorticoid_min_days
            AND (NOT a.dose_known OR a.pred_mg / m.merged_days >= $glucocorticoid_min_mean_mg))
           OR a.qualifying_order AS fires,
       a.dose_known AND a.current AND a.pred_mg / m.merged_days >= $glucocorticoid_high_dose_mg AS high_dose
FROM agg a JOIN merged m USING (patient_id);

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
