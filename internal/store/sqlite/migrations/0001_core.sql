-- Kanal core schema (SQLite). Timestamps are Unix milliseconds (UTC); ids are
-- UUIDv7 text; JSON is stored as text. Every row carries workspace_id.

CREATE TABLE workspaces (
  id          TEXT PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  name        TEXT NOT NULL,
  settings    TEXT NOT NULL DEFAULT '{}',
  event_seq   INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
);

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL,
  email_norm    TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  locale        TEXT NOT NULL DEFAULT 'tr',
  created_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  user_id      TEXT NOT NULL REFERENCES users(id),
  role         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
  token_hash   TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id),
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  user_id      TEXT NOT NULL REFERENCES users(id),
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX api_tokens_ws ON api_tokens(workspace_id);

CREATE TABLE teams (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  UNIQUE (workspace_id, name)
);

CREATE TABLE team_members (
  workspace_id TEXT NOT NULL,
  team_id      TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES users(id),
  PRIMARY KEY (team_id, user_id)
);

CREATE TABLE inboxes (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  type         TEXT NOT NULL,
  name         TEXT NOT NULL,
  public_key   TEXT NOT NULL UNIQUE,
  config       TEXT NOT NULL DEFAULT '{}',
  secrets      BLOB,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  deleted_at   INTEGER
);
CREATE INDEX inboxes_ws ON inboxes(workspace_id);

CREATE TABLE customers (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL DEFAULT '',
  email        TEXT NOT NULL DEFAULT '',
  phone        TEXT NOT NULL DEFAULT '',
  attributes   TEXT NOT NULL DEFAULT '{}',
  search_key   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX customers_ws ON customers(workspace_id, created_at DESC, id DESC);

CREATE TABLE identities (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  customer_id  TEXT NOT NULL REFERENCES customers(id),
  kind         TEXT NOT NULL,
  value        TEXT NOT NULL,
  value_norm   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  UNIQUE (workspace_id, kind, value_norm)
);
CREATE INDEX identities_customer ON identities(customer_id);

CREATE TABLE conversations (
  id                TEXT PRIMARY KEY,
  workspace_id      TEXT NOT NULL REFERENCES workspaces(id),
  customer_id       TEXT NOT NULL REFERENCES customers(id),
  inbox_id          TEXT NOT NULL REFERENCES inboxes(id),
  channel           TEXT NOT NULL,
  last_inbox_id     TEXT NOT NULL,
  last_channel      TEXT NOT NULL,
  status            TEXT NOT NULL,
  priority          TEXT NOT NULL,
  assignee_id       TEXT,
  team_id           TEXT,
  subject           TEXT NOT NULL DEFAULT '',
  labels            TEXT NOT NULL DEFAULT '[]',
  snoozed_until     INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  last_activity_at  INTEGER NOT NULL,
  last_inbound_at   INTEGER,
  first_response_at INTEGER,
  resolved_at       INTEGER
);
CREATE INDEX conversations_list ON conversations(workspace_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_status ON conversations(workspace_id, status, last_activity_at DESC, id DESC);
CREATE INDEX conversations_assignee ON conversations(workspace_id, assignee_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations(workspace_id, customer_id, last_activity_at DESC, id DESC);

CREATE TABLE conversation_labels (
  workspace_id    TEXT NOT NULL,
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  label           TEXT NOT NULL,
  PRIMARY KEY (conversation_id, label)
);
CREATE INDEX conversation_labels_label ON conversation_labels(workspace_id, label);

CREATE TABLE messages (
  id              TEXT PRIMARY KEY,
  workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  customer_id     TEXT NOT NULL,
  inbox_id        TEXT NOT NULL,
  channel         TEXT NOT NULL,
  kind            TEXT NOT NULL,
  direction       TEXT NOT NULL,
  author_kind     TEXT NOT NULL,
  author_id       TEXT,
  text            TEXT NOT NULL DEFAULT '',
  html            TEXT NOT NULL DEFAULT '',
  attachments     TEXT NOT NULL DEFAULT '[]',
  provider_id     TEXT,
  status          TEXT NOT NULL,
  status_reason   TEXT NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at, id);
-- An inbound provider id is the idempotency key of a channel: unique per inbox.
-- Outbound ids are the provider's answer and live in a namespace of their own.
CREATE UNIQUE INDEX messages_provider_in ON messages(inbox_id, provider_id) WHERE provider_id IS NOT NULL AND direction = 'in';
CREATE INDEX messages_provider_out ON messages(inbox_id, provider_id) WHERE provider_id IS NOT NULL AND direction = 'out';

CREATE TABLE events (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  workspace_id    TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  type            TEXT NOT NULL,
  customer_id     TEXT,
  conversation_id TEXT,
  actor_kind      TEXT NOT NULL,
  actor_id        TEXT,
  data            TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  UNIQUE (workspace_id, seq)
);
CREATE INDEX events_customer ON events(workspace_id, customer_id, seq DESC) WHERE customer_id IS NOT NULL;

CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL,
  kind          TEXT NOT NULL,
  payload       TEXT NOT NULL,
  state         TEXT NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  run_at        INTEGER NOT NULL,
  lease_owner   TEXT,
  lease_until   INTEGER,
  last_error    TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, run_at);
CREATE INDEX jobs_ws ON jobs(workspace_id, state, updated_at DESC);
