-- A job may carry a key that no other live job has (one poller per inbox).
ALTER TABLE jobs ADD COLUMN unique_key TEXT;
CREATE UNIQUE INDEX jobs_unique_key ON jobs(unique_key) WHERE unique_key IS NOT NULL AND state <> 'dead';
