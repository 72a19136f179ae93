-- name: last-seq
-- The workspace's newest seq, from the (workspace_id, seq) index. It belongs
-- in internal/event (Log.LastSeq); kept here until that exists.
SELECT COALESCE(MAX(seq), 0) FROM events WHERE workspace_id = $1;
