-- inflammatory_disease: RA (M05, M06), Crohn's (K50), UC (K51), lupus (M32), AS (M45), PsA (L40.5x) and SNOMED
-- equivalents, active. Code list: inflammatory_disease.
INSERT INTO screen_hits SELECT * FROM coded_cause('inflammatory_disease', 'inflammatory disease');
