package tenancy

import (
	"math/bits"
	"sort"
	"strings"
)

// Permission is one key of the catalogue (TENANCY.md §12).
type Permission uint8

// The permission catalogue. The order is part of the stored encoding of
// PermSet (a bit per key): append only, never reorder.
const (
	RolesView Permission = iota
	RolesCreate
	RolesEdit
	RolesDelete

	OrgUsersView
	UsersInvite
	UsersEdit
	UsersDelete
	UsersChangePassword
	UsersForceLogout
	UsersActionsLogView
	UsersTransfer
	UsersExport
	UsersSuspend

	OwnDevicesView
	OwnDevicesControl
	OwnDevicesDeleteData
	OwnDevicesReports
	OwnDevicesTimeline

	OrgDevicesView
	OrgDevicesControl
	OrgDevicesCreate
	OrgDevicesEdit
	OrgDevicesDeleteData
	OrgDevicesReports
	OrgDevicesServiceTab
	OrgDevicesDelete

	DeviceAuthTokenEdit
	DevicesTransfer
	ManageStaticTokens

	ProductView
	ProductEdit

	OrgSettingsAccess
	OrgSwitchSub
	OrgCreateSub
	OrgTransfer
	OrgDelete

	LocationsOwnView
	LocationsOwnCreate
	LocationsOwnEdit
	LocationsOwnDelete
	LocationsOwnAssignUsers
	LocationsOrgView
	LocationsOrgCreate
	LocationsOrgEdit
	LocationsOrgDelete
	LocationsOrgAssignUsers

	AutomationsView
	AutomationsCreate
	AutomationsEdit
	AutomationsDelete
	AutomationsExecute

	OAuthClientsView
	OAuthClientsCreate
	OAuthClientsEdit
	OAuthClientsDelete

	AnalyticsView
	DashboardsManage
	TagsManage

	GatewaysView
	GatewaysClaim
	GatewaysManage

	// OwnDevicesClaim: claim a static-token device (scan its QR) into
	// one's own org as its owner. Ours: Blynk's end users add devices
	// from the app, so every built-in role has it by default; an Admin
	// may take it away per org.
	OwnDevicesClaim

	numPermissions
)

var permNames = [numPermissions]string{
	RolesView: "ROLES_VIEW", RolesCreate: "ROLES_CREATE", RolesEdit: "ROLES_EDIT", RolesDelete: "ROLES_DELETE",
	OrgUsersView: "ORG_USERS_VIEW", UsersInvite: "USERS_INVITE", UsersEdit: "USERS_EDIT", UsersDelete: "USERS_DELETE",
	UsersChangePassword: "USERS_CHANGE_PASSWORD", UsersForceLogout: "USERS_FORCE_LOGOUT",
	UsersActionsLogView: "USERS_ACTIONS_LOG_VIEW", UsersTransfer: "USERS_TRANSFER", UsersExport: "USERS_EXPORT",
	UsersSuspend:   "USERS_SUSPEND",
	OwnDevicesView: "OWN_DEVICES_VIEW", OwnDevicesControl: "OWN_DEVICES_CONTROL",
	OwnDevicesDeleteData: "OWN_DEVICES_DELETE_DATA", OwnDevicesReports: "OWN_DEVICES_REPORTS",
	OwnDevicesTimeline: "OWN_DEVICES_TIMELINE",
	OrgDevicesView:     "ORG_DEVICES_VIEW", OrgDevicesControl: "ORG_DEVICES_CONTROL", OrgDevicesCreate: "ORG_DEVICES_CREATE",
	OrgDevicesEdit: "ORG_DEVICES_EDIT", OrgDevicesDeleteData: "ORG_DEVICES_DELETE_DATA",
	OrgDevicesReports: "ORG_DEVICES_REPORTS", OrgDevicesServiceTab: "ORG_DEVICES_SERVICE_TAB",
	OrgDevicesDelete:    "ORG_DEVICES_DELETE",
	DeviceAuthTokenEdit: "DEVICE_AUTH_TOKEN_EDIT", DevicesTransfer: "DEVICES_TRANSFER",
	ManageStaticTokens: "MANAGE_STATIC_TOKENS",
	ProductView:        "PRODUCT_VIEW", ProductEdit: "PRODUCT_EDIT",
	OrgSettingsAccess: "ORG_SETTINGS_ACCESS", OrgSwitchSub: "ORG_SWITCH_SUB", OrgCreateSub: "ORG_CREATE_SUB",
	OrgTransfer: "ORG_TRANSFER", OrgDelete: "ORG_DELETE",
	LocationsOwnView: "LOCATIONS_OWN_VIEW", LocationsOwnCreate: "LOCATIONS_OWN_CREATE",
	LocationsOwnEdit: "LOCATIONS_OWN_EDIT", LocationsOwnDelete: "LOCATIONS_OWN_DELETE",
	LocationsOwnAssignUsers: "LOCATIONS_OWN_ASSIGN_USERS",
	LocationsOrgView:        "LOCATIONS_ORG_VIEW", LocationsOrgCreate: "LOCATIONS_ORG_CREATE",
	LocationsOrgEdit: "LOCATIONS_ORG_EDIT", LocationsOrgDelete: "LOCATIONS_ORG_DELETE",
	LocationsOrgAssignUsers: "LOCATIONS_ORG_ASSIGN_USERS",
	AutomationsView:         "AUTOMATIONS_VIEW", AutomationsCreate: "AUTOMATIONS_CREATE",
	AutomationsEdit: "AUTOMATIONS_EDIT", AutomationsDelete: "AUTOMATIONS_DELETE",
	AutomationsExecute: "AUTOMATIONS_EXECUTE",
	OAuthClientsView:   "OAUTH_CLIENTS_VIEW", OAuthClientsCreate: "OAUTH_CLIENTS_CREATE",
	OAuthClientsEdit: "OAUTH_CLIENTS_EDIT", OAuthClientsDelete: "OAUTH_CLIENTS_DELETE",
	AnalyticsView: "ANALYTICS_VIEW", DashboardsManage: "DASHBOARDS_MANAGE", TagsManage: "TAGS_MANAGE",
	GatewaysView: "GATEWAYS_VIEW", GatewaysClaim: "GATEWAYS_CLAIM", GatewaysManage: "GATEWAYS_MANAGE",
	OwnDevicesClaim: "OWN_DEVICES_CLAIM",
}

// String returns the catalogue key, e.g. "ORG_DEVICES_VIEW".
func (p Permission) String() string {
	if p < numPermissions {
		return permNames[p]
	}
	return "UNKNOWN"
}

// ParsePermission maps a catalogue key (case-insensitive) to a Permission.
func ParsePermission(s string) (Permission, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for i, n := range permNames {
		if n == s {
			return Permission(i), true
		}
	}
	return 0, false
}

// AllPermissions lists the catalogue in order.
func AllPermissions() []Permission {
	out := make([]Permission, numPermissions)
	for i := range out {
		out[i] = Permission(i)
	}
	return out
}

// impliedView maps an edit/create/delete key to the view key it implies
// (§12: "any edit/create/delete key implies its view key"), and, for
// Decide, tells which permission makes the resource visible at all.
var impliedView = func() [numPermissions]Permission {
	var v [numPermissions]Permission
	for i := range v {
		v[i] = Permission(i) // a key with no view counterpart is its own
	}
	set := func(view Permission, keys ...Permission) {
		for _, k := range keys {
			v[k] = view
		}
	}
	set(RolesView, RolesCreate, RolesEdit, RolesDelete)
	set(OrgUsersView, UsersInvite, UsersEdit, UsersDelete, UsersChangePassword, UsersForceLogout,
		UsersTransfer, UsersExport, UsersSuspend)
	set(OwnDevicesView, OwnDevicesControl, OwnDevicesDeleteData, OwnDevicesReports, OwnDevicesTimeline)
	set(OrgDevicesView, OrgDevicesControl, OrgDevicesCreate, OrgDevicesEdit, OrgDevicesDeleteData,
		OrgDevicesReports, OrgDevicesServiceTab, OrgDevicesDelete, DeviceAuthTokenEdit, DevicesTransfer)
	set(ProductView, ProductEdit)
	set(LocationsOwnView, LocationsOwnCreate, LocationsOwnEdit, LocationsOwnDelete, LocationsOwnAssignUsers)
	set(LocationsOrgView, LocationsOrgCreate, LocationsOrgEdit, LocationsOrgDelete, LocationsOrgAssignUsers)
	set(AutomationsView, AutomationsCreate, AutomationsEdit, AutomationsDelete, AutomationsExecute)
	set(OAuthClientsView, OAuthClientsCreate, OAuthClientsEdit, OAuthClientsDelete)
	set(GatewaysView, GatewaysClaim, GatewaysManage)
	return v
}()

// ownCounterpart maps an organization-wide key to the key that grants the
// same action on resources the actor owns (devices, locations).
var ownCounterpart = map[Permission]Permission{
	OrgDevicesView:          OwnDevicesView,
	OrgDevicesControl:       OwnDevicesControl,
	OrgDevicesDeleteData:    OwnDevicesDeleteData,
	OrgDevicesReports:       OwnDevicesReports,
	LocationsOrgView:        LocationsOwnView,
	LocationsOrgCreate:      LocationsOwnCreate,
	LocationsOrgEdit:        LocationsOwnEdit,
	LocationsOrgDelete:      LocationsOwnDelete,
	LocationsOrgAssignUsers: LocationsOwnAssignUsers,
}

// OwnCounterpart returns the "own" key matching an organization-wide key.
func OwnCounterpart(p Permission) (Permission, bool) {
	o, ok := ownCounterpart[p]
	return o, ok
}

// PermSet is a set of permissions; the zero value is empty. It is a
// comparable value so that Decide does no allocation.
type PermSet struct{ bits uint64 }

// NewPermSet returns the set holding ps plus the view keys they imply.
func NewPermSet(ps ...Permission) PermSet {
	var s PermSet
	for _, p := range ps {
		s = s.With(p)
	}
	return s
}

// Has reports whether p is in the set.
func (s PermSet) Has(p Permission) bool { return p < numPermissions && s.bits&(1<<p) != 0 }

// With returns s plus p and the view key p implies.
func (s PermSet) With(p Permission) PermSet {
	if p >= numPermissions {
		return s
	}
	s.bits |= 1<<p | 1<<impliedView[p]
	return s
}

// Without returns s minus p and every key that implies p.
func (s PermSet) Without(p Permission) PermSet {
	if p >= numPermissions {
		return s
	}
	s.bits &^= 1 << p
	for k := Permission(0); k < numPermissions; k++ {
		if impliedView[k] == p {
			s.bits &^= 1 << k
		}
	}
	return s
}

// Union returns the keys in s or o.
func (s PermSet) Union(o PermSet) PermSet { return PermSet{s.bits | o.bits} }

// Minus returns the keys in s and not in o.
func (s PermSet) Minus(o PermSet) PermSet { return PermSet{s.bits &^ o.bits} }

// SubsetOf reports whether every key of s is in o.
func (s PermSet) SubsetOf(o PermSet) bool { return s.bits&^o.bits == 0 }

// Len is the number of keys in the set.
func (s PermSet) Len() int { return bits.OnesCount64(s.bits) }

// List returns the keys in catalogue order.
func (s PermSet) List() []Permission {
	out := make([]Permission, 0, s.Len())
	for p := Permission(0); p < numPermissions; p++ {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Strings returns the catalogue keys of the set, sorted.
func (s PermSet) Strings() []string {
	out := make([]string, 0, s.Len())
	for _, p := range s.List() {
		out = append(out, p.String())
	}
	sort.Strings(out)
	return out
}

// ParsePermSet parses catalogue keys; unknown keys are an Invalid error.
func ParsePermSet(keys []string) (PermSet, error) {
	var s PermSet
	for _, k := range keys {
		p, ok := ParsePermission(k)
		if !ok {
			return PermSet{}, invalid("unknown permission %q", k)
		}
		s = s.With(p)
	}
	return s, nil
}

// Bits is the stored encoding of the set (one bit per catalogue index).
func (s PermSet) Bits() uint64 { return s.bits }

// PermSetFromBits decodes Bits; unknown bits are dropped.
func PermSetFromBits(b uint64) PermSet {
	return PermSet{b & (1<<numPermissions - 1)}
}

// allPerms is every key of the catalogue.
var allPerms = PermSet{1<<numPermissions - 1}

// DefaultPermissions returns the default set of a built-in role (§12);
// custom roles start empty. The default User holds one key only,
// OWN_DEVICES_CLAIM: it may add a device by its QR, not see it (§13.4).
func DefaultPermissions(r RoleID) PermSet {
	switch r {
	case RoleAdmin:
		return allPerms
	case RoleStaff:
		return NewPermSet(
			OrgUsersView, UsersInvite, UsersForceLogout, UsersActionsLogView,
			OwnDevicesView, OwnDevicesControl, OwnDevicesDeleteData, OwnDevicesReports, OwnDevicesTimeline,
			OrgDevicesView, OrgDevicesControl, OrgDevicesCreate, OrgDevicesEdit, OrgDevicesDeleteData,
			OrgDevicesReports, OrgDevicesServiceTab, DevicesTransfer,
			ProductView, OrgSwitchSub,
			LocationsOwnView, LocationsOwnCreate, LocationsOwnEdit, LocationsOwnDelete, LocationsOwnAssignUsers,
			LocationsOrgView,
			GatewaysView, GatewaysClaim,
			OwnDevicesClaim,
		)
	case RoleUser:
		return NewPermSet(OwnDevicesClaim)
	default:
		return PermSet{}
	}
}
