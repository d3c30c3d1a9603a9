package tenancy

import (
	"encoding/json"
	"time"

	"outpost/shared/datastream"
)

// Identifiers. Integers are assigned by the store; TemplateID keeps Blynk's
// "TMPL…" string form.
type (
	OrgID         int64
	UserID        int64
	DeviceID      int64
	StaticTokenID int64
	LocationID    int64
	TagID         int64
	InvitationID  int64
	SessionID     int64
	GatewayID     int64
	AuditID       int64
	TemplateID    string
	// RoleID numbers a role inside one tree: 1 Admin, 2 Staff, 3 User as in
	// Blynk's API, custom roles from 4.
	RoleID int
)

// Built-in roles; they exist in every tree.
const (
	RoleAdmin RoleID = 1
	RoleStaff RoleID = 2
	RoleUser  RoleID = 3
)

// MaxRoles is the most roles one tree may hold (§2: max 9).
const MaxRoles = 9

// OrgType is the API's organization type enum (§1).
type OrgType string

// Organization types.
const (
	OrgRoot        OrgType = "ROOT"
	OrgBusiness    OrgType = "BUSINESS"
	OrgPersonal    OrgType = "PERSONAL"
	OrgBranch      OrgType = "BRANCH"
	OrgDistributor OrgType = "DISTRIBUTOR"
	OrgContractor  OrgType = "CONTRACTOR"
	OrgInstaller   OrgType = "INSTALLER"
	OrgReseller    OrgType = "RESELLER"
)

// Valid reports whether t is one of the enum values.
func (t OrgType) Valid() bool {
	switch t {
	case OrgRoot, OrgBusiness, OrgPersonal, OrgBranch, OrgDistributor, OrgContractor, OrgInstaller, OrgReseller:
		return true
	}
	return false
}

// SpecialOrg marks the built-in group orgs that cannot be deleted.
type SpecialOrg string

// Special orgs.
const (
	SpecialNone     SpecialOrg = ""
	SpecialClients  SpecialOrg = "clients"
	SpecialPartners SpecialOrg = "partners"
)

// Address is a postal address (orgs, locations).
type Address struct {
	Full    string `json:"fullAddress,omitempty"`
	City    string `json:"city,omitempty"`
	Country string `json:"country,omitempty"`
	State   string `json:"state,omitempty"`
	Zip     string `json:"zip,omitempty"`
}

// Org is an organization. Depth is 1 for a root.
type Org struct {
	ID           OrgID
	ParentID     OrgID // 0 for a root
	RootID       OrgID // the tree's root (itself for a root)
	Depth        int
	Name         string
	Description  string
	Type         OrgType
	Special      SpecialOrg
	CanCreateSub bool // "Can create Sub-Organizations" (§11.5)
	TZ           string
	Phone        string
	UnitSystem   string // IMPERIAL or METRIC
	Address      Address
	Active       bool
	// HistoryRetentionDays keeps the raw datastream history of this
	// organization's devices and those below it at most this many days
	// (0: no bound of its own). The shortest bound of the org and its
	// ancestors applies, and the cloud's store.history_retention bounds
	// them all.
	HistoryRetentionDays int
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// UserType is not a role: developer, end-user, partner (§3).
type UserType string

// User types.
const (
	UserDeveloper UserType = "developer"
	UserEndUser   UserType = "end-user"
	UserPartner   UserType = "partner"
)

// UserStatus is the stored status; Inactive is derived (see User.StatusAt).
type UserStatus string

// User statuses.
const (
	StatusPending   UserStatus = "pending"   // invited, never logged in
	StatusActive    UserStatus = "active"    // logged in at least once
	StatusInactive  UserStatus = "inactive"  // active but idle ≥ 1 month; can still log in
	StatusSuspended UserStatus = "suspended" // cannot log in or use tokens
)

// User is a person with one home organization and one role there.
type User struct {
	ID           UserID
	OrgID        OrgID
	RoleID       RoleID
	Email        string // unique, lower-cased, immutable after creation
	Name         string
	Title        string
	Nick         string
	Phone        string
	TZ           string
	Locale       string
	Type         UserType
	Status       UserStatus // stored status: pending, active or suspended
	IsDev        bool       // developer mode; requires Admin
	PasswordHash string     // opaque, produced by the PasswordHasher
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  time.Time // zero if never
}

// StatusAt is the status to show at now: an active user idle for longer
// than idle shows Inactive.
func (u User) StatusAt(now time.Time, idle time.Duration) UserStatus {
	if u.Status == StatusActive && !u.LastLoginAt.IsZero() && now.Sub(u.LastLoginAt) >= idle {
		return StatusInactive
	}
	return u.Status
}

// Role is hierarchy-wide: name and id are shared by every org of a tree.
type Role struct {
	RootID  OrgID
	ID      RoleID
	Name    string
	BuiltIn bool
}

// RolePerms is the permission set of one role in one org.
type RolePerms struct {
	OrgID  OrgID
	RoleID RoleID
	Perms  PermSet
}

// Template is a device template created in a root org and enabled per org.
type Template struct {
	ID             TemplateID
	RootID         OrgID // the root org it was created in
	Def            datastream.Template
	Description    string
	BoardType      string
	ConnectionType string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TokenLen is the length of a device AuthToken.
const TokenLen = 32

// Device belongs to exactly one org and has at most one owner.
type Device struct {
	ID DeviceID
	// UID is the device's ULID, the identity the cloud and its gateways
	// share (syncproto); assigned at creation and never changed.
	UID        string
	OrgID      OrgID
	OwnerID    UserID // 0: no owner
	TemplateID TemplateID
	Name       string
	// TokenHash is SHA-256 of the AuthToken, the lookup key for device
	// authentication. Token is kept because Blynk's API shows it to callers
	// allowed to see the device; the gateway only ever receives the hash.
	TokenHash   [32]byte
	Token       string
	StaticToken StaticTokenID // 0 unless provisioned by a static token
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ActivatedAt time.Time  // first report through a gateway (set by the telemetry store's Apply); zero if never
	LocationID  LocationID // 0: none (SetDeviceLocation)
}

// StaticTokenStatus is CLAIMED or UNCLAIMED (§8).
type StaticTokenStatus string

// Static token statuses.
const (
	Unclaimed StaticTokenStatus = "UNCLAIMED"
	Claimed   StaticTokenStatus = "CLAIMED"
)

// StaticToken pairs a flashed AuthToken with a QR token used to claim it.
// Its device exists from creation, unclaimed, in the creating org.
type StaticToken struct {
	ID           StaticTokenID
	QR           string // "sqr_…", unique; the claim secret printed as QR
	OrgID        OrgID  // creating org; only it may disclaim
	TemplateID   TemplateID
	DeviceID     DeviceID
	Status       StaticTokenStatus
	OwnerID      UserID // claimer, 0 while unclaimed
	ClaimedOrgID OrgID  // 0 while unclaimed
	CreatedAt    time.Time
	ClaimedAt    time.Time
}

// Location is owned by a user (OwnerID != 0) or by the org.
type Location struct {
	ID        LocationID
	OrgID     OrgID
	OwnerID   UserID // 0: an organization location
	Name      string // ≤ 48
	Address   Address
	Lat, Lon  float64
	Users     []UserID // assigned users
	CreatedAt time.Time
}

// Tag labels devices and users; ≤ 20 per org, ≤ 5 per device (§6).
type Tag struct {
	ID      TagID
	OrgID   OrgID
	Name    string
	OwnerID UserID
}

// Tag limits (§6).
const (
	MaxTagsPerOrg    = 20
	MaxTagsPerDevice = 5
	MaxTagsPerUser   = 5
)

// Invitation is a pending user's way in: a single-use token valid 30 days.
type Invitation struct {
	ID        InvitationID
	UserID    UserID
	OrgID     OrgID // where the user was invited
	ByOrgID   OrgID // the inviter's home org (counts toward its daily limit)
	ByUserID  UserID
	TokenHash [32]byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// PasswordReset is a single-use password reset token.
type PasswordReset struct {
	TokenHash [32]byte
	UserID    UserID
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Session is a person's login; the bearer holds the token, we keep its hash.
type Session struct {
	ID         SessionID
	TokenHash  [32]byte
	UserID     UserID
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
	RemoteAddr string
	UserAgent  string
}

// OAuthClient acts for the org it was created in and its descendants.
type OAuthClient struct {
	ID           string // client_id, public
	OrgID        OrgID
	Name         string // ≤ 64
	SecretHash   [32]byte
	RedirectURLs []string // ≤ 11
	CreatedBy    UserID
	CreatedAt    time.Time
}

// AccessToken is a bearer token issued to an OAuth client.
type AccessToken struct {
	TokenHash [32]byte
	ClientID  string
	OrgID     OrgID
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// RefreshToken is single-use: redeeming it marks it used.
type RefreshToken struct {
	TokenHash [32]byte
	ClientID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
}

// Gateway is an Outpost edge site (§11.8), claimed into one org.
type Gateway struct {
	ID            GatewayID
	OrgID         OrgID // 0 until claimed
	Name          string
	ClaimCodeHash [32]byte
	// CredentialHash is the SHA-256 of the gateway's bearer credential
	// (issued at registration); zero once revoked by a release.
	CredentialHash [32]byte
	CreatedAt      time.Time
	ClaimedAt      time.Time
	// ClaimExpiresAt ends the claim code's validity (Config.ClaimCodeTTL
	// after it was issued); RenewClaimCode issues a new one.
	ClaimExpiresAt time.Time
}

// AuditEntry records one change to tenancy (§11.9).
type AuditEntry struct {
	ID         AuditID
	At         time.Time
	OrgID      OrgID  // the org the change happened in
	UserID     UserID // acting user, 0 if none
	ClientID   string // acting OAuth client, "" if none
	Action     string // e.g. "device.transfer"
	ObjectType string // "org", "user", "device", …
	ObjectID   string
	Before     json.RawMessage // nil when created
	After      json.RawMessage // nil when deleted
}

// Page selects a page of a list. Blynk's API numbers pages from 0 with size
// 1..1000 (default 50). After, when set, is a keyset cursor (the last id of
// the previous page) and takes precedence over Number; stores use it to
// avoid OFFSET scans.
type Page struct {
	Number int
	Size   int
	After  int64
}

// Page size limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Normalize checks the page and fills the default size.
func (p Page) Normalize() (Page, error) {
	if p.Size == 0 {
		p.Size = DefaultPageSize
	}
	if p.Size < 1 || p.Size > MaxPageSize {
		return p, invalid("size must be between 1 and %d", MaxPageSize)
	}
	if p.Number < 0 || p.After < 0 {
		return p, invalid("page must not be negative")
	}
	return p, nil
}

// Offset is the number of items skipped when After is not set.
func (p Page) Offset() int { return p.Number * p.Size }

// List is one page of results. Next is the keyset cursor for the following
// page (0 when there is none).
type List[T any] struct {
	Items []T
	Total int
	Next  int64
}
