-- Customer 360: merges and their undo, duplicate suggestions, activity
-- events. Read with queries.sql into one set (see store.MustQueries).

-- name: merge-customer
-- Any customer of the workspace, merged away or not.
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at, COALESCE(merged_into, '')
FROM customers WHERE workspace_id = $1 AND id = $2;

-- name: merge-lock
SELECT id FROM customers WHERE workspace_id = $1 AND id IN ($2, $3) ORDER BY id;

-- name: merge-lock@postgres
-- Two nodes merging A into B and B into A at once must not both win: the
-- second waits for the first and then sees merged_into set.
SELECT id FROM customers WHERE workspace_id = $1 AND id IN ($2, $3) ORDER BY id FOR UPDATE;

-- name: merge-live-away
-- The live merge that merged a customer away, if any.
SELECT id, survivor_id FROM customer_merges WHERE workspace_id = $1 AND merged_id = $2 AND undone_at IS NULL;

-- name: merge-insert
INSERT INTO customer_merges (id, workspace_id, survivor_id, merged_id, identities, conversations, messages, filled, state,
  actor_kind, actor_id, created_at)
VALUES ($1, $2, $3, $4, 0, 0, 0, $5, $6, $7, $8, $9);

-- name: merge-set-counts
UPDATE customer_merges SET identities = $3, conversations = $4, messages = $5 WHERE workspace_id = $1 AND id = $2;

-- name: merge-items-identities
INSERT INTO customer_merge_items (merge_id, kind, item_id)
SELECT $2, 'identity', id FROM identities WHERE workspace_id = $1 AND customer_id = $3;

-- name: merge-items-conversations
INSERT INTO customer_merge_items (merge_id, kind, item_id)
SELECT $2, 'conversation', id FROM conversations WHERE workspace_id = $1 AND customer_id = $3;

-- name: merge-item-ids
SELECT item_id FROM customer_merge_items WHERE merge_id = $1 AND kind = $2 ORDER BY item_id;

-- name: merge-move-identities
-- $2 → $3 for the identities merge $4 lists.
UPDATE identities SET customer_id = $3
WHERE workspace_id = $1 AND customer_id = $2
  AND id IN (SELECT item_id FROM customer_merge_items WHERE merge_id = $4 AND kind = 'identity');

-- name: merge-move-conversations
UPDATE conversations SET customer_id = $3
WHERE workspace_id = $1 AND customer_id = $2
  AND id IN (SELECT item_id FROM customer_merge_items WHERE merge_id = $4 AND kind = 'conversation');

-- name: merge-move-messages
-- A message carries its conversation's customer.
UPDATE messages SET customer_id = $3
WHERE workspace_id = $1 AND customer_id = $2
  AND conversation_id IN (SELECT item_id FROM customer_merge_items WHERE merge_id = $4 AND kind = 'conversation');

-- name: merge-set-merged-into
UPDATE customers SET merged_into = $3 WHERE workspace_id = $1 AND id = $2;

-- name: merge-update-profile
UPDATE customers SET name = $3, email = $4, phone = $5, attributes = $6, search_key = $7, updated_at = $8
WHERE workspace_id = $1 AND id = $2;

-- name: merge-get
SELECT id, survivor_id, merged_id, identities, conversations, messages, filled, state, created_at, undone_at
FROM customer_merges WHERE workspace_id = $1 AND id = $2;

-- name: merge-get-for-undo
SELECT id, survivor_id, merged_id, identities, conversations, messages, filled, state, created_at, undone_at
FROM customer_merges WHERE workspace_id = $1 AND id = $2;

-- name: merge-get-for-undo@postgres
SELECT id, survivor_id, merged_id, identities, conversations, messages, filled, state, created_at, undone_at
FROM customer_merges WHERE workspace_id = $1 AND id = $2 FOR UPDATE;

-- name: merge-list
-- The merges a customer took part in, either side, newest first.
SELECT id, survivor_id, merged_id, identities, conversations, messages, filled, state, created_at, undone_at
FROM customer_merges WHERE workspace_id = $1 AND survivor_id = $2
UNION ALL
SELECT id, survivor_id, merged_id, identities, conversations, messages, filled, state, created_at, undone_at
FROM customer_merges WHERE workspace_id = $1 AND merged_id = $2
ORDER BY created_at DESC, id DESC LIMIT $3;

-- name: merge-mark-undone
UPDATE customer_merges SET undone_at = $3, undone_by = $4 WHERE workspace_id = $1 AND id = $2 AND undone_at IS NULL;

-- name: merge-tree
-- A customer and every customer merged into it by live merges, however
-- deep (A into B, B into C: C's tree is C, B, A). Live merges form a forest:
-- a merged-away customer can neither absorb nor be absorbed again.
WITH RECURSIVE tree(id, depth) AS (
  SELECT CAST($2 AS TEXT), 0
  UNION ALL
  SELECT m.merged_id, tree.depth + 1 FROM customer_merges m JOIN tree ON m.survivor_id = tree.id
  WHERE m.workspace_id = $1 AND m.undone_at IS NULL AND tree.depth < 64
)
SELECT id FROM tree ORDER BY depth, id LIMIT 1000;

-- name: merge-has-live
SELECT COUNT(*) FROM customer_merges WHERE workspace_id = $1 AND survivor_id = $2 AND undone_at IS NULL;

-- name: merge-origins
-- For reply routing: the merged customer of every live merge in a
-- customer's tree, with the identities it moved and (if it moved it) the
-- conversation $3.
WITH RECURSIVE tree(id, depth) AS (
  SELECT CAST($2 AS TEXT), 0
  UNION ALL
  SELECT m.merged_id, tree.depth + 1 FROM customer_merges m JOIN tree ON m.survivor_id = tree.id
  WHERE m.workspace_id = $1 AND m.undone_at IS NULL AND tree.depth < 64
)
SELECT m.merged_id, m.created_at, m.id, i.kind, i.item_id
FROM tree JOIN customer_merges m ON m.survivor_id = tree.id
JOIN customer_merge_items i ON i.merge_id = m.id
WHERE m.workspace_id = $1 AND m.undone_at IS NULL AND (i.kind = 'identity' OR (i.kind = 'conversation' AND i.item_id = $3))
ORDER BY m.created_at, m.id;

-- name: merge-undone-pairs
SELECT survivor_id, merged_id FROM customer_merges
WHERE workspace_id = $1 AND survivor_id = $2 AND undone_at IS NOT NULL
UNION ALL
SELECT survivor_id, merged_id FROM customer_merges
WHERE workspace_id = $1 AND merged_id = $2 AND undone_at IS NOT NULL;

-- name: suggest-range
-- Identities of other live customers whose value lies in [$3, $4): a
-- prefix, read through the (workspace_id, kind, value_norm) index.
SELECT i.customer_id, i.kind, i.value_norm FROM identities i JOIN customers c ON c.id = i.customer_id
WHERE i.workspace_id = $1 AND i.kind = $2 AND i.value_norm >= $3 AND i.value_norm < $4
  AND i.customer_id <> $5 AND c.merged_into IS NULL
ORDER BY i.value_norm LIMIT $6;

-- name: suggest-range@postgres
SELECT i.customer_id, i.kind, i.value_norm FROM identities i JOIN customers c ON c.id = i.customer_id
WHERE i.workspace_id = $1 AND i.kind = $2 AND i.value_norm COLLATE "C" >= $3 AND i.value_norm COLLATE "C" < $4
  AND i.customer_id <> $5 AND c.merged_into IS NULL
ORDER BY i.value_norm COLLATE "C" LIMIT $6;

-- name: activity-get
SELECT id, customer_id, type, fingerprint, seq, occurred_at FROM customer_activities
WHERE workspace_id = $1 AND idempotency_key = $2;

-- name: activity-insert
INSERT INTO customer_activities (workspace_id, idempotency_key, id, customer_id, type, fingerprint, seq, occurred_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: conversation-last-identity
SELECT COALESCE(last_identity_id, '') FROM conversations WHERE workspace_id = $1 AND id = $2;

-- name: suggest-in
-- Identities of other live customers with one of the kinds (JSON array $3)
-- and one of the values (JSON array $4): index probes, however many values.
SELECT i.customer_id, i.kind, i.value_norm FROM identities i JOIN customers c ON c.id = i.customer_id
WHERE i.workspace_id = $1 AND i.customer_id <> $2
  AND i.kind IN (SELECT value FROM json_each($3)) AND i.value_norm IN (SELECT value FROM json_each($4))
  AND c.merged_into IS NULL
LIMIT $5;

-- name: suggest-in@postgres
-- = ANY(ARRAY(...)) makes the values an index condition (IN (SELECT ...)
-- would be planned as a hash join over a scan).
SELECT i.customer_id, i.kind, i.value_norm FROM identities i JOIN customers c ON c.id = i.customer_id
WHERE i.workspace_id = $1 AND i.customer_id <> $2
  AND i.kind = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST($3 AS jsonb))))
  AND i.value_norm = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST($4 AS jsonb))))
  AND c.merged_into IS NULL
LIMIT $5;

-- name: suggest-customers
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at
FROM customers WHERE workspace_id = $1 AND merged_into IS NULL AND id IN (SELECT value FROM json_each($2));

-- name: suggest-customers@postgres
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at
FROM customers WHERE workspace_id = $1 AND merged_into IS NULL
  AND id = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST($2 AS jsonb))));
