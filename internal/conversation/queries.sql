-- name: message-by-provider-id
SELECT id, conversation_id, customer_id FROM messages WHERE inbox_id = $1 AND provider_id = $2 AND direction = 'in';

-- name: open-for-customer
SELECT id, status FROM conversations
WHERE workspace_id = $1 AND customer_id = $2 AND status <> 'resolved' AND last_activity_at >= $3
ORDER BY last_activity_at DESC, id DESC LIMIT 1;

-- name: open-for-customer-in-inbox
SELECT id, status FROM conversations
WHERE workspace_id = $1 AND customer_id = $2 AND status <> 'resolved' AND inbox_id = $3
ORDER BY last_activity_at DESC, id DESC LIMIT 1;

-- name: insert-conversation
INSERT INTO conversations (id, workspace_id, customer_id, inbox_id, channel, last_inbox_id, last_channel, status, priority,
  subject, labels, created_at, updated_at, last_activity_at, last_inbound_at, last_identity_id)
VALUES ($1, $2, $3, $4, $5, $4, $5, $6, $7, $8, '[]', $9, $9, $9, $10, $11);

-- name: touch-inbound
UPDATE conversations SET last_inbox_id = $3, last_channel = $4, last_activity_at = $5, last_inbound_at = $5,
  last_identity_id = COALESCE($6, last_identity_id),
  updated_at = $5, status = CASE WHEN status IN ('pending', 'snoozed', 'resolved') THEN 'open' ELSE status END,
  snoozed_until = CASE WHEN status IN ('pending', 'snoozed') THEN NULL ELSE snoozed_until END,
  resolved_at = CASE WHEN status = 'resolved' THEN NULL ELSE resolved_at END
WHERE workspace_id = $1 AND id = $2;

-- name: touch-outbound
UPDATE conversations SET last_activity_at = $3, updated_at = $3, first_response_at = COALESCE(first_response_at, $3)
WHERE workspace_id = $1 AND id = $2;

-- name: get-conversation
SELECT id, workspace_id, customer_id, inbox_id, channel, last_inbox_id, last_channel, status, priority, assignee_id,
  team_id, subject, labels, snoozed_until, created_at, updated_at, last_activity_at, last_inbound_at, first_response_at, resolved_at
FROM conversations WHERE workspace_id = $1 AND id = $2;

-- name: update-conversation
UPDATE conversations SET status = $3, priority = $4, assignee_id = $5, team_id = $6, subject = $7, labels = $8,
  snoozed_until = $9, resolved_at = $10, updated_at = $11
WHERE workspace_id = $1 AND id = $2;

-- name: delete-labels
DELETE FROM conversation_labels WHERE conversation_id = $1;

-- name: insert-label
INSERT INTO conversation_labels (workspace_id, conversation_id, label) VALUES ($1, $2, $3);

-- name: insert-message
INSERT INTO messages (id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind, direction, author_kind,
  author_id, text, html, attachments, provider_id, status, status_reason, created_at, updated_at, content_type, raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19);

-- name: get-message
SELECT id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind, direction, author_kind, author_id,
  text, html, attachments, provider_id, status, status_reason, created_at, updated_at, content_type, raw
FROM messages WHERE workspace_id = $1 AND id = $2;

-- name: list-messages
SELECT id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind, direction, author_kind, author_id,
  text, html, attachments, provider_id, status, status_reason, created_at, updated_at, content_type, raw
FROM messages WHERE workspace_id = $1 AND conversation_id = $2 AND (created_at > $3 OR (created_at = $3 AND id > $4))
ORDER BY created_at, id LIMIT $5;

-- name: set-message-status
UPDATE messages SET status = $3, status_reason = $4, provider_id = COALESCE($5, provider_id), updated_at = $6
WHERE workspace_id = $1 AND id = $2;

-- name: team-exists
SELECT id FROM teams WHERE workspace_id = $1 AND id = $2;

-- name: member-exists
SELECT user_id FROM memberships WHERE workspace_id = $1 AND user_id = $2;

-- name: list-conversations-base
SELECT c.id, c.workspace_id, c.customer_id, c.inbox_id, c.channel, c.last_inbox_id, c.last_channel, c.status, c.priority,
  c.assignee_id, c.team_id, c.subject, c.labels, c.snoozed_until, c.created_at, c.updated_at, c.last_activity_at,
  c.last_inbound_at, c.first_response_at, c.resolved_at
FROM conversations c WHERE c.workspace_id = $1

-- name: outbound-by-provider-id
SELECT id FROM messages WHERE inbox_id = $1 AND provider_id = $2 AND direction = 'out';

-- name: last-inbound
SELECT COALESCE(MAX(created_at), 0) FROM messages
WHERE customer_id = $1 AND inbox_id = $2 AND direction = 'in';

-- name: set-attachments
UPDATE messages SET attachments = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2;

-- name: conversation-of-customer
SELECT id, status FROM conversations WHERE workspace_id = $1 AND id = $2 AND customer_id = $3;

-- name: conversation-by-thread-key
-- Split by direction so each half uses a partial (inbox_id, provider_id) index.
SELECT c.id, c.status, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.inbox_id = $1 AND m.provider_id = $2 AND m.direction = 'out' AND c.workspace_id = $3 AND c.customer_id = $4
UNION ALL
SELECT c.id, c.status, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.inbox_id = $1 AND m.provider_id = $2 AND m.direction = 'in' AND c.workspace_id = $3 AND c.customer_id = $4
ORDER BY 3 DESC LIMIT 1;
