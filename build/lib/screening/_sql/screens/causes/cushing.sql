-- cushing: Cushing's syndrome (E24.x except drug-induced E24.2, SNOMED 47270006 ...), active. Code list: cushing.
INSERT INTO screen_hits SELECT * FROM coded_cause('cushing', 'Cushing''s syndrome');
