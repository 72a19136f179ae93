-- name: next-seq
UPDATE workspaces SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq;

-- name: insert
-- PostgreSQL: the seq comes from the workspace row (next-seq), whose row lock
-- serialises concurrent writers of one workspace until commit.
INSERT INTO events (workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, seq;

-- name: insert@sqlite
-- SQLite has one writer at a time, so the next seq is the last one plus one,
-- read from the (workspace_id, seq) index in the same statement; $2 is unused.
INSERT INTO events (workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at)
VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE workspace_id = $1) + 0 * $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, seq;

-- name: list-after
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3;

-- name: list-customer
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE workspace_id = $1 AND customer_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4;

-- name: list-customers
-- $2 is a JSON array of customer ids.
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE workspace_id = $1 AND customer_id IN (SELECT value FROM json_each($2)) AND seq < $3
ORDER BY seq DESC LIMIT $4;

-- name: list-customers@postgres
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE workspace_id = $1 AND customer_id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST($2 AS jsonb))))
  AND seq < $3
ORDER BY seq DESC LIMIT $4;

-- name: tail
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE id > $1 ORDER BY id LIMIT $2;

-- name: max-id
SELECT COALESCE(MAX(id), 0) FROM events;
