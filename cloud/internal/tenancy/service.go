package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PasswordHasher hashes and checks passwords (bcrypt or argon2id, chosen by
// the caller). Hash output is stored as is.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify returns nil when password matches hash, any error otherwise.
	Verify(hash, password string) error
}

// Notification is sent to a person when something happens to them or
// their devices (device transfer notifies both parties, §4).
type Notification struct {
	UserID   UserID
	Kind     string // "device.transferred.in", "device.transferred.out", "user.transferred"
	DeviceID DeviceID
	Message  string
}

// Notifier delivers notifications (mail, in-app events). Failures are the
// notifier's to log; they never undo the change.
type Notifier interface {
	Notify(ctx context.Context, n Notification)
}

// Config holds the tunables. New gives a zero field DefaultConfig's value
// (tests and library callers set only what they test); the cloud's config
// starts from DefaultConfig, so each default is written once.
type Config struct {
	MaxDepth        int           // org tree depth, root = 1
	InvitesPerDay   int           // per inviting org
	InviteTTL       time.Duration // an invitation's lifetime
	ResetTTL        time.Duration // a password reset token's lifetime
	SessionTTL      time.Duration // a login session's lifetime
	AccessTokenTTL  time.Duration // an OAuth access token's lifetime
	RefreshTokenTTL time.Duration // an OAuth refresh token's lifetime
	InactiveAfter   time.Duration // idle time after which a user shows Inactive
	MinPassword     int           // shortest accepted password
	ClaimCodeTTL    time.Duration // a gateway's claim code lifetime
}

// DefaultConfig is the one table of the tenancy's defaults.
func DefaultConfig() Config {
	day := 24 * time.Hour
	return Config{MaxDepth: 4, InvitesPerDay: 25, InviteTTL: 30 * day, ResetTTL: time.Hour, SessionTTL: 30 * day,
		AccessTokenTTL: day, RefreshTokenTTL: day, InactiveAfter: 30 * day, MinPassword: 8, ClaimCodeTTL: day}
}

// withDefaults gives each zero (or negative) field DefaultConfig's value.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = d.MaxDepth
	}
	if c.InvitesPerDay <= 0 {
		c.InvitesPerDay = d.InvitesPerDay
	}
	if c.MinPassword <= 0 {
		c.MinPassword = d.MinPassword
	}
	orDefault(&c.InviteTTL, d.InviteTTL)
	orDefault(&c.ResetTTL, d.ResetTTL)
	orDefault(&c.SessionTTL, d.SessionTTL)
	orDefault(&c.AccessTokenTTL, d.AccessTokenTTL)
	orDefault(&c.RefreshTokenTTL, d.RefreshTokenTTL)
	orDefault(&c.InactiveAfter, d.InactiveAfter)
	orDefault(&c.ClaimCodeTTL, d.ClaimCodeTTL)
	return c
}

// LoginGuard slows down password guessing per client address and per
// account (ratelimit.LoginGuard). account is the normalized email; ""
// counts against the address only.
type LoginGuard interface {
	// Wait is how long an attempt must wait; zero lets it go ahead.
	Wait(addr, account string) time.Duration
	Failed(addr, account string)
	Succeeded(addr, account string)
}

// Deps are the Service's collaborators. Store and Hasher are required.
type Deps struct {
	Store    Store
	Hasher   PasswordHasher
	Notifier Notifier         // nil: notifications dropped
	Now      func() time.Time // nil: time.Now
	Rand     io.Reader        // nil: crypto/rand
	Logger   *slog.Logger     // nil: discard
	// Guard throttles failed logins (nil: no throttling).
	Guard LoginGuard
	// OnChange is called after every committed audited change (nil: none)
	// with what it touched; the cloud uses it to push tenancy deltas to
	// the gateways whose view it may have altered (ViewsTouched). It runs
	// on the caller's goroutine after the commit (with the org tree's
	// lock held for org changes): it may read the store, not write it.
	OnChange func(Change)
	// Revoked is called after an unaudited revocation of credentials
	// committed (a logout, a logout everywhere), on the caller's goroutine
	// (nil: none); audited revocations (suspend, password reset, a deleted
	// OAuth client) call OnChange. The cloud empties the bearer caches of
	// every instance. It must not block.
	Revoked func()
	// Audited is given the audit entries of a committed change of a
	// single object (a device created, transferred, renamed…), after the
	// commit, on the caller's goroutine (nil: none); the cloud turns
	// device creations and transfers into webhook triggers. Changes of
	// the org tree and permissions are passed too, once the tree shows
	// them, while the tree is held (keep the call short).
	Audited func(ctx context.Context, entries []AuditEntry)
}

// Service performs every tenancy operation for an Actor, checking
// authorization with Decide over an in-memory Tree and recording each
// change in the audit log in the same transaction as the change.
type Service struct {
	store  Store
	hasher PasswordHasher
	notify Notifier
	guard  LoginGuard
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger
	cfg    Config
	// onChange is Deps.OnChange.
	onChange func(Change)
	// revoked is Deps.Revoked.
	revoked func()
	// audited is Deps.Audited.
	audited func(ctx context.Context, entries []AuditEntry)

	// dummyHash is verified against when an email is unknown, so a failed
	// login takes as long whether or not the account exists.
	dummyHash string

	tree   atomic.Pointer[Tree]
	treeMu sync.Mutex // serializes rebuilds so the newest committed state wins
}

// New builds a Service and loads the tree snapshot from the store.
func New(ctx context.Context, d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Hasher == nil {
		return nil, errors.New("tenancy: Store and Hasher are required")
	}
	s := &Service{store: d.Store, hasher: d.Hasher, notify: d.Notifier, guard: d.Guard, now: d.Now, rand: d.Rand, log: d.Logger, cfg: cfg.withDefaults(),
		onChange: d.OnChange, audited: d.Audited, revoked: d.Revoked}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "tenancy")
	var err error
	if s.dummyHash, err = s.hasher.Hash("not a password of anyone"); err != nil {
		return nil, fmt.Errorf("tenancy: hash: %w", err)
	}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Tree returns the current snapshot.
func (s *Service) Tree() *Tree { return s.tree.Load() }

// Reload rebuilds the tree snapshot from the store. Writes through the
// Service keep it current themselves; call it after changing the store
// directly.
func (s *Service) Reload(ctx context.Context) error {
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	return s.reloadLocked(ctx)
}

func (s *Service) reloadLocked(ctx context.Context) error {
	orgs, err := s.store.AllOrgs(ctx)
	if err != nil {
		return internal("load orgs", err)
	}
	perms, err := s.store.AllRolePerms(ctx)
	if err != nil {
		return internal("load permissions", err)
	}
	s.tree.Store(NewTree(orgs, perms))
	return nil
}

// Decide checks an action against the current snapshot (see Decide).
func (s *Service) Decide(a Actor, p Permission, r Resource) error {
	return Decide(s.tree.Load(), a, p, r)
}

// atomic runs fn in a store transaction and maps uncoded errors to
// Internal. Use atomicTree when fn changes orgs or permissions.
func (s *Service) atomic(ctx context.Context, op string, fn func(tx Tx) error) error {
	var entries []AuditEntry
	var ch Change
	err := s.store.Atomic(ctx, func(tx Tx) error {
		atx := &auditingTx{Tx: tx}
		err := fn(atx)
		entries, ch = atx.entries, atx.change
		return err
	})
	if err != nil {
		return internal(op, err)
	}
	if len(entries) > 0 {
		s.changed(ch)
		s.tellAudited(ctx, entries)
	}
	return nil
}

// auditingTx keeps what a transaction appended to the audit log, and
// what that touched of the gateways' views (audit notes it).
type auditingTx struct {
	Tx
	entries []AuditEntry
	change  Change
}

func (t *auditingTx) AppendAudit(ctx context.Context, e *AuditEntry) error {
	if err := t.Tx.AppendAudit(ctx, e); err != nil {
		return err
	}
	t.entries = append(t.entries, *e)
	return nil
}

// tellAudited passes committed entries to Deps.Audited.
func (s *Service) tellAudited(ctx context.Context, entries []AuditEntry) {
	if s.audited != nil && len(entries) > 0 {
		s.audited(ctx, entries)
	}
}

// changed tells Deps.OnChange that an audited transaction committed. An
// unaudited one (a login, a token issued, a first connection) leaves
// every gateway view's Version as it was, so gateways would get nothing
// from a refresh: they are not woken, which with many sites connected
// would cost a view read per gateway for every login.
func (s *Service) changed(c Change) {
	if s.onChange != nil {
		s.onChange(c)
	}
}

// tellRevoked tells Deps.Revoked that credentials were revoked.
func (s *Service) tellRevoked() {
	if s.revoked != nil {
		s.revoked()
	}
}

// treeEdit collects what a transaction changed in the tree snapshot.
type treeEdit struct {
	orgs    []Org // inserted or replaced
	deleted []OrgID
	perms   []RolePerms
	reload  bool // too much changed: rebuild from the store
}

// atomicTree is atomic for changes to orgs or permissions. It holds treeMu
// across the transaction so snapshots are patched in commit order, then
// patches the snapshot in memory (no store round trip).
func (s *Service) atomicTree(ctx context.Context, op string, fn func(tx Tx, ed *treeEdit) error) error {
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	var ed treeEdit
	var entries []AuditEntry
	var ch Change
	err := s.store.Atomic(ctx, func(tx Tx) error {
		ed = treeEdit{}
		atx := &auditingTx{Tx: tx}
		err := fn(atx, &ed)
		entries, ch = atx.entries, atx.change
		return err
	})
	if err != nil {
		return internal(op, err)
	}
	ch.Tree = true
	defer s.changed(ch)
	// Deps.Audited sees the tree as the change left it (an organization
	// transferred is under its new parent).
	defer s.tellAudited(ctx, entries)
	if ed.reload {
		return s.reloadLocked(ctx)
	}
	s.tree.Store(s.tree.Load().apply(&ed))
	return nil
}

// audit appends an entry for a change made by a in org.
func (s *Service) audit(ctx context.Context, tx Tx, a Actor, org OrgID, action, objType string, objID any, before, after any) error {
	e := AuditEntry{
		At: s.now().UTC(), OrgID: org, UserID: a.UserID, ClientID: a.ClientID,
		Action: action, ObjectType: objType, ObjectID: fmt.Sprint(objID),
		Before: auditJSON(before), After: auditJSON(after),
	}
	if err := tx.AppendAudit(ctx, &e); err != nil {
		return err
	}
	if atx, ok := tx.(*auditingTx); ok {
		atx.change.note(s.tree.Load(), org, action, objType, objID, before, after)
	}
	return nil
}

func auditJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	// The API's own shapes (wire.go), never Go field names; secrets and
	// their hashes are not part of any of them.
	switch x := v.(type) {
	case Org:
		v = APIOrg(x)
	case User:
		v = APIUser(x)
	case Device:
		x.Token = "" // the AuthToken is a secret: the log does not keep it
		v = APIDevice(x)
	case StaticToken:
		st := APIStaticToken(x)
		st.Token, st.QRPayload = "", "" // the QR is the claim secret
		v = st
	case Location:
		v = APILocation(x)
	case Tag:
		v = APITag(x)
	case Gateway:
		v = APIGateway(x)
	case OAuthClient:
		v = APIOAuthClient(x)
	case Template:
		v = APITemplate(x)
	case Role:
		v = RoleJSON{ID: x.ID, Name: x.Name, BuiltIn: x.BuiltIn, OrgID: x.RootID}
	case map[string]any, map[string]int, map[string]bool, []TagID:
	default:
		// A new audited type must get its API shape above first.
		return json.RawMessage(strconv.Quote(fmt.Sprintf("unshaped %T", v)))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(strconv.Quote(err.Error()))
	}
	return b
}

func (s *Service) notifyUser(ctx context.Context, n Notification) {
	if s.notify != nil && n.UserID != 0 {
		s.notify.Notify(ctx, n)
	}
}

// HashToken is how every bearer secret (session, access, refresh, invite,
// reset, device, claim code) is stored and looked up.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns a random token of n base32 characters with a prefix.
func (s *Service) newSecret(prefix string, n int) (string, error) {
	b := make([]byte, (n*5+7)/8)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", internal("random", err)
	}
	return prefix + strings.ToLower(tokenEncoding.EncodeToString(b))[:n], nil
}

// newDeviceToken returns a 32-character AuthToken like Blynk's.
func (s *Service) newDeviceToken() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, TokenLen)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", internal("random", err)
	}
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b), nil
}

// scopeCheck returns NotFound unless org lies in the actor's reach.
func (s *Service) scopeCheck(a Actor, org OrgID, what string) error {
	if !s.tree.Load().InScope(a, org) {
		return notFound(what)
	}
	return nil
}

// decide is Decide with a domain-specific not-found message.
func (s *Service) decide(a Actor, p Permission, r Resource, what string) error {
	err := Decide(s.tree.Load(), a, p, r)
	if CodeOf(err) == NotFound {
		return notFound(what)
	}
	return err
}

// errIs reports whether err carries code.
func errIs(err error, code Code) bool { return CodeOf(err) == code }
