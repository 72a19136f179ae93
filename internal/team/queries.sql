-- name: insert
INSERT INTO teams (id, workspace_id, name, created_at) VALUES ($1, $2, $3, $4);

-- name: get
SELECT id, name, created_at FROM teams WHERE workspace_id = $1 AND id = $2;

-- name: list
SELECT id, name, created_at FROM teams WHERE workspace_id = $1 ORDER BY name, id;

-- name: rename
UPDATE teams SET name = $3 WHERE workspace_id = $1 AND id = $2;

-- name: delete
DELETE FROM teams WHERE workspace_id = $1 AND id = $2;

-- name: unassign
UPDATE conversations SET team_id = NULL WHERE workspace_id = $1 AND team_id = $2;

-- name: members
SELECT user_id FROM team_members WHERE workspace_id = $1 AND team_id = $2 ORDER BY user_id;

-- name: clear-members
DELETE FROM team_members WHERE workspace_id = $1 AND team_id = $2;

-- name: add-member
INSERT INTO team_members (workspace_id, team_id, user_id) VALUES ($1, $2, $3);

-- name: is-member
SELECT user_id FROM memberships WHERE workspace_id = $1 AND user_id = $2;
