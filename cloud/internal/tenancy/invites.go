package tenancy

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// Invite describes a person to invite into OrgID (default: the actor's).
type Invite struct {
	Email  string
	Name   string
	RoleID RoleID
	OrgID  OrgID
	Phone  string
	Locale string
}

// InviteResult is a created invitation; the caller mails Token.
type InviteResult struct {
	User       User
	Invitation Invitation
	Token      string
}

// InviteUser creates a Pending user and an invitation valid InviteTTL
// (USERS_INVITE). An email that already has an account is Conflict
// "already in use"; the (InvitesPerDay+1)th invite from the actor's org in
// 24 hours is LimitReached.
func (s *Service) InviteUser(ctx context.Context, a Actor, in Invite) (InviteResult, error) {
	if in.OrgID == 0 {
		in.OrgID = a.OrgID
	}
	if err := s.decide(a, UsersInvite, OrgResource(in.OrgID), "organization"); err != nil {
		return InviteResult{}, err
	}
	var res InviteResult
	err := s.atomic(ctx, "invite", func(tx Tx) error {
		var err error
		res, err = s.invite(ctx, tx, a, in)
		return err
	})
	return res, err
}

func (s *Service) invite(ctx context.Context, tx Tx, a Actor, in Invite) (InviteResult, error) {
	email, err := normEmail(in.Email)
	if err != nil {
		return InviteResult{}, err
	}
	name := strings.TrimSpace(in.Name)
	if err := validName("name", name, 1, 100); err != nil {
		return InviteResult{}, err
	}
	if in.RoleID == 0 {
		return InviteResult{}, invalid("roleId is required")
	}
	if err := s.roleExists(ctx, tx, in.OrgID, in.RoleID); err != nil {
		return InviteResult{}, invalid("role %d is not allowed", in.RoleID)
	}
	if err := s.assignable(a, in.OrgID, in.RoleID); err != nil {
		return InviteResult{}, err
	}
	now := s.now().UTC()
	n, err := tx.CountInvitations(ctx, a.OrgID, now.Add(-24*time.Hour))
	if err != nil {
		return InviteResult{}, err
	}
	if n >= s.cfg.InvitesPerDay {
		return InviteResult{}, Errorf(LimitReached, "invitation limit reached (%d per day)", s.cfg.InvitesPerDay)
	}
	tok, err := s.newSecret("inv_", 40)
	if err != nil {
		return InviteResult{}, err
	}
	u := User{OrgID: in.OrgID, RoleID: in.RoleID, Email: email, Name: name, Phone: in.Phone, Locale: in.Locale,
		Type: UserEndUser, Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateUser(ctx, &u); err != nil {
		if errIs(err, Conflict) {
			return InviteResult{}, Errorf(Conflict, "email %s is already in use", email)
		}
		return InviteResult{}, err
	}
	inv := Invitation{UserID: u.ID, OrgID: in.OrgID, ByOrgID: a.OrgID, ByUserID: a.UserID, TokenHash: HashToken(tok),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL)}
	if err := tx.CreateInvitation(ctx, &inv); err != nil {
		return InviteResult{}, err
	}
	if err := s.audit(ctx, tx, a, in.OrgID, "user.invite", "user", u.ID, nil, u); err != nil {
		return InviteResult{}, err
	}
	return InviteResult{User: u, Invitation: inv, Token: tok}, nil
}

// ResendInvitation issues a fresh invitation to a user who never accepted
// one (USERS_INVITE in their org); it counts toward the daily limit. Older
// links stay valid until they expire.
func (s *Service) ResendInvitation(ctx context.Context, a Actor, id UserID) (InviteResult, error) {
	var res InviteResult
	err := s.atomic(ctx, "resend invitation", func(tx Tx) error {
		u, err := s.getUser(ctx, tx, a, id, UsersInvite)
		if err != nil {
			return err
		}
		if u.Status != StatusPending {
			return invalid("the user has already joined")
		}
		now := s.now().UTC()
		n, err := tx.CountInvitations(ctx, a.OrgID, now.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if n >= s.cfg.InvitesPerDay {
			return Errorf(LimitReached, "invitation limit reached (%d per day)", s.cfg.InvitesPerDay)
		}
		tok, err := s.newSecret("inv_", 40)
		if err != nil {
			return err
		}
		inv := Invitation{UserID: u.ID, OrgID: u.OrgID, ByOrgID: a.OrgID, ByUserID: a.UserID, TokenHash: HashToken(tok),
			CreatedAt: now, ExpiresAt: now.Add(s.cfg.InviteTTL)}
		if err := tx.CreateInvitation(ctx, &inv); err != nil {
			return err
		}
		res = InviteResult{User: u, Invitation: inv, Token: tok}
		return s.audit(ctx, tx, a, u.OrgID, "user.invite.resend", "user", u.ID, nil, nil)
	})
	return res, err
}

// AcceptInvitation sets the invitee's password; the user becomes Active
// and the token is spent. An unknown, used or expired token is Invalid.
func (s *Service) AcceptInvitation(ctx context.Context, token, password string) (User, error) {
	hash, err := s.hashPassword(password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.atomic(ctx, "accept invitation", func(tx Tx) error {
		now := s.now().UTC()
		inv, err := tx.GetInvitationByHash(ctx, HashToken(token))
		if errIs(err, NotFound) || (err == nil && (!inv.UsedAt.IsZero() || !now.Before(inv.ExpiresAt))) {
			return invalid("the invitation is invalid or has expired")
		}
		if err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, inv.UserID); err != nil {
			return err
		}
		if u.Status == StatusSuspended {
			return invalid("the invitation is invalid or has expired")
		}
		if err := tx.MarkInvitationUsed(ctx, inv.ID, now); err != nil {
			return err
		}
		before := u
		u.PasswordHash, u.Status, u.UpdatedAt, u.LastLoginAt = hash, StatusActive, now, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return s.audit(ctx, tx, Actor{UserID: u.ID, OrgID: u.OrgID, RoleID: u.RoleID}, u.OrgID, "user.invite.accept", "user", u.ID, before, u)
	})
	return u, err
}

// InviteRow is one parsed line of a CSV invitation file.
type InviteRow struct {
	Line  int // 1-based line in the file
	Email string
	Name  string
	Role  string // role name or numeric id; empty: User
	Phone string
}

// RowResult is the outcome for one row of a bulk invitation.
type RowResult struct {
	Line    int
	Email   string
	Created bool
	UserID  UserID
	Token   string // invitation token to mail (when Created)
	Code    Code   // when refused
	Error   string // when refused
}

// ImportReport lists every row's outcome, in file order.
type ImportReport struct {
	Rows            []RowResult
	Created, Failed int
}

// MaxCSVRows bounds a bulk invitation file.
const MaxCSVRows = 1000

// ParseInviteCSV reads "email,name[,role[,phone]]" rows. A header row
// naming the columns (any order) is recognized. Rows that cannot be read
// come back as refused results; they never stop the others.
func ParseInviteCSV(data []byte) ([]InviteRow, []RowResult) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	cols := map[string]int{"email": 0, "name": 1, "role": 2, "phone": 3}
	var rows []InviteRow
	var bad []RowResult
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				break // not a row problem: nothing more can be read
			}
			bad = append(bad, RowResult{Line: pe.StartLine, Code: Invalid, Error: "unreadable CSV row: " + pe.Err.Error()})
			if len(rows)+len(bad) > MaxCSVRows {
				break
			}
			continue
		}
		line, _ := r.FieldPos(0) // rec has at least one field when err is nil
		if first && isHeader(rec) {
			cols = map[string]int{}
			for i, h := range rec {
				cols[strings.ToLower(strings.TrimSpace(h))] = i
			}
			if _, ok := cols["email"]; !ok {
				bad = append(bad, RowResult{Line: line, Code: Invalid, Error: "header has no email column"})
				return nil, bad
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rows)+len(bad) >= MaxCSVRows {
			bad = append(bad, RowResult{Line: line, Code: LimitReached, Error: "too many rows (max " + strconv.Itoa(MaxCSVRows) + ")"})
			break
		}
		get := func(name string) string {
			if i, ok := cols[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, InviteRow{Line: line, Email: get("email"), Name: get("name"), Role: get("role"), Phone: get("phone")})
	}
	return rows, bad
}

func isHeader(rec []string) bool {
	for _, f := range rec {
		if strings.EqualFold(strings.TrimSpace(f), "email") {
			return true
		}
	}
	return false
}

// InviteCSV invites every row of a CSV file into org (USERS_INVITE), each
// row in its own transaction, and reports per row what was created and
// what was refused and why (§11.6).
func (s *Service) InviteCSV(ctx context.Context, a Actor, org OrgID, data []byte) (ImportReport, error) {
	if org == 0 {
		org = a.OrgID
	}
	if err := s.decide(a, UsersInvite, OrgResource(org), "organization"); err != nil {
		return ImportReport{}, err
	}
	rows, bad := ParseInviteCSV(data)
	roles, err := s.store.ListRoles(ctx, s.tree.Load().Root(org))
	if err != nil {
		return ImportReport{}, internal("list roles", err)
	}
	var rep ImportReport
	results := make([]RowResult, 0, len(rows)+len(bad))
	for _, row := range rows {
		rr := RowResult{Line: row.Line, Email: row.Email}
		role, ok := roleByNameOrID(roles, row.Role)
		if !ok {
			rr.Code, rr.Error = Invalid, "unknown role "+strconv.Quote(row.Role)
			results = append(results, rr)
			continue
		}
		var res InviteResult
		err := s.atomic(ctx, "invite", func(tx Tx) error {
			var err error
			res, err = s.invite(ctx, tx, a, Invite{Email: row.Email, Name: row.Name, RoleID: role, OrgID: org, Phone: row.Phone})
			return err
		})
		if err != nil {
			rr.Code, rr.Error = CodeOf(err), publicMessage(err)
		} else {
			rr.Created, rr.UserID, rr.Token = true, res.User.ID, res.Token
		}
		results = append(results, rr)
	}
	results = append(results, bad...)
	sortRows(results)
	for _, r := range results {
		if r.Created {
			rep.Created++
		} else {
			rep.Failed++
		}
	}
	rep.Rows = results
	return rep, nil
}

func roleByNameOrID(roles []Role, s string) (RoleID, bool) {
	if s == "" {
		return RoleUser, true
	}
	if n, err := strconv.Atoi(s); err == nil {
		for _, r := range roles {
			if int(r.ID) == n {
				return r.ID, true
			}
		}
		return 0, false
	}
	for _, r := range roles {
		if strings.EqualFold(r.Name, s) {
			return r.ID, true
		}
	}
	return 0, false
}

func sortRows(rs []RowResult) {
	for i := 1; i < len(rs); i++ { // insertion sort: rows are nearly sorted
		for j := i; j > 0 && rs[j].Line < rs[j-1].Line; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// publicMessage is the message of a coded error, or a generic one.
func publicMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}
