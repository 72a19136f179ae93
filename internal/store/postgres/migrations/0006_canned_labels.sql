-- Canned replies agents insert with "/" and the workspace's label catalogue.
CREATE TABLE canned_replies (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  shortcut     TEXT NOT NULL,
  title        TEXT NOT NULL,
  text         TEXT NOT NULL,
  search_key   TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  UNIQUE (workspace_id, shortcut)
);

CREATE TABLE labels (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  color        TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
