-- Migration from version 1 to 2: who gave an input, and indexes for reports.
ALTER TABLE events ADD COLUMN by_role TEXT;   -- nurse, therapist, system, or NULL
CREATE INDEX readings_by_session_time ON readings (session_id, ts);
CREATE INDEX events_by_session_type ON events (session_id, type, ts);
