-- name: insert
INSERT INTO inboxes (id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: get
SELECT id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at
FROM inboxes WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL;

-- name: by-public-key
SELECT id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at
FROM inboxes WHERE public_key = $1 AND deleted_at IS NULL;

-- name: list
SELECT id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at
FROM inboxes WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY created_at, id;

-- name: list-type
SELECT id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at
FROM inboxes WHERE workspace_id = $1 AND type = $2 AND deleted_at IS NULL ORDER BY created_at, id;

-- name: update
UPDATE inboxes SET name = $3, config = $4, secrets = $5, updated_at = $6
WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL;

-- name: delete
UPDATE inboxes SET deleted_at = $3 WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL;

-- name: all-of-type
SELECT id, workspace_id, type, name, public_key, config, secrets, created_at, updated_at
FROM inboxes WHERE type = $1 AND deleted_at IS NULL ORDER BY created_at, id;
