-- name: insert-visitor
INSERT INTO webchat_visitors (id, workspace_id, inbox_id, token_hash, customer_id, external_id, name, email, created_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9);

-- name: visitor-by-token
SELECT id, workspace_id, inbox_id, COALESCE(customer_id, ''), external_id, name, email, created_at, last_seen_at
FROM webchat_visitors WHERE token_hash = $1;

-- name: visitor-by-id
SELECT id, workspace_id, inbox_id, COALESCE(customer_id, ''), external_id, name, email, created_at, last_seen_at
FROM webchat_visitors WHERE workspace_id = $1 AND id = $2;

-- name: set-visitor-customer
UPDATE webchat_visitors SET customer_id = $3 WHERE workspace_id = $1 AND id = $2;

-- name: set-visitor-identity
UPDATE webchat_visitors SET external_id = $3, customer_id = $4 WHERE workspace_id = $1 AND id = $2;

-- name: set-visitor-contact
UPDATE webchat_visitors SET name = $3, email = $4 WHERE workspace_id = $1 AND id = $2;

-- name: touch-visitor
UPDATE webchat_visitors SET last_seen_at = $3 WHERE workspace_id = $1 AND id = $2;

-- name: identity-owner
SELECT customer_id FROM identities WHERE workspace_id = $1 AND kind = $2 AND value_norm = $3;

-- name: history
-- A visitor's messages in one inbox, newest first (the caller reverses a
-- page): never notes, never another customer's.
SELECT id, workspace_id, conversation_id, customer_id, inbox_id, channel, kind, direction, author_kind, author_id,
  text, html, attachments, provider_id, status, status_reason, created_at, updated_at, content_type, raw
FROM messages
WHERE workspace_id = $1 AND customer_id = $2 AND inbox_id = $3 AND kind = 'message'
  AND conversation_id IN (SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2)
  AND (created_at < $4 OR (created_at = $4 AND id < $5))
ORDER BY created_at DESC, id DESC LIMIT $6;

-- name: message-by-provider-id
SELECT id FROM messages WHERE inbox_id = $1 AND provider_id = $2 AND direction = 'in';

-- name: media-visible
-- Whether a stored file is an attachment of one of the visitor's messages.
SELECT id FROM messages
WHERE workspace_id = $1 AND customer_id = $2 AND inbox_id = $3 AND kind = 'message'
  AND conversation_id IN (SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2)
  AND attachments LIKE $4
LIMIT 1;

-- name: current-conversation
-- The visitor's conversation in this inbox: the newest one whose last
-- message went through it.
SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2 AND last_inbox_id = $3
ORDER BY last_activity_at DESC, id DESC LIMIT 1;

-- name: unread-up-to
-- Agent messages to the visitor in this inbox, up to a time, not yet at the
-- given delivery status rank.
SELECT id FROM messages
WHERE workspace_id = $1 AND conversation_id = $2 AND customer_id = $3 AND inbox_id = $4 AND kind = 'message'
  AND direction = 'out' AND created_at <= $5 AND status IN ('queued', 'sent', 'delivered')
ORDER BY created_at, id LIMIT 200;

-- name: last-seq
SELECT COALESCE(MAX(seq), 0) FROM events WHERE workspace_id = $1;

-- name: customer-events-after
-- A customer's events after a seq, from the (workspace_id, customer_id, seq)
-- index: what a visitor's socket replays.
SELECT id, workspace_id, seq, type, customer_id, conversation_id, actor_kind, actor_id, data, created_at
FROM events WHERE workspace_id = $1 AND customer_id = $2 AND seq > $3 ORDER BY seq LIMIT $4;
