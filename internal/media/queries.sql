-- name: insert
INSERT INTO media (id, workspace_id, file_name, content_type, size, sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: get
SELECT id, workspace_id, file_name, content_type, size, sha256, created_at FROM media WHERE workspace_id = $1 AND id = $2;
