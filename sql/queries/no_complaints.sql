-- Whether no complaint is stored yet (a city's first import).
SELECT NOT EXISTS (SELECT 1 FROM complaints)
