-- Run control for `tributary serve`. Keep in step with migrations/sqlite/0006_run_control.sql.
-- A run stopped by a shutdown between two pages ends `cancelled`. Run locks are session advisory
-- locks here (pg_try_advisory_lock), so no table is needed for them.
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'success', 'partial', 'failed', 'cancelled'));
