-- screen_patient: one row per screened patient (listed or not) with the decision and why (clinical-rules.md 5, 7).
-- listed = (a risk marker AND an unaddressed cause, `unexplained` included) OR the safety condition; deceased
-- patients are not listed. priority: high = safety, or an unaddressed cause with (fragility fracture,
-- osteoporosis_t_score or Z <= dxa.high_z) and no osteoporosis therapy in its window, or unaddressed glucocorticoid
-- at a current mean >= glucocorticoid.high_dose_mg, or unaddressed myeloma with a vertebral fracture code;
-- low = `unexplained` is the only unaddressed cause and dxa.high_z < Z <= dxa.low_z; else medium.
-- Exclusions (clinical-rules.md 8): deceased patients and patients in hospice / palliative care (hospice_patient)
-- are never listed, whatever else holds; the run record counts them.
CREATE OR REPLACE TABLE screen_patient AS
WITH agg AS (
    SELECT patient_id,
           list(DISTINCT rule_id ORDER BY rule_id) FILTER (WHERE kind = 'marker') AS markers,
           list(DISTINCT rule_id ORDER BY rule_id) FILTER (WHERE kind = 'cause') AS causes,
           list(DISTINCT rule_id ORDER BY rule_id) FILTER (WHERE kind = 'addressed') AS addressed,
           bool_or(kind = 'safety') AS safety,
           bool_or(kind = 'modifier') AS discordance,
           min(value) FILTER (WHERE kind = 'marker' AND rule_id = 'low_z_score') AS min_low_z,
           bool_or(kind = 'cause' AND rule_id = 'glucocorticoid' AND qualifier = 'high_dose') AS gc_high_dose,
           bool_or(kind = 'cause' AND rule_id = 'glucocorticoid' AND qualifier = 'dose_unknown') AS gc_dose_unknown,
           max(evidence_date) FILTER (WHERE kind IN ('marker', 'cause', 'safety')) AS latest_evidence_date
    FROM screen_hits GROUP BY patient_id
),
scores AS (
    SELECT d.patient_id, min(d.value) AS worst_score
    FROM dxa_latest d
    LEFT JOIN t_eligible t ON t.patient_id = d.patient_id
    WHERE d.score_type = 'Z' OR t.patient_id IS NOT NULL
    GROUP BY d.patient_id
),
base AS (
    SELECT p.patient_id, p.deceased, p.patient_id IN (SELECT patient_id FROM hospice_patient) AS hospice,
           coalesce(a.markers, []) AS markers, coalesce(a.causes, []) AS causes,
           coalesce(a.addressed, []) AS addressed,
           list_filter(coalesce(a.causes, []), lambda x: NOT list_contains(coalesce(a.addressed, []), x)) AS unaddressed,
           coalesce(a.safety, false) AS safety, coalesce(a.discordance, false) AS discordance,
           a.min_low_z, coalesce(a.gc_high_dose, false) AS gc_high_dose,
           coalesce(a.gc_dose_unknown, false) AS gc_dose_unknown, a.latest_evidence_date, s.worst_score,
           p.patient_id IN (SELECT patient_id FROM op_therapy) AS on_op_therapy,
           p.patient_id IN (SELECT patient_id FROM condition_fact WHERE concept = 'fracture'
                            AND qualifier IN ('vertebral', 'osteoporotic_vertebral')) AS vertebral_fracture
    FROM screen_person p
    LEFT JOIN agg a USING (patient_id)
    LEFT JOIN scores s USING (patient_id)
),
decided AS (
    SELECT b.*,
           NOT b.deceased AND NOT b.hospice
               AND ((len(b.markers) > 0 AND len(b.unaddressed) > 0) OR b.safety) AS listed,
           b.safety
           OR (len(b.unaddressed) > 0 AND NOT b.on_op_therapy
               AND (list_contains(b.markers, 'fragility_fracture') OR list_contains(b.markers, 'osteoporosis_t_score')
                    OR b.min_low_z <= $dxa_high_z))
           OR (list_contains(b.unaddressed, 'glucocorticoid') AND b.gc_high_dose)
           OR (list_contains(b.unaddressed, 'myeloma') AND b.vertebral_fracture) AS high
    FROM base b
)
SELECT d.*,
       CASE WHEN NOT d.listed THEN NULL
            WHEN d.high THEN 'high'
            WHEN d.unaddressed = ['unexplained'] AND d.min_low_z > $dxa_high_z THEN 'low'
            ELSE 'medium' END AS priority,
       CASE WHEN d.listed THEN NULL
            WHEN d.deceased THEN 'deceased'
            WHEN d.hospice THEN 'hospice / palliative care'
            WHEN len(d.markers) = 0 AND len(d.causes) = 0 THEN 'no risk marker and no cause'
            WHEN len(d.markers) = 0 THEN 'cause(s) without a risk marker (out of scope)'
            WHEN len(d.causes) = 0 THEN 'risk marker without a cause (low Z-score with the tier-1 panel resulted, '
                                        || 'or a marker other than low Z-score)'
            ELSE 'every cause is addressed' END AS not_listed_reason
FROM decided d;
