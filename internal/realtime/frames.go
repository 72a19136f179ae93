package realtime

import "github.com/kanal-dev/kanal/internal/event"

// Frames the server sends. Every frame is one JSON object in a text message
// with a "type".

type helloOut struct {
	Type        string `json:"type"` // hello
	WorkspaceID string `json:"workspace_id"`
	UserID      string `json:"user_id"`
	// LastSeq is the workspace's newest seq when the socket opened. Without
	// ?after= it is the client's cursor: every event after it follows.
	LastSeq int64 `json:"last_seq"`
	// After echoes ?after= when the socket resumes: the events after it are
	// replayed next.
	After *int64 `json:"after,omitempty"`
	// Reset is true when ?after= was beyond the log (a restored backup, or
	// another install): the client should drop what it holds and reload;
	// the socket continues from LastSeq.
	Reset bool `json:"reset,omitempty"`
}

type eventOut struct {
	Type  string      `json:"type"` // event
	Event event.Event `json:"event"`
}

type presenceOut struct {
	Type   string `json:"type"` // presence
	UserID string `json:"user_id"`
	Status string `json:"status"`
	Since  int64  `json:"since"`
}

type typingOut struct {
	Type           string `json:"type"` // typing
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	Typing         bool   `json:"typing"`
}

type errorOut struct {
	Type    string `json:"type"` // error
	Code    string `json:"code"`
	Message string `json:"message"`
}

var resyncFrame = []byte(`{"type":"resync"}`)

func eventFrame(ev event.Event) []byte {
	return mustJSON(eventOut{Type: "event", Event: ev})
}

func errorFrame(code, msg string) []byte {
	return mustJSON(errorOut{Type: "error", Code: code, Message: msg})
}

// clientFrame is any frame a client sends; the fields used depend on Type.
type clientFrame struct {
	Type           string `json:"type"`
	Status         string `json:"status"`          // presence: online or away
	ConversationID string `json:"conversation_id"` // typing
	Typing         *bool  `json:"typing"`          // typing
}
