-- name: insert-failure
INSERT INTO webhook_failures (id, workspace_id, inbox_id, received_at, error, content_type, body)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: failures
SELECT id, inbox_id, received_at, error, content_type, body FROM webhook_failures
WHERE workspace_id = $1 AND (received_at < $2 OR (received_at = $2 AND id < $3))
ORDER BY received_at DESC, id DESC LIMIT $4;
