-- myeloma: multiple myeloma (C90.0x) or MGUS (D47.2) and SNOMED equivalents, active. Code list: myeloma.
INSERT INTO screen_hits SELECT * FROM coded_cause('myeloma', 'myeloma / MGUS');
