-- Files Kanal keeps: attachments fetched from providers or uploaded.
CREATE TABLE media (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  file_name    TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size         BIGINT NOT NULL,
  sha256       TEXT NOT NULL,
  created_at   BIGINT NOT NULL
);
CREATE INDEX media_ws ON media(workspace_id, created_at);
