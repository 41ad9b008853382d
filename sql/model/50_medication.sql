-- Medication model: resolve every MedicationStatement / MedicationRequest / MedicationAdministration /
-- MedicationDispense to ingredient(s), strength, route class per dosage line and an exposure interval per use and
-- per dosage line with a daily amount (clinical-rules.md 7 "Time and exposure" and 8 "Medications").
--
-- med_resolved: the shipped code map (med_drug_map: SCD/SBD/pack/brand -> ingredient, strength) and RxNorm
-- ingredient codes first; only when no code resolves, the normalised drug name ("prednisone 5 MG Oral Tablet"
-- -> prednisone, 5 mg; brand names too). Strength missing from the map is parsed from the same drug text.
CREATE OR REPLACE TEMP TABLE med_text AS   -- per-run helper, never persisted
SELECT source_type, id AS use_id, lower(medication_text) AS t FROM medication_use WHERE medication_text IS NOT NULL
UNION
SELECT resource_type, resource_id, lower(display) FROM coding_all
WHERE resource_type LIKE 'Medication%' AND display IS NOT NULL;

CREATE OR REPLACE TABLE med_resolved AS
WITH by_code AS (
    SELECT c.resource_type AS source_type, c.resource_id AS use_id, d.ingredient, d.strength,
           d.strength_unit, d.per, lower(coalesce(nullif(c.display, ''), d.display)) AS drug_text,
           'code_map' AS resolved_by
    FROM coding_all c
    JOIN med_drug_map d ON d.system = c.system AND d.code_norm = c.code_norm
    WHERE c.resource_type LIKE 'Medication%'
    UNION ALL
    SELECT c.resource_type, c.resource_id, i.ingredient, NULL, NULL, NULL, lower(c.display), 'ingredient_code'
    FROM coding_all c
    JOIN med_ingredient i ON i.rxcui = c.code_norm
    WHERE c.resource_type LIKE 'Medication%' AND c.system = 'http://www.nlm.nih.gov/research/umls/rxnorm'
),
texts AS (SELECT DISTINCT t FROM med_text),
name_hit AS (   -- per distinct drug text (uses share texts): ingredient names as whole words; the strength is the
                -- first amount after the name
    SELECT t, ingredient,
           regexp_extract(after, '^[^0-9/;]{0,30}?(\d+(?:\.\d+)?)\s*(mg|mcg|ug|µg|unt|iu|units?|\[iu\])(/ml)?\b',
                          ['num', 'unit', 'per_ml']) AS s
    FROM (
        -- contains() + constant patterns: no per-row regex compilation (this ran 65 s at 100k patients)
        SELECT x.t, n.ingredient,
               substr(x.t, strpos(x.t, n.name) - 1, 1) AS before,
               substr(x.t, strpos(x.t, n.name) + length(n.name)) AS after
        FROM texts x
        JOIN med_ingredient_name n ON contains(x.t, n.name)
    )
    WHERE NOT regexp_matches(before, '^[a-z0-9_]') AND NOT regexp_matches(after, '^[a-z0-9_]')
),
by_name AS (
    SELECT m.source_type, m.use_id, h.ingredient, m.t AS drug_text, h.s
    FROM med_text m JOIN name_hit h USING (t)
),
name_rows AS (
    SELECT source_type, use_id, ingredient,
           max(try_cast(nullif(s.num, '') AS DOUBLE)) AS strength,
           max(nullif(s.unit, '')) AS strength_unit,
           max(CASE WHEN s.num = '' THEN NULL WHEN s.per_ml <> '' THEN 'ml' ELSE 'unit' END) AS per,
           max(drug_text) AS drug_text
    FROM by_name GROUP BY ALL
),
code_use AS (SELECT DISTINCT source_type, use_id FROM by_code),
chosen AS (
    SELECT b.source_type, b.use_id, b.ingredient,
           coalesce(b.strength, n.strength) AS strength,
           CASE WHEN b.strength IS NOT NULL THEN b.strength_unit ELSE n.strength_unit END AS strength_unit,
           CASE WHEN b.strength IS NOT NULL THEN b.per ELSE n.per END AS per,
           coalesce(b.drug_text, n.drug_text) AS drug_text, b.resolved_by
    FROM by_code b
    LEFT JOIN name_rows n USING (source_type, use_id, ingredient)
    QUALIFY row_number() OVER (PARTITION BY b.source_type, b.use_id, b.ingredient
                               ORDER BY b.resolved_by, b.strength IS NULL, b.strength,
                                        b.drug_text) = 1
    UNION ALL
    SELECT n.source_type, n.use_id, n.ingredient, n.strength, n.strength_unit, n.per, n.drug_text, 'name'
    FROM name_rows n ANTI JOIN code_use c USING (source_type, use_id)
),
use_text AS (   -- the drug texts of each use: its own (medication text, coding displays) and, for a use resolved
                -- by the code map, the map's display, so a code-only use still names its dose form
    SELECT source_type, use_id, t FROM med_text
    UNION
    SELECT source_type, use_id, drug_text FROM chosen WHERE resolved_by = 'code_map' AND drug_text IS NOT NULL
),
form_hit AS (   -- dose-form words as whole words of each distinct text (both sides normalised the same way)
    SELECT x.t, f.route_class, f.priority
    FROM (SELECT t, ' ' || trim(regexp_replace(t, '[^a-z0-9]+', ' ', 'g')) || ' ' AS norm
          FROM (SELECT DISTINCT t FROM use_text)) x
    JOIN (SELECT route_class, priority, ' ' || trim(regexp_replace(term, '[^a-z0-9]+', ' ', 'g')) || ' ' AS term
          FROM med_dose_form) f ON contains(x.norm, f.term)
),
forms AS (   -- route class of the dose form named in any drug text of the use (lowest priority number wins)
    SELECT m.source_type, m.use_id, h.route_class
    FROM use_text m JOIN form_hit h USING (t)
    QUALIFY row_number() OVER (PARTITION BY m.source_type, m.use_id ORDER BY h.priority, h.route_class) = 1
)
SELECT c.source_type, c.use_id, c.ingredient, i.drug_group, i.op_class, i.route_unknown_counts, i.depot_days,
       CASE WHEN c.strength_unit IN ('unt', 'iu', 'unit', 'units', '[iu]') THEN c.strength
            ELSE c.strength * coalesce(du.factor, 1.0) END AS strength,
       CASE WHEN c.strength IS NULL THEN NULL
            WHEN c.strength_unit IN ('unt', 'iu', 'unit', 'units', '[iu]') THEN 'iu' ELSE 'mg' END AS strength_unit,
       coalesce(c.per, CASE WHEN c.strength IS NOT NULL THEN 'unit' END) AS per,
       f.route_class AS form_route_class, c.drug_text, c.resolved_by
FROM chosen c
JOIN med_ingredient i ON i.ingredient = c.ingredient
LEFT JOIN cfg_dose_unit du ON du.unit = c.strength_unit
LEFT JOIN forms f ON f.source_type = c.source_type AND f.use_id = c.use_id;

-- med_route_text: route class of every distinct route text, by whole tokens (config/medications/route_text.csv;
-- the lowest priority number wins). route_class NULL = unknown route text (a data-quality warning).
CREATE OR REPLACE TABLE med_route_text AS
WITH n AS (
    SELECT route_text, ' ' || trim(regexp_replace(lower(route_text), '[^a-z0-9-]+', ' ', 'g')) || ' ' AS norm
    FROM (SELECT DISTINCT route_text FROM medication_dosage WHERE trim(coalesce(route_text, '')) <> '')
)
SELECT n.route_text, k.route_class, k.kind
FROM n LEFT JOIN med_route_token k ON contains(n.norm, ' ' || k.token || ' ')
QUALIFY row_number() OVER (PARTITION BY n.route_text ORDER BY k.priority NULLS LAST, k.route_class, k.token) = 1;

-- _med_use: one row per use and resolved ingredient that can count. Status entered-in-error / cancelled / draft /
-- not-taken / not-done never count; a dispense counts only when completed. A use with status active / on-hold and
-- no date at all is a one-day interval on the as-of date (no_dates: a data-quality warning; never 90 days).
CREATE OR REPLACE TEMP TABLE _med_use AS
SELECT m.source_type, m.id AS use_id, m.patient_id, m.status, m.intent, m.end_date, m.asserted_date,
       m.supply_days, m.repeats, m.quantity_value, m.quantity_unit,
       r.ingredient, r.drug_group, r.op_class, r.route_unknown_counts, r.depot_days, r.strength, r.strength_unit,
       r.per, r.form_route_class, r.drug_text, r.resolved_by,
       m.start_date IS NULL AS no_dates,
       coalesce(m.start_date, CAST($as_of AS DATE)) AS start_date,
       ' ' || trim(regexp_replace(coalesce(r.drug_text, ''), '[^a-z0-9.-]+', ' ', 'g')) || ' ' AS drug_norm
FROM medication_use m
JOIN med_resolved r ON r.source_type = m.source_type AND r.use_id = m.id
WHERE m.patient_id IS NOT NULL
  AND coalesce(m.status, '') NOT IN ('entered-in-error', 'cancelled', 'draft', 'not-taken', 'not-done')
  AND (m.source_type <> 'MedicationDispense' OR m.status = 'completed')
  AND (m.start_date IS NOT NULL OR (m.status IN ('active', 'on-hold') AND NOT coalesce(m.asserted_date > $as_of, false)));

-- _med_line: every dosage line of those uses (a use without dosage is one empty line 0) with its route class
-- (coded route, else route text tokens, else the dose form in the drug name), amount per administration (mg, or
-- IU for vitamin D), administrations per day, and its place in the schedule (clinical-rules.md 8): with
-- Dosage.sequence, lines of one sequence run together and sequences follow one another; without it, lines with
-- boundsDuration follow one another in the order written and lines without bounds run the whole use.
-- boundsPeriod places its line at its own dates.
CREATE OR REPLACE TEMP TABLE _med_line AS
WITH l AS (
    SELECT u.*, coalesce(d.line_no, 0) AS line_no, d.sequence, d.route_code, d.route_text, d.dose_value,
           d.dose_unit, d.bounds_days, d.bounds_start, d.bounds_end,
           coalesce(cs.canonical, d.route_system) AS route_system_canon,
           lower(replace(replace(replace(d.dose_unit, '{', ''), '}', ''), ' ', '')) AS du,
           CASE WHEN d.timing_frequency IS NULL AND d.timing_period IS NULL THEN NULL
                ELSE coalesce(d.timing_frequency, 1)
                     / (coalesce(d.timing_period, 1) * period_unit_days(coalesce(d.timing_period_unit, 'd')))
           END AS per_day
    FROM _med_use u
    LEFT JOIN medication_dosage d ON d.source_type = u.source_type AND d.use_id = u.use_id
    LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(d.route_system), '/'))
),
route AS (
    SELECT l.*,
           coalesce(rc.route_class, rt.route_class, l.form_route_class) AS route_class,
           (rc.route_class IS NULL AND rt.route_text IS NOT NULL AND rt.route_class IS NULL) AS route_text_unknown,
           CASE WHEN l.du IN ('unt', 'iu', '[iu]', 'u', 'unit', 'units') THEN 'iu'
                WHEN du2.factor IS NOT NULL THEN 'mass'
                WHEN l.du IN ('ml', 'milliliter') THEN 'ml'
                ELSE 'count' END AS dose_kind,
           du2.factor AS dose_mg_factor
    FROM l
    LEFT JOIN cfg_dose_unit du2 ON du2.unit = l.du
    LEFT JOIN (
        SELECT v.code_norm, v.system, CASE v.concept WHEN 'route_local' THEN 'local' ELSE v.qualifier END AS route_class
        FROM vs_code v WHERE v.concept IN ('route_local', 'route_systemic')
    ) rc ON rc.code_norm = upper(trim(l.route_code)) AND rc.system = l.route_system_canon
    LEFT JOIN med_route_text rt ON rt.route_text = l.route_text
),
amount AS (
    SELECT r.*,
           CASE
             WHEN r.dose_value IS NULL THEN NULL
             WHEN r.drug_group = 'vitamin_d' THEN CASE
                 WHEN r.dose_kind = 'iu' THEN r.dose_value
                 WHEN r.dose_kind = 'mass' THEN r.dose_value * r.dose_mg_factor * 1000 * $vitamin_d_iu_per_ug
                 WHEN r.dose_kind = 'count' AND r.per = 'unit' AND r.strength_unit = 'iu' THEN r.dose_value * r.strength
                 WHEN r.dose_kind = 'count' AND r.per = 'unit' AND r.strength_unit = 'mg'
                     THEN r.dose_value * r.strength * 1000 * $vitamin_d_iu_per_ug
                 WHEN r.dose_kind = 'ml' AND r.per = 'ml' AND r.strength_unit = 'iu' THEN r.dose_value * r.strength
                 ELSE NULL END
             WHEN r.dose_kind = 'mass' THEN r.dose_value * r.dose_mg_factor
             WHEN r.dose_kind = 'ml' AND r.per = 'ml' AND r.strength_unit = 'mg' THEN r.dose_value * r.strength
             WHEN r.dose_kind = 'count' AND r.per = 'unit' AND r.strength_unit = 'mg' THEN r.dose_value * r.strength
             ELSE NULL
           END AS amount,
           bool_or(r.sequence IS NOT NULL) OVER (PARTITION BY r.source_type, r.use_id, r.ingredient) AS has_seq
    FROM route r
),
keyed AS (   -- chain_key: the consecutive step a line belongs to (NULL = runs the whole use)
    SELECT a.*,
           CASE WHEN a.bounds_start IS NOT NULL OR a.bounds_end IS NOT NULL THEN NULL
                WHEN a.has_seq THEN a.sequence
                WHEN a.bounds_days > 0 THEN a.line_no END AS chain_key
    FROM amount a
),
steps AS (
    SELECT source_type, use_id, ingredient, chain_key, max(bounds_days) AS step_days
    FROM keyed WHERE chain_key IS NOT NULL GROUP BY ALL
),
offsets AS (
    SELECT *, coalesce(sum(coalesce(step_days, 0)) OVER (PARTITION BY source_type, use_id, ingredient ORDER BY chain_key
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS step_offset
    FROM steps
)
SELECT k.*, o.step_offset, o.step_days,
       max(o.step_offset + o.step_days) OVER (PARTITION BY k.source_type, k.use_id, k.ingredient) AS bounds_total,
       k.dose_value * k.per_day AS units_per_day
FROM keyed k
LEFT JOIN offsets o ON o.source_type = k.source_type AND o.use_id = k.use_id AND o.ingredient = k.ingredient
                   AND o.chain_key = k.chain_key;

-- _med_depot: depot products (config/medications/depots.csv): a listed depot ingredient, a dose form saying depot /
-- extended-release injectable suspension / implant, or a row whose product token names the product. The most
-- specific row wins (product code, then token, then strength); a depot with no row counts depot_days (unknown).
CREATE OR REPLACE TEMP TABLE _med_depot AS
WITH u AS (
    SELECT source_type, use_id, ingredient, any_value(depot_days) AS depot_days, any_value(drug_norm) AS drug_norm,
           coalesce(max(amount) FILTER (WHERE drug_group <> 'vitamin_d'),
                    max(strength) FILTER (WHERE per = 'unit' AND strength_unit = 'mg')) AS depot_mg,
           bool_and(coalesce(route_class, 'parenteral') = 'parenteral') AS parenteral
    FROM _med_line GROUP BY ALL
),
c AS (
    SELECT u.*, (u.depot_days IS NOT NULL OR contains(u.drug_norm, ' depot')
                 OR contains(u.drug_norm, 'extended-release injectable suspension')
                 OR contains(u.drug_norm, 'extended release injectable suspension')
                 OR contains(u.drug_norm, ' implant ')) AS depot_candidate
    FROM u
),
rows AS (
    SELECT u.source_type, u.use_id, u.ingredient, d.depot_row, d.interval_value, d.interval_unit, d.spread, d.label,
           (d.code_norm IS NOT NULL) AS by_code, (d.product_tokens IS NOT NULL) AS by_token,
           (d.strength_mg IS NOT NULL) AS by_strength
    FROM c u
    JOIN med_depot d ON d.ingredient = u.ingredient
    WHERE u.parenteral AND (u.depot_candidate OR d.product_tokens IS NOT NULL)
      AND (d.strength_mg IS NULL OR abs(d.strength_mg - u.depot_mg) < 0.001)
      AND (d.product_tokens IS NULL
           OR len(list_filter(CAST(d.product_tokens AS VARCHAR[]), lambda t: contains(u.drug_norm, ' ' || t || ' '))) > 0)
      AND (d.code_norm IS NULL OR EXISTS (SELECT 1 FROM coding_all ca
                                          WHERE ca.resource_type = u.source_type AND ca.resource_id = u.use_id
                                            AND ca.system = d.system AND ca.code_norm = d.code_norm))
    QUALIFY row_number() OVER (PARTITION BY u.source_type, u.use_id, u.ingredient
                               ORDER BY by_code DESC, by_token DESC, by_strength DESC, d.depot_row) = 1
)
SELECT u.source_type, u.use_id, u.ingredient, r.interval_value, r.interval_unit, coalesce(r.spread, false) AS spread,
       coalesce(r.label, u.ingredient || ' depot with no labelled interval: '
                || CAST(coalesce(u.depot_days, 28) AS INTEGER) || ' days') AS depot_label,
       r.depot_row IS NULL AS depot_unknown, coalesce(u.depot_days, 28) AS depot_days
FROM c u
LEFT JOIN rows r USING (source_type, use_id, ingredient)
WHERE r.depot_row IS NOT NULL OR (u.parenteral AND u.depot_candidate);

-- _med_use_end: the use's interval (clinical-rules.md 8): an administration covers its day, a depot (administered or
-- dispensed) its labelled interval; else effectivePeriod.end, else start + supply x (1 + repeats) (dispense: days
-- supply, never x repeats), else quantity / units per day, else the dosage bounds (the end of the consecutive
-- bounded steps, or the latest boundsPeriod end), else the as-of date for status
-- active / on-hold, else a depot's labelled interval, else the start day.
CREATE OR REPLACE TEMP TABLE _med_use_end AS
WITH u AS (
    SELECT source_type, use_id, ingredient, any_value(start_date) AS start_date, any_value(end_date) AS end_date,
           any_value(no_dates) AS no_dates, any_value(status) AS status, any_value(supply_days) AS supply_days,
           any_value(repeats) AS repeats, any_value(quantity_value) AS quantity_value,
           any_value(quantity_unit) AS quantity_unit, max(bounds_total) AS bounds_total,
           max(bounds_end) AS bounds_last_end,
           sum(units_per_day) FILTER (WHERE coalesce(step_offset, 0) = 0 AND bounds_start IS NULL
                                      AND bounds_end IS NULL) AS units_per_day,
           bool_and(quantity_unit IS NULL OR dose_unit IS NULL OR lower(quantity_unit) = lower(dose_unit)) AS same_unit
    FROM _med_line GROUP BY ALL
),
dep AS (
    SELECT d.*, u.start_date,
           CASE WHEN d.depot_unknown THEN u.start_date + CAST(d.depot_days AS INTEGER) - 1
                WHEN d.interval_unit = 'month'
                    THEN CAST(u.start_date + to_months(CAST(d.interval_value AS INTEGER)) AS DATE) - 1
                WHEN d.interval_unit = 'week' THEN u.start_date + CAST(7 * d.interval_value AS INTEGER) - 1
                ELSE u.start_date + CAST(d.interval_value AS INTEGER) - 1 END AS depot_end
    FROM _med_depot d JOIN u USING (source_type, use_id, ingredient)
)
SELECT u.*, dep.depot_end, dep.depot_label, dep.depot_unknown, coalesce(dep.spread, false) AS spread,
       CASE
         WHEN u.no_dates THEN u.start_date
         WHEN u.source_type IN ('MedicationAdministration', 'MedicationDispense') AND dep.depot_end IS NOT NULL
             THEN dep.depot_end
         WHEN u.source_type = 'MedicationAdministration' THEN greatest(coalesce(u.end_date, u.start_date), u.start_date)
         WHEN u.end_date IS NOT NULL THEN u.end_date
         WHEN u.supply_days > 0 THEN
             u.start_date + CAST(ceil(u.supply_days * (1 + coalesce(u.repeats, 0))) AS INTEGER) - 1
         WHEN u.quantity_value > 0 AND u.units_per_day > 0 AND u.same_unit THEN
             u.start_date + CAST(ceil(u.quantity_value / u.units_per_day * (1 + coalesce(u.repeats, 0))) AS INTEGER) - 1
         WHEN u.bounds_total > 0 OR u.bounds_last_end >= u.start_date THEN
             greatest(u.start_date + CAST(ceil(coalesce(u.bounds_total, 1)) AS INTEGER) - 1, u.bounds_last_end)
         WHEN u.status IN ('active', 'on-hold') THEN greatest(CAST($as_of AS DATE), u.start_date)
         WHEN dep.depot_end IS NOT NULL THEN dep.depot_end
         ELSE u.start_date
       END AS end_day,
       (dep.depot_end IS NOT NULL AND (u.source_type IN ('MedicationAdministration', 'MedicationDispense')
         OR (u.end_date IS NULL AND NOT u.supply_days > 0 AND NOT u.status IN ('active', 'on-hold')))) AS depot_used
FROM u LEFT JOIN dep USING (source_type, use_id, ingredient);

-- med_segment: one row per use, ingredient and dosage line: the days the line runs (inside the use's interval) and
-- its daily amount (mg/day, IU/day for vitamin D; NULL = dose unknown). A depot whose table row says spread
-- (glucocorticoid depot injections) spreads its dose over its interval.
CREATE OR REPLACE TABLE med_segment AS
WITH s AS (
    SELECT l.source_type, l.use_id, l.source_type || '/' || l.use_id AS resource_ref, l.patient_id, l.status,
           l.ingredient, l.drug_group, l.op_class, l.route_class, l.route_unknown_counts, l.route_text,
           l.route_text_unknown, l.no_dates, l.line_no, l.amount, e.start_date AS use_start, e.end_day AS use_end,
           e.depot_used, e.spread, e.supply_days * (1 + coalesce(e.repeats, 0)) AS expected_days,
           CASE WHEN e.no_dates THEN e.start_date
                WHEN l.bounds_start IS NOT NULL OR l.bounds_end IS NOT NULL
                    THEN greatest(coalesce(l.bounds_start, e.start_date), e.start_date)
                ELSE e.start_date + CAST(ceil(coalesce(l.step_offset, 0)) AS INTEGER) END AS seg_start,
           CASE WHEN e.no_dates THEN e.start_date
                WHEN l.bounds_start IS NOT NULL OR l.bounds_end IS NOT NULL
                    THEN least(coalesce(l.bounds_end, e.end_day), e.end_day)
                WHEN l.step_days > 0
                    THEN least(e.start_date + CAST(ceil(l.step_offset + l.step_days) AS INTEGER) - 1, e.end_day)
                ELSE e.end_day END AS seg_end,
           CASE WHEN e.depot_used AND e.spread THEN l.amount / (date_diff('day', e.start_date, e.end_day) + 1)
                WHEN l.source_type = 'MedicationAdministration' THEN l.amount
                ELSE l.amount * l.per_day END AS daily_amount
    FROM _med_line l
    JOIN _med_use_end e USING (source_type, use_id, ingredient)
)
SELECT * FROM s WHERE seg_start <= seg_end;

-- med_exposure: one row per use and ingredient with its interval (start_date .. end_day, inclusive) and its daily
-- amount on the as-of date (else on its first day): the lines that run then, added up.
CREATE OR REPLACE TABLE med_exposure AS
WITH seg AS (
    SELECT source_type, use_id, ingredient,
           bool_or(seg_start <= $as_of AND seg_end >= $as_of) AS any_now,
           sum(daily_amount) FILTER (WHERE seg_start <= $as_of AND seg_end >= $as_of) AS daily_now,
           bool_and(daily_amount IS NOT NULL) FILTER (WHERE seg_start <= $as_of AND seg_end >= $as_of) AS known_now,
           sum(daily_amount) FILTER (WHERE seg_start = use_start) AS daily_first,
           bool_and(daily_amount IS NOT NULL) FILTER (WHERE seg_start = use_start) AS known_first,
           max(amount) AS amount,
           arg_min(route_class, line_no) AS route_class,
           bool_or(route_text_unknown) AS route_text_unknown
    FROM med_segment GROUP BY ALL
)
SELECT u.source_type, u.use_id, u.source_type || '/' || u.use_id AS resource_ref, u.patient_id, u.status,
       u.intent, u.ingredient, u.drug_group, u.op_class, u.resolved_by, u.drug_text, s.route_class,
       u.route_unknown_counts, u.start_date, e.end_day, u.asserted_date,
       u.start_date <= $as_of AS started,
       u.start_date <= $as_of AND e.end_day >= $as_of AS covers_as_of,
       (u.supply_days IS NOT NULL AND u.supply_days > 0) AS has_supply,
       u.supply_days * (1 + coalesce(u.repeats, 0)) AS expected_days,
       s.amount,
       CASE WHEN s.any_now THEN CASE WHEN s.known_now THEN s.daily_now END
            WHEN s.known_first THEN s.daily_first END AS daily_amount,
       CASE WHEN u.drug_group = 'vitamin_d' THEN 'IU' ELSE 'mg' END AS amount_unit,
       u.no_dates, e.depot_used, CASE WHEN e.depot_used THEN e.depot_label END AS depot_label,
       coalesce(e.depot_used AND e.depot_unknown, false) AS depot_unknown,
       coalesce(s.route_text_unknown, false) AS route_text_unknown
FROM _med_use u
JOIN _med_use_end e USING (source_type, use_id, ingredient)
LEFT JOIN seg s USING (source_type, use_id, ingredient)
WHERE coalesce(u.asserted_date, u.start_date) <= $as_of OR u.start_date <= $as_of;

-- med_unused: records of a screened drug that no rule can use (clinical-rules.md 8: nothing ignored in silence): a
-- dispense that is not completed, or a use with no date whose status is not active / on-hold.
CREATE OR REPLACE TABLE med_unused AS
SELECT m.patient_id, m.source_type || '/' || m.id AS resource_ref, r.ingredient, m.status,
       CASE WHEN m.source_type = 'MedicationDispense' AND coalesce(m.status, '') <> 'completed'
                THEN 'dispense status ' || coalesce(m.status, 'missing') || ' (only completed dispenses count)'
            ELSE 'no date and status ' || coalesce(m.status, 'missing') END AS reason
FROM medication_use m
JOIN med_resolved r ON r.source_type = m.source_type AND r.use_id = m.id
WHERE m.patient_id IS NOT NULL
  AND r.drug_group IN ('glucocorticoid', 'aromatase_inhibitor', 'androgen_deprivation', 'thyroid_hormone',
                       'op_therapy', 'vitamin_d')
  AND coalesce(m.status, '') NOT IN ('entered-in-error', 'cancelled', 'draft', 'not-taken', 'not-done', 'declined')
  AND ((m.source_type = 'MedicationDispense' AND coalesce(m.status, '') <> 'completed')
       OR (m.start_date IS NULL AND coalesce(m.status, '') NOT IN ('active', 'on-hold')));

DROP TABLE _med_use;
DROP TABLE _med_line;
DROP TABLE _med_depot;
DROP TABLE _med_use_end;
