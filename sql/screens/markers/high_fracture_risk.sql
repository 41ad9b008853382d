-- high_fracture_risk: the latest recorded FRAX within lookback.frax_months: MOF >= frax.mof_pct or hip >=
-- frax.hip_pct. A value between 0 and 1 is a fraction (x 100). With a current glucocorticoid mean >= frax.gc_dose_mg
-- (known dose, interval covering the as-of date) MOF x gc_mof_factor and hip x gc_hip_factor first (Kanis 2011).
-- Needs a birth date (clinical-rules.md 7). Code lists: frax_mof, frax_hip.
INSERT INTO screen_hits
WITH frax_obs AS (
    SELECT o.patient_id, 'Observation/' || o.id AS id, cc.concept, cc.code, o.effective_date,
           CASE WHEN o.value_num >= 0 AND o.value_num < 1 THEN o.value_num * 100 ELSE o.value_num END AS pct,
           NULL::VARCHAR AS quote
    FROM observation o
    JOIN coding_concept cc ON cc.resource_type = 'Observation' AND cc.resource_id = o.id
                          AND cc.concept IN ('frax_mof', 'frax_hip')
    WHERE o.status IN ('final', 'amended', 'corrected') AND o.value_num IS NOT NULL
      AND o.effective_date <= $as_of
      AND o.effective_date >= $as_of - to_months(CAST($lookback_frax_months AS INTEGER))
),
-- FRAX written in a DXA report (model/18_dxa_report_text.sql); a recorded Observation of the same date wins.
frax AS (
    SELECT * FROM (
        SELECT * FROM frax_obs
        UNION ALL
        SELECT t.patient_id, t.report_ref, 'frax_' || t.site, NULL, t.eff_date, t.value, t.quote
        FROM dxa_report_frax t
        WHERE NOT EXISTS (SELECT 1 FROM frax_obs o WHERE o.patient_id = t.patient_id
                            AND o.concept = 'frax_' || t.site AND o.effective_date = t.eff_date))
    QUALIFY row_number() OVER (PARTITION BY patient_id, concept ORDER BY effective_date DESC, id DESC) = 1
),
adj AS (
    SELECT f.*, coalesce(g.current AND g.dose_known AND g.mean_mg >= $frax_gc_dose_mg, false) AS gc_adjusted
    FROM frax f
    JOIN screen_person p USING (patient_id)
    LEFT JOIN gc_exposure g USING (patient_id)
    WHERE p.birth_date IS NOT NULL
),
scored AS (
    SELECT *, pct * CASE WHEN NOT gc_adjusted THEN 1.0
                         WHEN concept = 'frax_mof' THEN $frax_gc_mof_factor ELSE $frax_gc_hip_factor END AS adj_pct
    FROM adj
)
SELECT patient_id, 'marker', 'high_fracture_risk', id, adj_pct, '%', effective_date,
       'FRAX ' || CASE concept WHEN 'frax_mof' THEN 'major osteoporotic' ELSE 'hip' END || ' '
           || fmt_num(pct) || '%'
           || CASE WHEN gc_adjusted THEN ' (glucocorticoid-adjusted ' || fmt_num(adj_pct) || '%)' ELSE '' END
           || ' (' || fmt_date(effective_date) || coalesce(', from report text: "' || quote || '"', '') || ')',
       code, concept
FROM scored
WHERE (concept = 'frax_mof' AND adj_pct >= $frax_mof_pct) OR (concept = 'frax_hip' AND adj_pct >= $frax_hip_pct);
