-- MRNs name one patient whatever their case (domain.SameMRN): "AB123456" and "ab123456" cannot
-- both be enrolled, and the bedside finds the wristband's patient either way.

-- +goose Up
CREATE UNIQUE INDEX patients_mrn_lower ON patients (lower(mrn));

-- +goose Down
DROP INDEX patients_mrn_lower;
