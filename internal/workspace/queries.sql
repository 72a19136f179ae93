-- name: insert
INSERT INTO workspaces (id, slug, name, settings, event_seq, created_at) VALUES ($1, $2, $3, $4, 0, $5);

-- name: get
SELECT id, slug, name, settings, created_at FROM workspaces WHERE id = $1;

-- name: get-by-slug
SELECT id, slug, name, settings, created_at FROM workspaces WHERE slug = $1;

-- name: update
UPDATE workspaces SET name = $2, settings = $3 WHERE id = $1;

-- name: count
SELECT COUNT(*) FROM workspaces;
