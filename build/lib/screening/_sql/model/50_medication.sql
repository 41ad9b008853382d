-- Medication model: resolve every MedicationStatement / MedicationRequest / MedicationAdministration to
-- ingredient(s), strength, route class and an exposure interval with a daily amount.
--
-- med_resolved: the shipped code map (med_drug_map: SCD/SBD/pack/brand -> ingredient, strength) and RxNorm
-- ingredient codes first; only when no code resolves, the normalised drug name ("prednisone 5 MG Oral Tablet"
-- -> prednisone, 5 mg; brand names too). Strength missing from the map is parsed from the same drug text.
CREATE OR REPLACE MACRO re_escape(s) AS regexp_replace(s, '([.+()\[\]{}*?^$|\\])', '\\\1', 'g');

CREATE OR REPLACE TABLE med_text AS
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
by_name AS (   -- ingredient names as whole words; the strength is the first amount after the name
    SELECT source_type, use_id, ingredient, drug_text,
           regexp_extract(after, '^[^0-9/;]{0,30}?(\d+(?:\.\d+)?)\s*(mg|mcg|ug|µg|unt|iu|units?|\[iu\])(/ml)?\b',
                          ['num', 'unit', 'per_ml']) AS s
    FROM (
        -- contains() + constant patterns: no per-row regex compilation (this ran 65 s at 100k patients)
        SELECT t.source_type, t.use_id, n.ingredient, t.t AS drug_text,
               substr(t.t, strpos(t.t, n.name) - 1, 1) AS before,
               substr(t.t, strpos(t.t, n.name) + length(n.name)) AS after
        FROM med_text t
        JOIN med_ingredient_name n ON contains(t.t, n.name)
    )
    WHERE NOT regexp_matches(before, '^[a-z0-9_]') AND NOT regexp_matches(after, '^[a-z0-9_]')
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
forms AS (   -- route class of the dose form named in any drug text of the use (lowest priority number wins)
    SELECT t.source_type, t.use_id, f.route_class
    FROM med_text t
    JOIN med_dose_form f ON contains(t.t, f.term) AND regexp_matches(t.t, '\b' || re_escape(f.term) || '\b')
    QUALIFY row_number() OVER (PARTITION BY t.source_type, t.use_id ORDER BY f.priority, f.route_class) = 1
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

-- med_exposure: one row per use and ingredient with its interval (clinical-rules.md 7 "Time and exposure"):
-- start = effective start / validity start or authoredOn / administration date; end = effectivePeriod.end, else
-- start + supply x (1 + repeats) - 1, else quantity / daily units x (1 + repeats), else the timing bounds, else the
-- as-of date for status active / on-hold, else the start day. An administration covers one day (a depot product its
-- labelled interval). Days are inclusive. Status entered-in-error / cancelled / draft / not-taken / not-done never count.
-- daily_amount: mg/day (IU/day for vitamin D); NULL when it cannot be computed ("dose unknown").
CREATE OR REPLACE TABLE med_exposure AS
WITH route_text_class AS (   -- route class from a route's free text
    SELECT lower(m.route_text) AS route_text, f.route_class
    FROM (SELECT DISTINCT route_text FROM medication_use WHERE route_text IS NOT NULL) m
    JOIN med_dose_form f ON contains(lower(m.route_text), f.term)
                        AND regexp_matches(lower(m.route_text), '\b' || re_escape(f.term) || '\b')
    QUALIFY row_number() OVER (PARTITION BY lower(m.route_text) ORDER BY f.priority, f.route_class) = 1
),
u AS (
    SELECT m.*, coalesce(cs.canonical, m.route_system) AS route_system_canon, r.ingredient, r.drug_group, r.op_class, r.route_unknown_counts, r.depot_days, r.strength,
           r.strength_unit, r.per, r.form_route_class, r.drug_text, r.resolved_by,
           lower(replace(replace(replace(m.dose_unit, '{', ''), '}', ''), ' ', '')) AS du,
           CASE WHEN m.timing_frequency IS NULL AND m.timing_period IS NULL THEN NULL
                ELSE coalesce(m.timing_frequency, 1)
                     / (coalesce(m.timing_period, 1) * period_unit_days(coalesce(m.timing_period_unit, 'd')))
           END AS per_day
    FROM medication_use m
    JOIN med_resolved r ON r.source_type = m.source_type AND r.use_id = m.id
    LEFT JOIN cfg_code_system cs ON cs.alias = lower(rtrim(trim(m.route_system), '/'))
    WHERE m.patient_id IS NOT NULL AND m.start_date IS NOT NULL
      AND coalesce(m.status, '') NOT IN ('entered-in-error', 'cancelled', 'draft', 'not-taken', 'not-done')
),
route AS (
    SELECT u.*,
           coalesce(rc.route_class, rt.route_class, u.form_route_class) AS route_class,
           CASE WHEN u.du IN ('unt', 'iu', '[iu]', 'u', 'unit', 'units') THEN 'iu'
                WHEN du2.factor IS NOT NULL THEN 'mass'
                WHEN u.du IN ('ml', 'milliliter') THEN 'ml'
                ELSE 'count' END AS dose_kind,
           du2.factor AS dose_mg_factor
    FROM u
    LEFT JOIN cfg_dose_unit du2 ON du2.unit = u.du
    LEFT JOIN (   -- route from the dosage's coded route
        SELECT v.code_norm, v.system, CASE v.concept WHEN 'route_local' THEN 'local' ELSE v.qualifier END AS route_class
        FROM vs_code v WHERE v.concept IN ('route_local', 'route_systemic')
    ) rc ON rc.code_norm = upper(trim(u.route_code)) AND rc.system = u.route_system_canon
    LEFT JOIN route_text_class rt ON rt.route_text = lower(u.route_text)
),
amount AS (   -- amount of ingredient per administration, in mg (or IU for vitamin D)
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
           CASE WHEN r.source_type = 'MedicationAdministration' AND r.depot_days IS NOT NULL THEN
                    coalesce(try_cast(regexp_extract(coalesce(r.drug_text, ''), '(\d+)\s*month', 1) AS INTEGER) * 30,
                             r.depot_days)
           END AS depot_len
    FROM route r
),
interval AS (
    SELECT a.*,
           CASE
             WHEN a.end_date IS NOT NULL THEN a.end_date
             WHEN a.source_type = 'MedicationAdministration' THEN
                 a.start_date + CAST(coalesce(a.depot_len, 1) AS INTEGER) - 1
             WHEN a.supply_days IS NOT NULL AND a.supply_days > 0 THEN
                 a.start_date + CAST(ceil(a.supply_days * (1 + coalesce(a.repeats, 0))) AS INTEGER) - 1
             WHEN a.quantity_value > 0 AND a.dose_value > 0 AND a.per_day > 0
                  AND (a.quantity_unit IS NULL OR a.dose_unit IS NULL OR lower(a.quantity_unit) = lower(a.dose_unit))
                 THEN a.start_date + CAST(ceil(a.quantity_value / (a.dose_value * a.per_day)
                                              * (1 + coalesce(a.repeats, 0))) AS INTEGER) - 1
             WHEN a.bounds_days > 0 THEN a.start_date + CAST(ceil(a.bounds_days) AS INTEGER) - 1
             WHEN a.status IN ('active', 'on-hold') THEN greatest(CAST($as_of AS DATE), a.start_date)
             ELSE a.start_date
           END AS end_day,
           (a.supply_days IS NOT NULL AND a.supply_days > 0) AS has_supply
    FROM amount a
)
SELECT i.source_type, i.id AS use_id, i.source_type || '/' || i.id AS resource_ref, i.patient_id, i.status,
       i.intent, i.ingredient, i.drug_group, i.op_class, i.resolved_by, i.drug_text, i.route_class,
       i.route_unknown_counts, i.start_date, i.end_day, i.asserted_date,
       i.start_date <= $as_of AS started,
       i.start_date <= $as_of AND i.end_day >= $as_of AS covers_as_of,
       i.has_supply, i.supply_days * (1 + coalesce(i.repeats, 0)) AS expected_days,
       i.amount,
       CASE WHEN i.source_type = 'MedicationAdministration' THEN i.amount ELSE i.amount * i.per_day END
           AS daily_amount,
       CASE WHEN i.drug_group = 'vitamin_d' THEN 'IU' ELSE 'mg' END AS amount_unit
FROM interval i
WHERE coalesce(i.asserted_date, i.start_date) <= $as_of OR i.start_date <= $as_of;
