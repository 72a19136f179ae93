package customer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kanal-dev/kanal/internal/errs"
	"github.com/kanal-dev/kanal/internal/event"
	"github.com/kanal-dev/kanal/internal/store"
)

// Event types of the customer 360 features. package event lists them too
// (event.CustomerMerged, event.CustomerUnmerged, event.CustomerActivity);
// these are the same strings.
const (
	EventMerged   = "customer.merged"
	EventUnmerged = "customer.unmerged"
	EventActivity = "customer.activity"
)

// Merge is the record of one customer (merged_id) merged into another
// (survivor_id). It is kept after an undo, with undone_at set.
type Merge struct {
	ID         string `json:"id"`
	SurvivorID string `json:"survivor_id"`
	MergedID   string `json:"merged_id"`
	Moved      Moved  `json:"moved"`
	// Filled names the survivor's profile fields the merge filled from the
	// merged customer because they were empty ("name", "email", "phone",
	// "attributes.<key>"). An undo empties them again.
	Filled    []string `json:"filled"`
	CreatedAt int64    `json:"created_at"`
	UndoneAt  *int64   `json:"undone_at"`
}

// Moved counts what a merge moved to the survivor.
type Moved struct {
	Identities    int64 `json:"identities"`
	Conversations int64 `json:"conversations"`
	Messages      int64 `json:"messages"`
}

// profileState is a customer's profile at one moment.
type profileState struct {
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	Phone      string         `json:"phone"`
	Attributes map[string]any `json:"attributes"`
	UpdatedAt  int64          `json:"updated_at"`
}

// mergeState is what an undo needs to put the survivor's profile back: the
// profile before the merge and right after it (nil when nothing was filled).
type mergeState struct {
	Before *profileState `json:"before,omitempty"`
	After  *profileState `json:"after,omitempty"`
}

// Item kinds of customer_merge_items.
const (
	itemIdentity     = "identity"
	itemConversation = "conversation"
)

// maxChain bounds how far merged_into is followed (A into B into C ...).
const maxChain = 64

// stored is a customer row, merged away or not.
type stored struct {
	Customer
	mergedInto string
}

func (s *Service) anyCustomer(ctx context.Context, r store.Querier, workspaceID, id string) (stored, error) {
	var c stored
	var attrs string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "merge-customer"), workspaceID, id).Scan(&c.ID, &c.WorkspaceID, &c.Name,
		&c.Email, &c.Phone, &attrs, &c.CreatedAt, &c.UpdatedAt, &c.mergedInto)
	if err != nil {
		return stored{}, fmt.Errorf("customer %s: %w", id, err)
	}
	c.Attributes = map[string]any{}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return stored{}, fmt.Errorf("customer %s: attributes: %w", c.ID, err)
	}
	return c, nil
}

// liveSurvivor follows merged_into from id to the live customer that now
// holds its identities and conversations (id itself when it is live).
func (s *Service) liveSurvivor(ctx context.Context, r store.Querier, workspaceID, id string) (string, error) {
	for range maxChain {
		c, err := s.anyCustomer(ctx, r, workspaceID, id)
		if err != nil {
			return "", err
		}
		if c.mergedInto == "" {
			return c.ID, nil
		}
		id = c.mergedInto
	}
	return "", fmt.Errorf("customer %s: merge chain longer than %d", id, maxChain)
}

// mergedAway explains why the live-customer queries found no customer id:
// when it was merged away it is a 404 with code customer_merged naming the
// customer that now holds it; otherwise notFound is returned as is.
// Service.get calls it (the customer's GET, PATCH, identities and timeline
// answer customer_merged).
func (s *Service) mergedAway(ctx context.Context, r store.Querier, workspaceID, id string, notFound error) error {
	c, err := s.anyCustomer(ctx, r, workspaceID, id)
	if err != nil || c.mergedInto == "" {
		return notFound
	}
	return s.mergedError(ctx, r, workspaceID, c, errs.ErrNotFound)
}

// mergedError is the customer_merged error of a merged-away customer, of
// the given kind (not found when reading it, conflict when merging it).
func (s *Service) mergedError(ctx context.Context, r store.Querier, workspaceID string, c stored, kind error) error {
	var mergeID, survivor string
	if err := r.QueryRow(ctx, q.Get(r.Dialect(), "merge-live-away"), workspaceID, c.ID).Scan(&mergeID, &survivor); err != nil {
		survivor = c.mergedInto
	}
	live, err := s.liveSurvivor(ctx, r, workspaceID, c.mergedInto)
	if err != nil {
		live = c.mergedInto
	}
	msg := fmt.Sprintf("customer %s was merged into customer %s (merge %s)", c.ID, survivor, mergeID)
	if live != survivor {
		msg += fmt.Sprintf(", which was itself merged into customer %s", live)
	}
	if kind == errs.ErrConflict {
		return errs.New(errs.ErrConflict, "customer_merged", "%s; use customer %s instead", msg, live)
	}
	return errs.New(kind, "customer_merged", "%s; its identities, conversations and timeline are on customer %s", msg, live)
}

// Merge merges the customer mergedID into survivorID: the merged customer's
// identities and conversations (with their messages) move to the survivor,
// the survivor's empty profile fields are filled from the merged one, and
// the survivor's timeline includes the merged customer's events. The merged
// customer's row stays, marked as merged away (its GET answers
// customer_merged). Everything is recorded so that Undo restores both.
func (s *Service) Merge(ctx context.Context, actor event.Actor, workspaceID, survivorID, mergedID string) (Merge, error) {
	survivorID, mergedID = strings.TrimSpace(survivorID), strings.TrimSpace(mergedID)
	if mergedID == "" {
		return Merge{}, errs.Invalid("from", "is required: the id of the customer to merge into this one")
	}
	if mergedID == survivorID {
		return Merge{}, errs.Invalid("from", "is this customer; a customer cannot be merged into itself")
	}
	var out Merge
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		d := tx.Dialect()
		if err := s.lockPair(ctx, tx, workspaceID, survivorID, mergedID); err != nil {
			return err
		}
		surv, err := s.anyCustomer(ctx, tx, workspaceID, survivorID)
		if err != nil {
			return err
		}
		from, err := s.anyCustomer(ctx, tx, workspaceID, mergedID)
		if err != nil {
			return err
		}
		for _, c := range []stored{surv, from} {
			if c.mergedInto != "" {
				return s.mergedError(ctx, tx, workspaceID, c, errs.ErrConflict)
			}
		}
		now := store.Now()
		m := Merge{ID: store.NewID(), SurvivorID: survivorID, MergedID: mergedID, CreatedAt: now}
		filledCust, filled := fillFrom(surv.Customer, from.Customer)
		m.Filled = filled
		var st mergeState
		if len(filled) > 0 {
			filledCust.UpdatedAt = now
			st.Before, st.After = snapshot(surv.Customer), snapshot(filledCust)
		}
		fj, _ := json.Marshal(m.Filled)
		sj, _ := json.Marshal(st)
		if _, err := tx.Exec(ctx, q.Get(d, "merge-insert"), m.ID, workspaceID, survivorID, mergedID, string(fj), string(sj),
			actorKind(actor), nullable(actor.ID), now); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		for _, name := range []string{"merge-items-identities", "merge-items-conversations"} {
			if _, err := tx.Exec(ctx, q.Get(d, name), workspaceID, m.ID, mergedID); err != nil {
				return fmt.Errorf("merge: %w", err)
			}
		}
		if m.Moved, err = s.move(ctx, tx, workspaceID, m.ID, mergedID, survivorID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q.Get(d, "merge-set-counts"), workspaceID, m.ID, m.Moved.Identities, m.Moved.Conversations,
			m.Moved.Messages); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if _, err := tx.Exec(ctx, q.Get(d, "merge-set-merged-into"), workspaceID, mergedID, survivorID); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if len(filled) > 0 {
			if err := s.writeProfile(ctx, tx, filledCust); err != nil {
				return err
			}
		}
		if err := s.conversationEvents(ctx, tx, workspaceID, m.ID, mergedID, survivorID, survivorID, actor); err != nil {
			return err
		}
		full, err := s.getFull(ctx, tx, workspaceID, survivorID)
		if err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: EventMerged, CustomerID: survivorID, Actor: actor,
			Data: map[string]any{"merge": m, "survivor": full}}); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// Undo reverses a merge: the identities and conversations (with their
// messages) it moved go back to the merged customer, the survivor's profile
// fields it filled are emptied again (unless changed since), and the merged
// customer is live again. Things that arrived after the merge stay with the
// survivor, except messages of the conversations that go back. A merge whose
// survivor was since merged into a third customer cannot be undone before
// that later merge (409 merge_dependent naming it); an undone merge cannot be
// undone again (409 merge_undone).
func (s *Service) Undo(ctx context.Context, actor event.Actor, workspaceID, mergeID string) (Merge, error) {
	var out Merge
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		d := tx.Dialect()
		m, st, err := s.getMerge(ctx, tx, "merge-get-for-undo", workspaceID, mergeID)
		if err != nil {
			return err
		}
		if m.UndoneAt != nil {
			return errs.New(errs.ErrConflict, "merge_undone", "merge %s was already undone", m.ID)
		}
		if err := s.lockPair(ctx, tx, workspaceID, m.SurvivorID, m.MergedID); err != nil {
			return err
		}
		surv, err := s.anyCustomer(ctx, tx, workspaceID, m.SurvivorID)
		if err != nil {
			return err
		}
		if surv.mergedInto != "" {
			var later, third string
			if err := tx.QueryRow(ctx, q.Get(d, "merge-live-away"), workspaceID, surv.ID).Scan(&later, &third); err != nil {
				return fmt.Errorf("undo merge: %w", err)
			}
			return errs.New(errs.ErrConflict, "merge_dependent",
				"customer %s, the survivor of merge %s, was since merged into customer %s by merge %s; undo merge %s first",
				surv.ID, m.ID, third, later, later)
		}
		merged, err := s.anyCustomer(ctx, tx, workspaceID, m.MergedID)
		if err != nil {
			return err
		}
		if merged.mergedInto != m.SurvivorID {
			return errs.New(errs.ErrConflict, "merge_dependent", "customer %s is no longer merged into customer %s", merged.ID, m.SurvivorID)
		}
		back, err := s.move(ctx, tx, workspaceID, m.ID, m.SurvivorID, m.MergedID)
		if err != nil {
			return err
		}
		for _, k := range []struct {
			kind string
			got  int64
		}{{itemIdentity, back.Identities}, {itemConversation, back.Conversations}} {
			ids, err := s.itemIDs(ctx, tx, m.ID, k.kind)
			if err != nil {
				return err
			}
			if int64(len(ids)) != k.got {
				return errs.New(errs.ErrConflict, "merge_dependent",
					"%d of the %d %ss merge %s moved no longer belong to customer %s; they cannot be moved back",
					int64(len(ids))-k.got, len(ids), k.kind, m.ID, m.SurvivorID)
			}
		}
		if st.After != nil {
			if err := s.restoreProfile(ctx, tx, surv.Customer, m.Filled, st); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, q.Get(d, "merge-set-merged-into"), workspaceID, m.MergedID, nil); err != nil {
			return fmt.Errorf("undo merge: %w", err)
		}
		now := store.Now()
		res, err := tx.Exec(ctx, q.Get(d, "merge-mark-undone"), workspaceID, m.ID, now, nullable(actor.ID))
		if err != nil {
			return fmt.Errorf("undo merge: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.New(errs.ErrConflict, "merge_undone", "merge %s was already undone", m.ID)
		}
		m.UndoneAt = &now
		if err := s.conversationEvents(ctx, tx, workspaceID, m.ID, m.SurvivorID, m.MergedID, m.MergedID, actor); err != nil {
			return err
		}
		restored, err := s.getFull(ctx, tx, workspaceID, m.MergedID)
		if err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: EventUnmerged, CustomerID: m.SurvivorID, Actor: actor,
			Data: map[string]any{"merge": m, "restored": restored}}); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

func (s *Service) lockPair(ctx context.Context, tx *store.Tx, workspaceID, a, b string) error {
	rows, err := tx.Query(ctx, q.Get(tx.Dialect(), "merge-lock"), workspaceID, a, b)
	if err != nil {
		return fmt.Errorf("merge: lock: %w", err)
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

// move moves what merge mergeID lists from customer from to customer to.
func (s *Service) move(ctx context.Context, tx *store.Tx, workspaceID, mergeID, from, to string) (Moved, error) {
	var m Moved
	for _, step := range []struct {
		query string
		n     *int64
	}{{"merge-move-identities", &m.Identities}, {"merge-move-messages", &m.Messages}, {"merge-move-conversations", &m.Conversations}} {
		res, err := tx.Exec(ctx, q.Get(tx.Dialect(), step.query), workspaceID, from, to, mergeID)
		if err != nil {
			return Moved{}, fmt.Errorf("merge: %s: %w", step.query, err)
		}
		if *step.n, err = res.RowsAffected(); err != nil {
			return Moved{}, err
		}
	}
	return m, nil
}

func (s *Service) itemIDs(ctx context.Context, r store.Querier, mergeID, kind string) ([]string, error) {
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "merge-item-ids"), mergeID, kind)
	if err != nil {
		return nil, fmt.Errorf("merge items: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// conversationEvents appends a conversation.updated event for each
// conversation of the merge, now owned by customer to, on onTimeline's
// timeline.
func (s *Service) conversationEvents(ctx context.Context, tx *store.Tx, workspaceID, mergeID, from, to, onTimeline string, actor event.Actor) error {
	ids, err := s.itemIDs(ctx, tx, mergeID, itemConversation)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.log.Append(ctx, tx, workspaceID, event.New{Type: event.ConversationUpdated, CustomerID: onTimeline,
			ConversationID: id, Actor: actor, Data: map[string]any{"merge_id": mergeID,
				"changes": map[string]any{"customer_id": map[string]string{"from": from, "to": to}}}}); err != nil {
			return err
		}
	}
	return nil
}

// fillFrom returns dst with its empty profile fields (and missing attribute
// keys) taken from src, and the names of the fields it filled.
func fillFrom(dst, src Customer) (Customer, []string) {
	filled := []string{}
	if dst.Name == "" && src.Name != "" {
		dst.Name = src.Name
		filled = append(filled, "name")
	}
	if dst.Email == "" && src.Email != "" {
		dst.Email = src.Email
		filled = append(filled, "email")
	}
	if dst.Phone == "" && src.Phone != "" {
		dst.Phone = src.Phone
		filled = append(filled, "phone")
	}
	attrs := make(map[string]any, len(dst.Attributes)+len(src.Attributes))
	for k, v := range dst.Attributes {
		attrs[k] = v
	}
	var added []string
	for k, v := range src.Attributes {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
			added = append(added, "attributes."+k)
		}
	}
	if len(added) > 0 {
		withAttrs := dst
		withAttrs.Attributes = attrs
		if validate(withAttrs) == nil { // never push the survivor over the attribute limits
			dst = withAttrs
			slices.Sort(added)
			filled = append(filled, added...)
		}
	}
	return dst, filled
}

func snapshot(c Customer) *profileState {
	attrs := make(map[string]any, len(c.Attributes))
	for k, v := range c.Attributes {
		attrs[k] = v
	}
	return &profileState{Name: c.Name, Email: c.Email, Phone: c.Phone, Attributes: attrs, UpdatedAt: c.UpdatedAt}
}

// writeProfile stores c's profile fields as they are (no event: the merge
// or unmerge event carries the profile).
func (s *Service) writeProfile(ctx context.Context, tx *store.Tx, c Customer) error {
	attrs, _ := json.Marshal(c.Attributes)
	if _, err := tx.Exec(ctx, q.Get(tx.Dialect(), "merge-update-profile"), c.WorkspaceID, c.ID, c.Name, c.Email, c.Phone,
		string(attrs), SearchKey(c.Name, c.Email, c.Phone), c.UpdatedAt); err != nil {
		return fmt.Errorf("merge: update survivor: %w", err)
	}
	return nil
}

// restoreProfile empties the survivor's fields the merge filled, where
// they still hold what the merge put there. When nothing changed since the
// merge, the whole profile (updated_at included) is exactly as before it.
func (s *Service) restoreProfile(ctx context.Context, tx *store.Tx, cur Customer, filled []string, st mergeState) error {
	untouched := cur.Name == st.After.Name && cur.Email == st.After.Email && cur.Phone == st.After.Phone &&
		sameJSON(cur.Attributes, st.After.Attributes) && cur.UpdatedAt == st.After.UpdatedAt
	if untouched {
		cur.Name, cur.Email, cur.Phone, cur.Attributes, cur.UpdatedAt = st.Before.Name, st.Before.Email, st.Before.Phone,
			st.Before.Attributes, st.Before.UpdatedAt
		if cur.Attributes == nil {
			cur.Attributes = map[string]any{}
		}
		return s.writeProfile(ctx, tx, cur)
	}
	for _, f := range filled {
		switch {
		case f == "name" && cur.Name == st.After.Name:
			cur.Name = st.Before.Name
		case f == "email" && cur.Email == st.After.Email:
			cur.Email = st.Before.Email
		case f == "phone" && cur.Phone == st.After.Phone:
			cur.Phone = st.Before.Phone
		case strings.HasPrefix(f, "attributes."):
			k := strings.TrimPrefix(f, "attributes.")
			if v, ok := cur.Attributes[k]; ok && sameJSON(v, st.After.Attributes[k]) {
				delete(cur.Attributes, k)
			}
		}
	}
	cur.UpdatedAt = store.Now()
	return s.writeProfile(ctx, tx, cur)
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func (s *Service) getMerge(ctx context.Context, r store.Querier, query, workspaceID, id string) (Merge, mergeState, error) {
	m, st, err := scanMerge(r.QueryRow(ctx, q.Get(r.Dialect(), query), workspaceID, strings.TrimSpace(id)))
	if err != nil {
		return Merge{}, mergeState{}, fmt.Errorf("merge %s: %w", id, err)
	}
	return m, st, nil
}

func scanMerge(r scanner) (Merge, mergeState, error) {
	var m Merge
	var filled, state string
	var undone *int64
	if err := r.Scan(&m.ID, &m.SurvivorID, &m.MergedID, &m.Moved.Identities, &m.Moved.Conversations, &m.Moved.Messages,
		&filled, &state, &m.CreatedAt, &undone); err != nil {
		return Merge{}, mergeState{}, err
	}
	m.UndoneAt = undone
	m.Filled = []string{}
	var st mergeState
	if err := json.Unmarshal([]byte(filled), &m.Filled); err != nil {
		return Merge{}, mergeState{}, fmt.Errorf("merge %s: filled: %w", m.ID, err)
	}
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return Merge{}, mergeState{}, fmt.Errorf("merge %s: state: %w", m.ID, err)
	}
	return m, st, nil
}

// GetMerge returns a merge record of the workspace.
func (s *Service) GetMerge(ctx context.Context, workspaceID, id string) (Merge, error) {
	m, _, err := s.getMerge(ctx, s.db.Reader(), "merge-get", workspaceID, id)
	return m, err
}

// Merges lists the merges a customer took part in (as survivor or as the
// merged one), newest first. It answers for merged-away customers too, so a
// client told customer_merged can find the merge and its survivor.
func (s *Service) Merges(ctx context.Context, workspaceID, customerID string, limit int) ([]Merge, error) {
	r := s.db.Reader()
	if _, err := s.anyCustomer(ctx, r, workspaceID, customerID); err != nil {
		return nil, err
	}
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "merge-list"), workspaceID, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("list merges: %w", err)
	}
	defer rows.Close()
	out := []Merge{}
	for rows.Next() {
		m, _, err := scanMerge(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// TimelineIDs returns the customer ids whose events make up a customer's
// timeline: the customer and every customer merged into it by live merges,
// however deep. The log itself is never rewritten.
func (s *Service) TimelineIDs(ctx context.Context, workspaceID, id string) ([]string, error) {
	r := s.db.Reader()
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "merge-tree"), workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("timeline ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var cid string
		if err := rows.Scan(&cid); err != nil {
			return nil, err
		}
		out = append(out, cid)
	}
	return out, rows.Err()
}

// IdentityID returns the id of the identity a claim names (normalised in
// region), "" when no customer of the workspace has it. Ingest uses it to
// remember which identity a conversation's customer wrote from.
func (s *Service) IdentityID(ctx context.Context, tx *store.Tx, workspaceID, region string, c Claim) (string, error) {
	norm, err := Normalize(c.Kind, c.Value, region)
	if err != nil {
		return "", nil
	}
	var id, owner string
	err = tx.QueryRow(ctx, q.Get(tx.Dialect(), "identity-by-value"), workspaceID, c.Kind, norm).Scan(&id, &owner)
	if errors.Is(err, errs.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// ForReply narrows a customer's identities to those a reply in conversation
// conversationID must go to, for the channel adapters that pick "the"
// identity of a kind. After merges a customer may have several WhatsApp
// numbers or e-mail addresses; the reply goes to:
//
//  1. the identity the customer last wrote from in this conversation
//     (conversations.last_identity_id, set by ingest), for its kind;
//  2. otherwise the identities of the customer who started the
//     conversation: for a conversation a merge brought in, those the same
//     merge brought in; for the survivor's own, its own.
//
// Within each kind group (phone and WhatsApp numbers are one group), other
// identities are dropped only when a preferred one exists; the profile's
// email and phone follow the preferred identity.
func (s *Service) ForReply(ctx context.Context, workspaceID string, c Customer, conversationID string) (Customer, error) {
	r := s.db.Reader()
	var pref []string
	var live int
	if err := r.QueryRow(ctx, q.Get(r.Dialect(), "merge-has-live"), workspaceID, c.ID).Scan(&live); err != nil {
		return c, err
	}
	if live > 0 {
		var err error
		if pref, err = s.originIdentities(ctx, r, workspaceID, c, conversationID); err != nil {
			return c, err
		}
	}
	var last string
	err := r.QueryRow(ctx, q.Get(r.Dialect(), "conversation-last-identity"), workspaceID, conversationID).Scan(&last)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return c, err
	}
	if i := slices.IndexFunc(c.Identities, func(i Identity) bool { return i.ID == last }); i >= 0 {
		// The identity last written from wins in its group.
		g := replyGroup(c.Identities[i].Kind)
		pref = slices.DeleteFunc(pref, func(id string) bool {
			j := slices.IndexFunc(c.Identities, func(i Identity) bool { return i.ID == id })
			return j >= 0 && replyGroup(c.Identities[j].Kind) == g
		})
		pref = append(pref, last)
	}
	if len(pref) == 0 {
		return c, nil
	}
	return c.PreferIdentities(pref), nil
}

// originIdentities returns the ids of c's identities that came from the
// same customer as the conversation.
func (s *Service) originIdentities(ctx context.Context, r store.Querier, workspaceID string, c Customer, conversationID string) ([]string, error) {
	rows, err := r.Query(ctx, q.Get(r.Dialect(), "merge-origins"), workspaceID, c.ID, conversationID)
	if err != nil {
		return nil, fmt.Errorf("reply identities: %w", err)
	}
	defer rows.Close()
	// Rows come oldest merge first: the first merge that moved a thing
	// tells whose it was.
	origin := map[string]string{}
	convOrigin := ""
	for rows.Next() {
		var mergedID, mergeID, kind, item string
		var at int64
		if err := rows.Scan(&mergedID, &at, &mergeID, &kind, &item); err != nil {
			return nil, err
		}
		switch kind {
		case itemIdentity:
			if _, ok := origin[item]; !ok {
				origin[item] = mergedID
			}
		case itemConversation:
			if convOrigin == "" {
				convOrigin = mergedID
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if convOrigin == "" {
		convOrigin = c.ID
	}
	var out []string
	for _, id := range c.Identities {
		o, ok := origin[id.ID]
		if !ok {
			o = c.ID
		}
		if o == convOrigin {
			out = append(out, id.ID)
		}
	}
	return out, nil
}

// replyGroup puts identity kinds that reach the same thing together: a
// phone number and a WhatsApp number are both numbers.
func replyGroup(kind string) string {
	if kind == KindWhatsApp {
		return KindPhone
	}
	return kind
}

// PreferIdentities returns c with, in every kind group holding one of the
// ids, only the identities whose id is in ids; other groups stay. The
// profile email and phone follow a preferred identity of that group.
func (c Customer) PreferIdentities(ids []string) Customer {
	groups := map[string]bool{}
	for _, id := range c.Identities {
		if slices.Contains(ids, id.ID) {
			groups[replyGroup(id.Kind)] = true
		}
	}
	if len(groups) == 0 {
		return c
	}
	kept := make([]Identity, 0, len(c.Identities))
	email, phone := "", ""
	for _, id := range c.Identities {
		g := replyGroup(id.Kind)
		if groups[g] && !slices.Contains(ids, id.ID) {
			continue
		}
		kept = append(kept, id)
		if !groups[g] {
			continue
		}
		switch {
		case g == KindEmail && email == "":
			email = id.Value
		case g == KindPhone && phone == "":
			phone = id.Normalized
		}
	}
	c.Identities = kept
	if email != "" {
		c.Email = email
	}
	if phone != "" {
		c.Phone = phone
	}
	return c
}

func actorKind(a event.Actor) string {
	if a.Kind == "" {
		return event.ActorSystem
	}
	return a.Kind
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
