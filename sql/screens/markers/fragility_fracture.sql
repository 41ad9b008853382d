-- fragility_fracture: hip, vertebral, distal radius/wrist, proximal humerus or pelvis fracture at age >=
-- fracture.min_age, or an osteoporotic fracture code (M80.x, SNOMED osteoporotic fracture) at any age; any clinical
-- status, any 7th character. Finger, toe, face and skull codes are not in the list, so they never count.
-- Repeated codes of one site within fracture.episode_days are one event (one evidence line, every id kept).
-- No birth date: only the osteoporotic codes count. Code list: fracture (qualifier = site).
-- Evidence names the first record's own text (else its code); an event whose first day is within
-- lookback.recent_fracture_months of the as-of date is marked "recent" (evidence text only).
CREATE OR REPLACE TABLE fracture_event AS
WITH f AS (
    SELECT c.*, p.birth_date,
           CASE WHEN c.qualifier IN ('vertebral', 'osteoporotic_vertebral') THEN 'vertebral'
                ELSE c.qualifier END AS site,
           starts_with(c.qualifier, 'osteoporotic') AS osteoporotic_code
    FROM condition_fact c
    JOIN screen_person p USING (patient_id)
    WHERE c.concept = 'fracture'
),
eligible AS (
    SELECT * FROM f
    WHERE osteoporotic_code
       OR (birth_date IS NOT NULL AND fact_date IS NOT NULL AND age_at(birth_date, fact_date) >= $fracture_min_age)
),
seq AS (
    SELECT *, CASE WHEN fact_date IS NULL THEN 1
                   WHEN date_diff('day', lag(fact_date) OVER w, fact_date) <= $fracture_episode_days THEN 0
                   ELSE 1 END AS new_event
    FROM eligible
    WINDOW w AS (PARTITION BY patient_id, site ORDER BY fact_date NULLS FIRST, resource_ref)
)
SELECT *, sum(new_event) OVER (PARTITION BY patient_id, site ORDER BY fact_date NULLS FIRST, resource_ref
                               ROWS UNBOUNDED PRECEDING) AS event_no
FROM seq;

INSERT INTO screen_hits
SELECT e.patient_id, 'marker', 'fragility_fracture', e.resource_ref, NULL, NULL, first_day,
       'Fracture ' || replace(e.site, 'osteoporotic', 'osteoporotic (site unspecified)') || ' ' || first_text
           || coalesce(' (' || fmt_date(first_day) || ')', '')
           || CASE WHEN first_day >= CAST($as_of AS DATE) - to_months(CAST($lookback_recent_fracture_months AS INTEGER))
                   THEN ' recent (within ' || CAST($lookback_recent_fracture_months AS INTEGER) || ' months)'
                   ELSE '' END,
       e.code, e.site
FROM fracture_event e
JOIN (SELECT patient_id, site, event_no, min(fact_date) AS first_day,
             arg_min(display_or_code(display, code), (coalesce(fact_date, DATE '1900-01-01'), code)) AS first_text
      FROM fracture_event GROUP BY ALL) ev USING (patient_id, site, event_no);
