-- Channel adapters: message content types and raw provider payloads, the
-- reply-window lookup, and the dead-letter list of webhook calls that could
-- not be read.
ALTER TABLE messages ADD COLUMN content_type TEXT NOT NULL DEFAULT 'text';
ALTER TABLE messages ADD COLUMN raw TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_last_inbound ON messages(customer_id, inbox_id, created_at) WHERE direction = 'in';

CREATE TABLE webhook_failures (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  inbox_id     TEXT NOT NULL,
  received_at  BIGINT NOT NULL,
  error        TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body         TEXT NOT NULL
);
CREATE INDEX webhook_failures_ws ON webhook_failures(workspace_id, received_at DESC, id DESC);
