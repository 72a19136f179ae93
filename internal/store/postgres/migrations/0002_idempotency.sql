-- Responses to creating requests sent with an Idempotency-Key header, kept for
-- 24 hours so a retried request gets the first answer instead of a duplicate.
CREATE TABLE idempotency_keys (
  workspace_id TEXT NOT NULL,
  key          TEXT NOT NULL,
  fingerprint  TEXT NOT NULL,
  status       BIGINT NOT NULL,
  body         TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
