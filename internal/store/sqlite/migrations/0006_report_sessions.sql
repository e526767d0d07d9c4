-- A report made for a checkout session (the healthgate:// path): one report
-- per session, found by the decision that names the session.
ALTER TABLE reports ADD COLUMN session TEXT;
CREATE UNIQUE INDEX reports_session ON reports (session) WHERE session IS NOT NULL;
