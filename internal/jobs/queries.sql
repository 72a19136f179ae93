-- name: insert
INSERT INTO jobs (id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, '', $7, $7);

-- name: any-due
SELECT 1 FROM jobs
WHERE (state = 'pending' AND run_at <= $1) OR (state = 'running' AND lease_until <= $1)
LIMIT 1;

-- name: claim
-- Marks up to N due jobs as running under a new lease and returns them.
-- Parameters: owner, lease_until, now, N.
UPDATE jobs
SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id IN (
  SELECT id FROM jobs
  WHERE (state = 'pending' AND run_at <= $3) OR (state = 'running' AND lease_until <= $3)
  ORDER BY run_at, id
  LIMIT $4
)
RETURNING id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at;

-- name: claim@postgres
UPDATE jobs
SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id IN (
  SELECT id FROM jobs
  WHERE (state = 'pending' AND run_at <= $3) OR (state = 'running' AND lease_until <= $3)
  ORDER BY run_at, id
  LIMIT $4
  FOR UPDATE SKIP LOCKED
)
RETURNING id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at;

-- name: delete
-- delete, reschedule and bury finish a job only while the lease taken by
-- its claim still holds (id, owner, attempts, lease_until).
DELETE FROM jobs
WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3 AND lease_until = $4;

-- name: reschedule
UPDATE jobs
SET state = 'pending', run_at = $5, last_error = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7
WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3 AND lease_until = $4;

-- name: bury
UPDATE jobs
SET state = 'dead', last_error = $5, lease_owner = NULL, lease_until = NULL, updated_at = $6
WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3 AND lease_until = $4;

-- name: retry
UPDATE jobs
SET state = 'pending', attempts = 0, run_at = $3, lease_owner = NULL, lease_until = NULL, updated_at = $3
WHERE id = $1 AND workspace_id = $2 AND state = 'dead';

-- name: list-dead
SELECT id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at
FROM jobs
WHERE workspace_id = $1 AND state = 'dead' AND ($2 = '' OR id < $2)
ORDER BY id DESC
LIMIT $3;

-- name: depth
SELECT
  COALESCE(SUM(CASE WHEN state = 'dead' THEN 0 ELSE 1 END), 0),
  COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0)
FROM jobs;

-- name: insert-unique
INSERT INTO jobs (id, workspace_id, kind, payload, state, attempts, max_attempts, run_at, last_error, created_at, updated_at, unique_key)
VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, '', $7, $7, $8);

-- name: unique-exists
SELECT id FROM jobs WHERE unique_key = $1 AND state <> 'dead';

-- name: repeat
UPDATE jobs
SET state = 'pending', run_at = $5, payload = $6, attempts = 0, last_error = '', lease_owner = NULL, lease_until = NULL, updated_at = $7
WHERE id = $1 AND state = 'running' AND lease_owner = $2 AND attempts = $3 AND lease_until = $4;
