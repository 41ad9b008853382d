-- hypogonadism: premature menopause (E28.31x), bilateral oophorectomy (Z90.722, procedure), male hypogonadism
-- (E29.1), anorexia nervosa (F50.0x), amenorrhea (N91.0-N91.2), SNOMED equivalents, active. Code list: hypogonadism.
INSERT INTO screen_hits SELECT * FROM coded_cause('hypogonadism', 'hypogonadism');
