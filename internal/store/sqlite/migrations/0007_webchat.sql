-- Web chat widget visitors: one row per visitor token (a browser's
-- localStorage). The token itself is never stored, only its SHA-256.
CREATE TABLE webchat_visitors (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  inbox_id     TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  customer_id  TEXT,
  external_id  TEXT NOT NULL DEFAULT '',
  name         TEXT NOT NULL DEFAULT '',
  email        TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX webchat_visitors_customer ON webchat_visitors(workspace_id, customer_id);
