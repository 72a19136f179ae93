package channel

import (
	"context"

	"github.com/kanal-dev/kanal/internal/inbox"
)

// Setupper is implemented by adapters that register Kanal with the provider
// when an inbox is created or changed (Telegram's setWebhook). webhookURL is
// the inbox's public webhook URL.
type Setupper interface {
	Setup(ctx context.Context, in inbox.Inbox, webhookURL string) error
}

// Tester is implemented by adapters that can check an inbox's credentials
// against the provider without sending anything (the "test connection"
// button). It returns a short description of the account on success.
type Tester interface {
	Test(ctx context.Context, in inbox.Inbox) (string, error)
}

// Poller is implemented by adapters whose provider has no push for inbound
// messages or delivery reports (Netgsm). Kanal calls Poll every interval
// for each inbox of the type, with the cursor the previous call returned
// ("" the first time), and stores the batch with the new cursor in one
// transaction, so a crash never loses or doubles a polled message (items are
// deduplicated by provider id anyway).
type Poller interface {
	Poll(ctx context.Context, in inbox.Inbox, cursor string) (b Batch, next string, err error)
}
