-- FHIR date helpers. FHIR dates may be partial (YYYY, YYYY-MM); dateTimes keep their written local date
-- (no shift to UTC). A partial start date means its first day, a partial end date its last day.
CREATE OR REPLACE MACRO fhir_date(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(s, '\d{4}') THEN try_cast(s || '-01-01' AS DATE)
    WHEN regexp_full_match(s, '\d{4}-\d{2}') THEN try_cast(s || '-01' AS DATE)
    WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?')
        THEN try_cast(substr(s, 1, 10) AS DATE)
    ELSE NULL
END;

CREATE OR REPLACE MACRO fhir_date_end(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(s, '\d{4}') THEN try_cast(s || '-12-31' AS DATE)
    WHEN regexp_full_match(s, '\d{4}-\d{2}') THEN CAST(last_day(try_cast(s || '-01' AS DATE)) AS DATE)
    ELSE fhir_date(s)
END;

-- Precision of a FHIR date string: year, month, day (or NULL when absent/invalid).
CREATE OR REPLACE MACRO fhir_date_precision(s) AS CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(s, '\d{4}') THEN 'year'
    WHEN regexp_full_match(s, '\d{4}-\d{2}') THEN 'month'
    WHEN fhir_date(s) IS NOT NULL THEN 'day'
    ELSE NULL
END;

-- A present date string that does not parse (2023-02-30, 'yesterday') is invalid.
CREATE OR REPLACE MACRO fhir_date_invalid(s) AS s IS NOT NULL AND fhir_date(s) IS NULL;

-- UCUM duration to days (expectedSupplyDuration, boundsDuration).
CREATE OR REPLACE MACRO duration_days(v, unit_code) AS CASE
    WHEN v IS NULL THEN NULL
    WHEN lower(unit_code) IN ('d', 'day', 'days') THEN v
    WHEN lower(unit_code) IN ('wk', 'week', 'weeks') THEN v * 7
    WHEN lower(unit_code) IN ('mo', 'month', 'months') THEN v * 30
    WHEN lower(unit_code) IN ('a', 'year', 'years') THEN v * 365
    WHEN lower(unit_code) IN ('h', 'hour', 'hours') THEN v / 24.0
    ELSE NULL
END;

-- Timing.repeat.periodUnit to days.
CREATE OR REPLACE MACRO period_unit_days(u) AS CASE u
    WHEN 's' THEN 1.0 / 86400 WHEN 'min' THEN 1.0 / 1440 WHEN 'h' THEN 1.0 / 24
    WHEN 'd' THEN 1.0 WHEN 'wk' THEN 7.0 WHEN 'mo' THEN 30.0 WHEN 'a' THEN 365.0
    ELSE NULL
END;

-- The id part of a reference such as 'Patient/123', 'https://x/fhir/Patient/123/_history/2'.
CREATE OR REPLACE MACRO ref_id(ref, rtype) AS
    nullif(regexp_extract(ref, '(?:^|/)' || rtype || '/([A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]+)?$', 1), '');
