-- Customer 360: reversible customer merges, the identity a conversation's
-- customer last wrote from, and shop/app activity events.

-- A merged-away customer keeps its row (so an undo restores it exactly) and
-- points at the customer it was merged into; NULL for every live customer.
ALTER TABLE customers ADD COLUMN merged_into TEXT;

-- One row per merge: survivor_id absorbed merged_id. The counts are what
-- moved; state holds the survivor's profile before and after the merge
-- filled its empty fields, so an undo can put it back.
CREATE TABLE customer_merges (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
  survivor_id   TEXT NOT NULL REFERENCES customers(id),
  merged_id     TEXT NOT NULL REFERENCES customers(id),
  identities    INTEGER NOT NULL,
  conversations INTEGER NOT NULL,
  messages      INTEGER NOT NULL,
  filled        TEXT NOT NULL DEFAULT '[]',
  state         TEXT NOT NULL DEFAULT '{}',
  actor_kind    TEXT NOT NULL,
  actor_id      TEXT,
  created_at    INTEGER NOT NULL,
  undone_at     INTEGER,
  undone_by     TEXT
);
CREATE INDEX customer_merges_survivor ON customer_merges(workspace_id, survivor_id, created_at);
CREATE INDEX customer_merges_merged ON customer_merges(workspace_id, merged_id, created_at);
-- A customer is merged away by at most one live (not undone) merge.
CREATE UNIQUE INDEX customer_merges_live ON customer_merges(workspace_id, merged_id) WHERE undone_at IS NULL;

-- The identities and conversations a merge moved: exactly what an undo
-- moves back.
CREATE TABLE customer_merge_items (
  merge_id TEXT NOT NULL REFERENCES customer_merges(id),
  kind     TEXT NOT NULL,
  item_id  TEXT NOT NULL,
  PRIMARY KEY (merge_id, kind, item_id)
);
CREATE INDEX customer_merge_items_item ON customer_merge_items(kind, item_id);

-- The identity the customer last wrote from in a conversation (set by
-- ingest), so that a reply after a merge goes to that identity and not to
-- another one of the same kind the merge brought in. NULL: not known yet.
ALTER TABLE conversations ADD COLUMN last_identity_id TEXT;

-- Idempotency of customer activity events (order.placed, app.opened...):
-- one row per key and workspace; the event itself is in the log (seq).
CREATE TABLE customer_activities (
  workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
  idempotency_key TEXT NOT NULL,
  id              TEXT NOT NULL,
  customer_id     TEXT NOT NULL,
  type            TEXT NOT NULL,
  fingerprint     TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  occurred_at     INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, idempotency_key)
);
