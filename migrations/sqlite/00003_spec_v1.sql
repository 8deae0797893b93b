-- Version 1 of the release and protocol specification, as SPEC §4 and §6 give it. Later
-- versions are added by QA with an electronic signature, never by changing this row.
-- store/lab_test.go checks that this JSON equals domain.DefaultSpecV1().

-- +goose Up
INSERT INTO spec_versions (version, spec, created_by, printed_name, meaning, created_at)
VALUES (1, '{"version":1,"min_viability_pct":80,"max_endotoxin_eu_per_ml":0.5,"positive_markers":[["CD73"],["CD90"],["CD105"]],"min_positive_pct":95,"negative_markers":[["CD34"],["CD45"],["CD14","CD11b"],["CD19","CD79a"],["HLA-DR"]],"max_negative_pct":2,"bv2_analyte":"TNF-alpha","bv2_min_stimulation_ratio":3,"bv2_max_cv_pct":20,"min_inhibition_pct":30,"min_post_thaw_viability_pct":70,"dose_cells_per_kg":1000000,"dose_tolerance_pct":10,"bag_shelf_life_minutes":240,"transport_min_c":2,"transport_max_c":8,"infusion_day_offset":1,"infusion_window_days":0,"verification_max_age_minutes":30}', NULL, 'cordtrace (migration 00003)', 'Specification v1 as written in SPEC §4 and §6', '2026-11-25 00:00:00+00:00');

-- +goose Down
DELETE FROM spec_versions WHERE version = 1;
