-- name: insert
INSERT INTO customers (id, workspace_id, name, email, phone, attributes, search_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: update
UPDATE customers SET name = $3, email = $4, phone = $5, attributes = $6, search_key = $7, updated_at = $8
WHERE workspace_id = $1 AND id = $2;

-- name: get
-- Live customers only; a merged-away one is explained by mergedAway.
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at
FROM customers WHERE workspace_id = $1 AND id = $2 AND merged_into IS NULL;

-- name: list
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at
FROM customers WHERE workspace_id = $1 AND (created_at, id) < ($2, $3)
AND merged_into IS NULL
ORDER BY created_at DESC, id DESC LIMIT $4;

-- name: search
SELECT id, workspace_id, name, email, phone, attributes, created_at, updated_at
FROM customers WHERE workspace_id = $1 AND (created_at, id) < ($2, $3)
AND search_key LIKE $5 ESCAPE '\' AND merged_into IS NULL
ORDER BY created_at DESC, id DESC LIMIT $4;

-- name: identity
SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value_norm = $3;

-- name: identity-customer
SELECT c.id, c.workspace_id, c.name, c.email, c.phone, c.attributes, c.created_at, c.updated_at
FROM identities i JOIN customers c ON c.id = i.customer_id
WHERE i.workspace_id = $1 AND i.kind = $2 AND i.value_norm = $3;

-- name: insert-identity
INSERT INTO identities (id, workspace_id, customer_id, kind, value, value_norm, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: identities
SELECT id, kind, value, value_norm, created_at FROM identities
WHERE workspace_id = $1 AND customer_id = $2 ORDER BY created_at, id;

-- name: identity-by-value
SELECT id, customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value_norm = $3;

-- name: update-identity
UPDATE identities SET value = $3, value_norm = $4 WHERE workspace_id = $1 AND id = $2;
