-- name: get
SELECT fingerprint, status, body FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND created_at >= $3;

-- name: put
INSERT INTO idempotency_keys (workspace_id, key, fingerprint, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (workspace_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = excluded.status,
  body = excluded.body, created_at = excluded.created_at
WHERE idempotency_keys.created_at < $7;

-- name: purge
DELETE FROM idempotency_keys WHERE created_at < $1;
