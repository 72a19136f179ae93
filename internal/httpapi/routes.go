package httpapi

import (
	"net/http"

	"github.com/kanal-dev/kanal/internal/auth"
)

type access int

const (
	public access = iota
	member        // any authenticated member; perm narrows it
)

type route struct {
	pattern string
	access  access
	perm    auth.Permission
	h       func(w http.ResponseWriter, r *http.Request) error
}

// routes is every route of the API, in one place.
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", public, "", s.healthz},
		{"GET /readyz", public, "", s.readyz},
		{"GET /api/openapi.yaml", public, "", s.openAPISpec},
		{"GET /api/docs", public, "", s.apiDocs},

		{"GET /api/v1/setup", public, "", s.setupNeeded},
		{"POST /api/v1/setup", public, "", s.setup},
		{"POST /api/v1/auth/login", public, "", s.login},
		{"POST /api/v1/auth/logout", member, "", s.logout},
		{"GET /api/v1/me", member, "", s.me},

		{"GET /api/v1/workspace", member, auth.PermWork, s.getWorkspace},
		{"PATCH /api/v1/workspace", member, auth.PermManageWorkspace, s.patchWorkspace},

		{"GET /api/v1/users", member, auth.PermWork, s.listUsers},
		{"POST /api/v1/users", member, auth.PermManageUsers, s.createUser},
		{"GET /api/v1/users/{id}", member, auth.PermWork, s.getUser},
		{"PATCH /api/v1/users/{id}", member, auth.PermManageUsers, s.patchUser},
		{"DELETE /api/v1/users/{id}", member, auth.PermManageUsers, s.deleteUser},

		{"GET /api/v1/tokens", member, auth.PermManageUsers, s.listTokens},
		{"POST /api/v1/tokens", member, auth.PermWork, s.createToken},
		{"DELETE /api/v1/tokens/{id}", member, auth.PermManageUsers, s.deleteToken},

		{"GET /api/v1/teams", member, auth.PermWork, s.listTeams},
		{"POST /api/v1/teams", member, auth.PermManageTeams, s.createTeam},
		{"GET /api/v1/teams/{id}", member, auth.PermWork, s.getTeam},
		{"PATCH /api/v1/teams/{id}", member, auth.PermManageTeams, s.patchTeam},
		{"DELETE /api/v1/teams/{id}", member, auth.PermManageTeams, s.deleteTeam},

		{"GET /api/v1/inboxes", member, auth.PermWork, s.listInboxes},
		{"POST /api/v1/inboxes", member, auth.PermManageInboxes, s.createInbox},
		{"GET /api/v1/inboxes/{id}", member, auth.PermWork, s.getInbox},
		{"PATCH /api/v1/inboxes/{id}", member, auth.PermManageInboxes, s.patchInbox},
		{"DELETE /api/v1/inboxes/{id}", member, auth.PermManageInboxes, s.deleteInbox},
		{"POST /api/v1/inboxes/{id}/inbound", member, auth.PermWork, s.inbound},
		{"POST /api/v1/inboxes/{id}/test", member, auth.PermManageInboxes, s.testInbox},
		{"GET /api/v1/inboxes/{id}/widget", member, auth.PermWork, s.widgetEmbed},

		{"GET /api/v1/customers", member, auth.PermWork, s.listCustomers},
		{"POST /api/v1/customers", member, auth.PermWork, s.createCustomer},
		{"GET /api/v1/customers/{id}", member, auth.PermWork, s.getCustomer},
		{"PATCH /api/v1/customers/{id}", member, auth.PermWork, s.patchCustomer},
		{"POST /api/v1/customers/{id}/identities", member, auth.PermWork, s.addIdentity},
		{"GET /api/v1/customers/{id}/timeline", member, auth.PermWork, s.timeline},
		{"POST /api/v1/customers/{id}/merge", member, auth.PermWork, s.mergeCustomer},
		{"GET /api/v1/customers/{id}/merges", member, auth.PermWork, s.listCustomerMerges},
		{"GET /api/v1/customers/{id}/duplicates", member, auth.PermWork, s.customerDuplicates},
		{"POST /api/v1/customers/{id}/events", member, auth.PermWork, s.postCustomerEvent},
		{"POST /api/v1/customer-events", member, auth.PermWork, s.postCustomerEvents},
		{"GET /api/v1/customer-merges/{id}", member, auth.PermWork, s.getCustomerMerge},
		{"POST /api/v1/customer-merges/{id}/undo", member, auth.PermWork, s.undoCustomerMerge},

		{"GET /api/v1/conversations", member, auth.PermWork, s.listConversations},
		{"GET /api/v1/conversations/{id}", member, auth.PermWork, s.getConversation},
		{"PATCH /api/v1/conversations/{id}", member, auth.PermWork, s.patchConversation},
		{"GET /api/v1/conversations/{id}/messages", member, auth.PermWork, s.listMessages},
		{"POST /api/v1/conversations/{id}/messages", member, auth.PermWork, s.sendMessage},
		{"POST /api/v1/conversations/{id}/notes", member, auth.PermWork, s.addNote},
		{"POST /api/v1/conversations/{id}/read", member, auth.PermWork, s.markRead},

		{"GET /api/v1/media/{id}", member, auth.PermWork, s.getMedia},

		{"GET /api/v1/canned-replies", member, auth.PermWork, s.listCanned},
		{"POST /api/v1/canned-replies", member, auth.PermManageContent, s.createCanned},
		{"GET /api/v1/canned-replies/{id}", member, auth.PermWork, s.getCanned},
		{"PATCH /api/v1/canned-replies/{id}", member, auth.PermManageContent, s.patchCanned},
		{"DELETE /api/v1/canned-replies/{id}", member, auth.PermManageContent, s.deleteCanned},

		{"GET /api/v1/labels", member, auth.PermWork, s.listLabels},
		{"POST /api/v1/labels", member, auth.PermManageContent, s.saveLabel},
		{"DELETE /api/v1/labels/{id}", member, auth.PermManageContent, s.deleteLabel},

		{"GET /api/v1/events", member, auth.PermReadEvents, s.listEvents},

		{"GET /api/v1/ws", member, auth.PermWork, s.websocket},
		{"GET /api/v1/presence", member, auth.PermWork, s.presence},

		{"GET /webhooks/{type}/{key}", public, "", s.webhookChallenge},
		{"POST /webhooks/{type}/{key}", public, "", s.webhook},
		{"GET /api/v1/webhook-failures", member, auth.PermManageInboxes, s.listWebhookFailures},

		{"GET /api/v1/jobs/dead", member, auth.PermManageJobs, s.listDeadJobs},
		{"POST /api/v1/jobs/{id}/retry", member, auth.PermManageJobs, s.retryJob},
	}
}
