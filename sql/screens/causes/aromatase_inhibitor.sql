-- aromatase_inhibitor: anastrozole, letrozole or exemestane active, or its interval ended within
-- lookback.hormone_therapy_months. Ingredients: config/medications (drug_group aromatase_inhibitor).
INSERT INTO screen_hits
SELECT patient_id, 'cause', 'aromatase_inhibitor', resource_ref, daily_amount, amount_unit, least(end_day, $as_of),
       ingredient || CASE WHEN no_dates THEN ' active (reported without dates)'
                          WHEN covers_as_of THEN ' active (since ' || fmt_date(start_date) || ')'
                          ELSE ' ' || fmt_date(start_date) || ' to ' || fmt_date(end_day) END,
       NULL, ingredient
FROM med_exposure
WHERE drug_group = 'aromatase_inhibitor' AND started
  AND least(end_day, CAST($as_of AS DATE)) >= $as_of - to_months(CAST($lookback_hormone_therapy_months AS INTEGER));
