-- A patient's page, trace and list read their dose orders and bags by patient, and the stock
-- dashboard reads the bags out of the pharmacy by status: over years of bags, each was a scan
-- of the whole table.

-- +goose Up
CREATE INDEX dose_bags_patient ON dose_bags (patient_id, id);
CREATE INDEX dose_bags_status ON dose_bags (status);
CREATE INDEX dose_orders_patient ON dose_orders (patient_id, id);

-- +goose Down
DROP INDEX dose_orders_patient;
DROP INDEX dose_bags_status;
DROP INDEX dose_bags_patient;
