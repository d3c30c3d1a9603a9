package tenancy

import (
	"context"
	"time"
)

// Store persists tenancy; it is the source of truth (the Service's
// in-memory tree is a cache of it). Every method of Tx is atomic on its own;
// Atomic runs several in one transaction.
//
// Contract common to all methods (checked by tenancytest):
//   - a missing row is an *Error with Code NotFound;
//   - a unique violation (user email, org name among siblings, static-token
//     QR, OAuth client id, tag name in an org) is Code Conflict;
//   - Create* methods assign the integer ID into the struct they are given;
//   - times round-trip with at least millisecond precision, in UTC.
type Store interface {
	Tx
	// Atomic runs fn in one transaction: all of its writes commit or none
	// do. fn must use the Tx it is given, not the Store.
	Atomic(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Tx is what one transaction (or the store itself) can do.
type Tx interface {
	// Organizations. CreateOrg derives Depth and RootID from ParentID (a
	// missing parent is NotFound), sets them in o and maintains the closure.
	CreateOrg(ctx context.Context, o *Org) error
	UpdateOrg(ctx context.Context, o Org) error // not ParentID/Depth/RootID: see MoveOrg
	DeleteOrg(ctx context.Context, id OrgID) error
	GetOrg(ctx context.Context, id OrgID) (Org, error)
	AllOrgs(ctx context.Context) ([]Org, error) // every org, for the in-memory tree
	ListOrgs(ctx context.Context, f OrgFilter) (List[Org], error)
	// Descendants returns id and every org below it (from the closure).
	Descendants(ctx context.Context, id OrgID) ([]OrgID, error)
	// MoveOrg re-parents id with its whole subtree in one step: closure
	// rows, parent link, depth and root of every moved org.
	MoveOrg(ctx context.Context, id, newParent OrgID) error
	// OrgUsage counts what blocks a deletion.
	OrgUsage(ctx context.Context, id OrgID) (OrgUsage, error)
	// OrgCounts counts the devices and users each org of s holds directly
	// (Children is left 0), one entry per org in s: the console's org
	// tree in one query.
	OrgCounts(ctx context.Context, s Scope) (map[OrgID]OrgUsage, error)

	// Users. Email is unique across the store (Conflict).
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, id UserID) error
	GetUser(ctx context.Context, id UserID) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) (List[User], error)

	// Roles (per tree) and their permissions (per org).
	CreateRole(ctx context.Context, r Role) error
	UpdateRole(ctx context.Context, r Role) error
	DeleteRole(ctx context.Context, root OrgID, id RoleID) error // also drops its RolePerms
	ListRoles(ctx context.Context, root OrgID) ([]Role, error)   // ordered by ID
	SetRolePerms(ctx context.Context, rp RolePerms) error        // upsert
	ListRolePerms(ctx context.Context, org OrgID) ([]RolePerms, error)
	AllRolePerms(ctx context.Context) ([]RolePerms, error)
	// ReassignRole moves every user of the tree holding role from to role to.
	ReassignRole(ctx context.Context, root OrgID, from, to RoleID) (int, error)

	// Templates, and where they are enabled.
	CreateTemplate(ctx context.Context, t Template) error
	UpdateTemplate(ctx context.Context, t Template) error
	DeleteTemplate(ctx context.Context, id TemplateID) error
	GetTemplate(ctx context.Context, id TemplateID) (Template, error)
	ListTemplates(ctx context.Context, f TemplateFilter) (List[Template], error)
	SetTemplateEnabled(ctx context.Context, org OrgID, id TemplateID, enabled bool) error
	TemplateEnabled(ctx context.Context, org OrgID, id TemplateID) (bool, error)
	// TemplateOrgs tells which gateways' views hold a template: the
	// orgs where it is enabled and those whose subtree (the org
	// included) holds a device of it, each in id order; empty for a
	// template no org has. Its cost is that of the orgs it returns
	// (indexed by template), not of the tree or of the devices.
	TemplateOrgs(ctx context.Context, id TemplateID) (TemplateOrgs, error)

	// Devices. TokenHash is unique (Conflict).
	CreateDevice(ctx context.Context, d *Device) error
	UpdateDevice(ctx context.Context, d Device) error
	DeleteDevice(ctx context.Context, id DeviceID) error
	GetDevice(ctx context.Context, id DeviceID) (Device, error)
	GetDeviceByTokenHash(ctx context.Context, h [32]byte) (Device, error)
	// GetDeviceByUID finds a device by its ULID (NotFound if none).
	GetDeviceByUID(ctx context.Context, uid string) (Device, error)
	// DeviceUIDDeleted reports whether a device with this UID existed and
	// was deleted: merge-up must not bring it back from a gateway.
	DeviceUIDDeleted(ctx context.Context, uid string) (bool, error)
	// ListDevices is one indexed query with keyset pagination on ID; it
	// honours Scope, OwnerID, TemplateID and Query.
	ListDevices(ctx context.Context, f DeviceFilter) (List[Device], error)
	// ListDeviceRows answers the console's device list: every filter of f,
	// ordered by (Sort, id), Desc reversing the whole order, starting
	// after f.After; at most f.Page.Size rows, More when others follow.
	// Total counts every match unless SkipTotal.
	ListDeviceRows(ctx context.Context, f DeviceFilter) (DevicePage, error)
	// ClearOwner removes owner from every device it owns.
	ClearOwner(ctx context.Context, owner UserID) (int, error)

	// Static tokens. QR is unique (Conflict).
	CreateStaticToken(ctx context.Context, st *StaticToken) error
	UpdateStaticToken(ctx context.Context, st StaticToken) error
	DeleteStaticToken(ctx context.Context, id StaticTokenID) error
	GetStaticToken(ctx context.Context, id StaticTokenID) (StaticToken, error)
	GetStaticTokenByQR(ctx context.Context, qr string) (StaticToken, error)
	ListStaticTokens(ctx context.Context, f StaticTokenFilter) (List[StaticToken], error)

	// Locations (Users round-trips the assignment).
	CreateLocation(ctx context.Context, l *Location) error
	UpdateLocation(ctx context.Context, l Location) error // every field but ID and CreatedAt
	DeleteLocation(ctx context.Context, id LocationID) error
	GetLocation(ctx context.Context, id LocationID) (Location, error)
	ListLocations(ctx context.Context, f LocationFilter) (List[Location], error)

	// Tags. Name is unique per org (Conflict).
	CreateTag(ctx context.Context, t *Tag) error
	DeleteTag(ctx context.Context, id TagID) error
	RenameTag(ctx context.Context, id TagID, name string) error // NotFound; Conflict when the org has the name
	GetTag(ctx context.Context, id TagID) (Tag, error)
	ListTags(ctx context.Context, org OrgID) ([]Tag, error)
	SetDeviceTags(ctx context.Context, d DeviceID, tags []TagID) error
	DeviceTags(ctx context.Context, d DeviceID) ([]Tag, error)
	// SetUserTags replaces a user's tags (NotFound if the user is
	// missing); UserTags lists the tags of each of users that has any, in
	// tag id order. Deleting a user or a tag drops the assignment.
	SetUserTags(ctx context.Context, u UserID, tags []TagID) error
	UserTags(ctx context.Context, users []UserID) (map[UserID][]Tag, error)

	// Device metadata set by people. SetDeviceMeta upserts by (device,
	// name) (NotFound if the device is missing); DeviceMeta lists a
	// device's values by name; SubtreeDeviceMeta every value of the
	// devices in org's subtree, by device (for a gateway's view). Deleting
	// a device deletes its values.
	SetDeviceMeta(ctx context.Context, d DeviceID, m DeviceMeta) error
	DeviceMeta(ctx context.Context, d DeviceID) ([]DeviceMeta, error)
	SubtreeDeviceMeta(ctx context.Context, org OrgID) (map[DeviceID][]DeviceMeta, error)

	// Invitations and password resets (token hashes only).
	CreateInvitation(ctx context.Context, inv *Invitation) error
	GetInvitationByHash(ctx context.Context, h [32]byte) (Invitation, error)
	MarkInvitationUsed(ctx context.Context, id InvitationID, at time.Time) error
	// CountInvitations counts invitations sent by org's members since.
	CountInvitations(ctx context.Context, byOrg OrgID, since time.Time) (int, error)
	CreatePasswordReset(ctx context.Context, r PasswordReset) error
	// UsePasswordReset marks an unused, unexpired reset used and returns
	// it; otherwise NotFound. Single use holds under concurrency.
	UsePasswordReset(ctx context.Context, h [32]byte, now time.Time) (PasswordReset, error)

	// Sessions.
	CreateSession(ctx context.Context, s *Session) error
	GetSessionByHash(ctx context.Context, h [32]byte) (Session, error)
	RevokeSession(ctx context.Context, id SessionID, at time.Time) error
	// RevokeUserSessions revokes every live session of the user.
	RevokeUserSessions(ctx context.Context, u UserID, at time.Time) (int, error)
	// RevokeOtherSessions revokes every live session of the user but keep
	// (0 keeps none).
	RevokeOtherSessions(ctx context.Context, u UserID, keep SessionID, at time.Time) (int, error)
	// ListUserSessions lists the user's live sessions at now (neither
	// revoked nor expired), newest first.
	ListUserSessions(ctx context.Context, u UserID, now time.Time) ([]Session, error)

	// OAuth clients and their tokens. Client ID is unique (Conflict).
	CreateOAuthClient(ctx context.Context, c OAuthClient) error
	GetOAuthClient(ctx context.Context, id string) (OAuthClient, error)
	ListOAuthClients(ctx context.Context, org OrgID) ([]OAuthClient, error)
	DeleteOAuthClient(ctx context.Context, id string) error // also its tokens
	CreateAccessToken(ctx context.Context, t AccessToken) error
	GetAccessTokenByHash(ctx context.Context, h [32]byte) (AccessToken, error)
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// UseRefreshToken marks an unused, unexpired token used and returns it;
	// otherwise NotFound. A second use (even concurrent) fails.
	UseRefreshToken(ctx context.Context, h [32]byte, now time.Time) (RefreshToken, error)
	RevokeClientTokens(ctx context.Context, client string, at time.Time) error
	// RevokeCreatorTokens revokes the access and refresh tokens of every
	// OAuth client the user created (their secrets stay valid).
	RevokeCreatorTokens(ctx context.Context, u UserID, at time.Time) error

	// Gateways. ClaimCodeHash is unique (Conflict).
	CreateGateway(ctx context.Context, g *Gateway) error
	UpdateGateway(ctx context.Context, g Gateway) error
	DeleteGateway(ctx context.Context, id GatewayID) error
	GetGateway(ctx context.Context, id GatewayID) (Gateway, error)
	GetGatewayByClaimHash(ctx context.Context, h [32]byte) (Gateway, error)
	// GetGatewayByCredentialHash finds a gateway by its credential's hash
	// (a zero hash never matches).
	GetGatewayByCredentialHash(ctx context.Context, h [32]byte) (Gateway, error)
	ListGateways(ctx context.Context, f GatewayFilter) (List[Gateway], error)

	// Audit log, append only.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) (List[AuditEntry], error) // newest first
	// LastAuditID is the id of the newest entry (0 if none). Ids only
	// grow, so it versions the whole tenancy.
	LastAuditID(ctx context.Context) (AuditID, error)
}

// Scope selects an org alone or with every org below it. A store turns it
// into one join on the closure table.
type Scope struct {
	OrgID   OrgID
	Subtree bool
}

// OrgFilter selects orgs. Parent != 0 lists its direct children; otherwise
// Scope applies. Query matches names case-insensitively (substring).
type OrgFilter struct {
	Scope  Scope
	Parent OrgID
	Query  string
	Page   Page
}

// OrgUsage counts what an org holds directly.
type OrgUsage struct {
	Children, Devices, Users int
}

// UserFilter selects users in Scope, optionally by role, tag and
// name/email query.
type UserFilter struct {
	Scope  Scope
	RoleID RoleID // 0: any
	TagID  TagID  // 0: any; else users carrying the tag
	Query  string
	Page   Page
}

// TemplateFilter lists templates of a tree, or those enabled in an org.
type TemplateFilter struct {
	RootID    OrgID
	EnabledIn OrgID // 0: every template of RootID
	Page      Page
}

// TemplateOrgs is where a template is held (Tx.TemplateOrgs).
type TemplateOrgs struct {
	Enabled []OrgID // template_orgs: the orgs it is enabled in
	Used    []OrgID // the orgs with a device of it at or below them
}

// DeviceFilter selects devices in Scope. OwnerID != 0 keeps only that
// owner's devices ("own devices" visibility). Query matches names
// (case-insensitive substring). The fields after Page are the console's
// (ListDeviceRows only).
type DeviceFilter struct {
	Scope      Scope
	OwnerID    UserID
	TemplateID TemplateID
	Query      string
	Page       Page

	Status     StatusFilter
	LocationID LocationID // 0: any
	Tags       []TagID    // devices carrying any of them (every one with AllTags)
	AllTags    bool
	Sort       DeviceSort // "" is SortName
	Desc       bool
	After      *DeviceKey // keyset position; nil for the first page
	SkipTotal  bool       // the caller knows the total (KnownTotal): don't count
	KnownTotal int        // with SkipTotal: the matches, to choose a plan
}

// StaticTokenFilter lists static tokens created in an org.
type StaticTokenFilter struct {
	OrgID  OrgID
	Status StaticTokenStatus // "": any
	Page   Page
}

// LocationFilter selects locations in Scope; OwnerID != 0 keeps one owner's.
type LocationFilter struct {
	Scope   Scope
	OwnerID UserID
	Page    Page
}

// GatewayFilter selects gateways in Scope.
type GatewayFilter struct {
	Scope Scope
	Page  Page
	// SkipTotal lets the store leave Total 0: a caller walking every page
	// (a change's wake) would count the scope once per page.
	SkipTotal bool
}

// AuditFilter selects audit entries of orgs in Scope; with ObjectType
// set, only those about that object (ObjectID). UserID, Action (exact)
// and the time range [Since, Until) narrow further when set. SkipTotal
// lets the store leave Total 0: counting a large log costs more than
// reading a page.
type AuditFilter struct {
	Scope      Scope
	ObjectType string
	ObjectID   string
	UserID     UserID
	Action     string
	Since      time.Time
	Until      time.Time
	Page       Page
	SkipTotal  bool
}
