-- name: insert-user
INSERT INTO users (id, email, email_norm, name, password_hash, locale, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: user-by-email
SELECT id, email, name, password_hash, locale, created_at FROM users WHERE email_norm = $1;

-- name: user-by-id
SELECT id, email, name, password_hash, locale, created_at FROM users WHERE id = $1;

-- name: upsert-member
INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role;

-- name: member
SELECT u.id, u.email, u.name, u.locale, u.created_at, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND m.user_id = $2;

-- name: members
SELECT u.id, u.email, u.name, u.locale, u.created_at, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id;

-- name: first-membership
SELECT workspace_id, role FROM memberships WHERE user_id = $1 ORDER BY created_at LIMIT 1;

-- name: membership-in
SELECT m.workspace_id, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
WHERE m.user_id = $1 AND w.slug = $2;

-- name: count-owners
SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner';

-- name: delete-member
DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2;

-- name: delete-member-teams
DELETE FROM team_members WHERE workspace_id = $1 AND user_id = $2;

-- name: revoke-member-tokens
UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL;

-- name: revoke-member-sessions
UPDATE sessions SET revoked_at = $3 WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL;

-- name: insert-session
INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5);

-- name: session
SELECT s.user_id, s.workspace_id, s.created_at, s.expires_at, m.role, u.email, u.name
FROM sessions s
JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id
JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.revoked_at IS NULL;

-- name: touch-session
UPDATE sessions SET expires_at = $2 WHERE token_hash = $1;

-- name: revoke-session
UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL;

-- name: insert-token
INSERT INTO api_tokens (id, workspace_id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6);

-- name: token
SELECT t.id, t.user_id, t.workspace_id, m.role, u.email, u.name
FROM api_tokens t
JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL;

-- name: tokens
SELECT id, user_id, name, created_at FROM api_tokens WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY created_at;

-- name: revoke-token
UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL;

-- name: user-workspaces
SELECT workspace_id FROM memberships WHERE user_id = $1 ORDER BY created_at, workspace_id;
