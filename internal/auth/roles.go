package auth

// Role is a member's role in a workspace.
type Role string

// The roles, from least to most powerful.
const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
	RoleOwner      Role = "owner"
)

func (r Role) rank() int {
	switch r {
	case RoleAgent:
		return 1
	case RoleSupervisor:
		return 2
	case RoleAdmin:
		return 3
	case RoleOwner:
		return 4
	}
	return 0
}

// Valid tells whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast tells whether r is as powerful as o.
func (r Role) AtLeast(o Role) bool { return r.rank() >= o.rank() }

// Permission is something a member may do.
type Permission string

// Permissions and the least role that holds each.
const (
	PermWork            Permission = "work"             // read conversations and customers, reply, note, change status/labels, take
	PermAssignOthers    Permission = "assign_others"    // assign conversations to other agents and teams
	PermReadEvents      Permission = "read_events"      // read the workspace's event log
	PermManageInboxes   Permission = "manage_inboxes"   // create and change inboxes (channel credentials)
	PermManageTeams     Permission = "manage_teams"     // teams and their members
	PermManageUsers     Permission = "manage_users"     // add members, change roles (not owners)
	PermManageJobs      Permission = "manage_jobs"      // dead letters
	PermManageContent   Permission = "manage_content"   // canned replies and the label catalogue
	PermManageWorkspace Permission = "manage_workspace" // workspace settings, owners
)

var minRole = map[Permission]Role{
	PermWork:            RoleAgent,
	PermReadEvents:      RoleAgent,
	PermAssignOthers:    RoleSupervisor,
	PermManageContent:   RoleSupervisor,
	PermManageTeams:     RoleAdmin,
	PermManageInboxes:   RoleAdmin,
	PermManageUsers:     RoleAdmin,
	PermManageJobs:      RoleAdmin,
	PermManageWorkspace: RoleOwner,
}

// Can tells whether role r holds permission p.
func Can(r Role, p Permission) bool {
	min, ok := minRole[p]
	return ok && r.AtLeast(min)
}
