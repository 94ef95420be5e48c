-- Migration from version 2 to 3: a pseudonymous patient reference per session.
-- It stays in this local, owner-only record (never in MQTT or logs) and lets the
-- music avoid tracks the same patient heard in earlier sessions.
ALTER TABLE sessions ADD COLUMN patient_ref TEXT;
CREATE INDEX sessions_by_patient_ref ON sessions (patient_ref);
