-- name: insert
INSERT INTO canned_replies (id, workspace_id, shortcut, title, text, search_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7);

-- name: update
UPDATE canned_replies SET shortcut = $3, title = $4, text = $5, search_key = $6, updated_at = $7
WHERE workspace_id = $1 AND id = $2;

-- name: get
SELECT id, shortcut, title, text, created_at, updated_at FROM canned_replies WHERE workspace_id = $1 AND id = $2;

-- name: list
SELECT id, shortcut, title, text, created_at, updated_at FROM canned_replies
WHERE workspace_id = $1 AND search_key LIKE $2 ESCAPE '\' ORDER BY shortcut LIMIT 500;

-- name: delete
DELETE FROM canned_replies WHERE workspace_id = $1 AND id = $2;

-- name: label-upsert
INSERT INTO labels (workspace_id, name, color, description, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (workspace_id, name) DO UPDATE SET color = excluded.color, description = excluded.description;

-- name: labels
SELECT name, color, description, created_at FROM labels WHERE workspace_id = $1 ORDER BY name;

-- name: label-delete
DELETE FROM labels WHERE workspace_id = $1 AND name = $2;
