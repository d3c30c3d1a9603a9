package tenancy

import (
	"strings"
	"time"

	"outpost/shared/datastream"
)

// The Platform API's JSON shapes of the tenancy objects. They live here,
// not in the API package, because the audit log records objects in the
// same shapes (§11.9, issue 11): never Go field names, never hashes. Field
// names follow Blynk's Platform API where it has one; times are
// milliseconds since the epoch (0 when unset).

func apiMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// OrgJSON is the API shape of a Org.
type OrgJSON struct {
	ID               OrgID   `json:"id"`
	Name             string  `json:"name"`
	Description      string  `json:"description"`
	ParentID         OrgID   `json:"parentOrganizationId,omitempty"`
	Type             OrgType `json:"type"`
	Depth            int     `json:"depth"`
	IsActive         bool    `json:"isActive"`
	CanCreateSubOrgs bool    `json:"canCreateSubOrgs"`
	TZ               string  `json:"tz"`
	UnitSystem       string  `json:"unitSystem,omitempty"`
	Phone            string  `json:"phoneNumber,omitempty"`
	Address          Address `json:"address"`
	// HistoryRetentionDays: 0 is no bound of its own.
	HistoryRetentionDays int   `json:"historyRetentionDays"`
	LastModifiedTs       int64 `json:"lastModifiedTs"`
}

// APIOrg returns the API shape.
func APIOrg(o Org) OrgJSON {
	return OrgJSON{ID: o.ID, Name: o.Name, Description: o.Description, ParentID: o.ParentID, Type: o.Type,
		Depth: o.Depth, IsActive: o.Active, CanCreateSubOrgs: o.CanCreateSub, TZ: o.TZ, UnitSystem: o.UnitSystem,
		Phone: o.Phone, Address: o.Address, HistoryRetentionDays: o.HistoryRetentionDays, LastModifiedTs: apiMS(o.UpdatedAt)}
}

// UserJSON is the API shape of a User.
type UserJSON struct {
	ID             UserID `json:"id"`
	Name           string `json:"name"`
	Email          string `json:"email"`
	Title          string `json:"title,omitempty"`
	Nick           string `json:"nickName,omitempty"`
	Phone          string `json:"phoneNumber,omitempty"`
	RoleID         RoleID `json:"roleId"`
	OrgID          OrgID  `json:"orgId"`
	TZ             string `json:"tz,omitempty"`
	Locale         string `json:"locale,omitempty"`
	Status         string `json:"status"`
	Type           string `json:"type"`
	IsDev          bool   `json:"isDev"`
	LastModifiedTs int64  `json:"lastModifiedTs"`
	LastLoggedAt   int64  `json:"lastLoggedAt"`
	RegisteredAt   int64  `json:"registeredAt"`
}

// APIUser returns the API shape.
func APIUser(u User) UserJSON {
	return UserJSON{ID: u.ID, Name: u.Name, Email: u.Email, Title: u.Title, Nick: u.Nick, Phone: u.Phone,
		RoleID: u.RoleID, OrgID: u.OrgID, TZ: u.TZ, Locale: u.Locale, Status: strings.ToUpper(string(u.Status)),
		Type: string(u.Type), IsDev: u.IsDev, LastModifiedTs: apiMS(u.UpdatedAt), LastLoggedAt: apiMS(u.LastLoginAt),
		RegisteredAt: apiMS(u.CreatedAt)}
}

// RoleJSON is the API shape of a Role.
type RoleJSON struct {
	ID          RoleID   `json:"id"`
	Name        string   `json:"name"`
	BuiltIn     bool     `json:"builtIn"`
	OrgID       OrgID    `json:"orgId,omitempty"`
	Permissions []string `json:"permissions"`
}

// OAuthClientJSON is the API shape of a OAuthClient.
type OAuthClientJSON struct {
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret,omitempty"` // only when created
	OrgID        OrgID    `json:"orgId"`
	Name         string   `json:"name"`
	RedirectURLs []string `json:"redirectUrls"`
	CreatedAt    int64    `json:"createdAt"`
}

// APIOAuthClient returns the API shape.
func APIOAuthClient(c OAuthClient) OAuthClientJSON {
	urls := c.RedirectURLs
	if urls == nil {
		urls = []string{}
	}
	return OAuthClientJSON{ClientID: c.ID, OrgID: c.OrgID, Name: c.Name, RedirectURLs: urls, CreatedAt: apiMS(c.CreatedAt)}
}

// DeviceJSON is the API shape of a Device.
type DeviceJSON struct {
	ID             DeviceID   `json:"id"`
	UID            string     `json:"uid,omitempty"` // the ULID gateways and automations name it by
	TemplateID     TemplateID `json:"templateId"`
	OrgID          OrgID      `json:"orgId"`
	Name           string     `json:"name"`
	Token          string     `json:"token,omitempty"` // empty in audit entries
	OwnerUserID    UserID     `json:"ownerUserId,omitempty"`
	StaticTokenID  int64      `json:"staticTokenId,omitempty"`
	ActivatedAt    int64      `json:"activatedAt"`
	CreatedAt      int64      `json:"createdAt"`
	LastModifiedTs int64      `json:"lastModifiedTs"`
}

// APIDevice returns the API shape.
func APIDevice(d Device) DeviceJSON {
	return DeviceJSON{ID: d.ID, UID: d.UID, TemplateID: d.TemplateID, OrgID: d.OrgID, Name: d.Name, Token: d.Token,
		OwnerUserID: d.OwnerID, StaticTokenID: int64(d.StaticToken), ActivatedAt: apiMS(d.ActivatedAt),
		CreatedAt: apiMS(d.CreatedAt), LastModifiedTs: apiMS(d.UpdatedAt)}
}

// TemplateJSON is the API shape of a Template.
type TemplateJSON struct {
	ID             TemplateID `json:"id"`
	OrgID          OrgID      `json:"orgId"`
	Name           string     `json:"name"`
	Description    string     `json:"description,omitempty"`
	BoardType      string     `json:"boardType,omitempty"`
	ConnectionType string     `json:"connectionType,omitempty"`
	CreatedAt      int64      `json:"createdAt"`
	LastModifiedTs int64      `json:"lastModifiedTs"`
	Datastreams    any        `json:"datastreams"`
	Events         any        `json:"events"`
	// SystemEvents: the notification settings of online, offline and
	// first connection (datastream.SystemEvents).
	SystemEvents *datastream.SystemEvents `json:"systemEvents,omitempty"`
	MetaFields   any                      `json:"metaFields"`
}

// APITemplate returns the API shape.
func APITemplate(t Template) TemplateJSON {
	out := TemplateJSON{ID: t.ID, OrgID: t.RootID, Name: t.Def.Name, Description: t.Description, BoardType: t.BoardType,
		ConnectionType: t.ConnectionType, CreatedAt: apiMS(t.CreatedAt), LastModifiedTs: apiMS(t.UpdatedAt),
		Datastreams: t.Def.Datastreams, Events: t.Def.Events, SystemEvents: t.Def.System, MetaFields: t.Def.MetaFields}
	if t.Def.Datastreams == nil {
		out.Datastreams = []struct{}{}
	}
	if t.Def.Events == nil {
		out.Events = []struct{}{}
	}
	if t.Def.MetaFields == nil {
		out.MetaFields = []struct{}{}
	}
	return out
}

// StaticTokenJSON is the API shape of a StaticToken.
type StaticTokenJSON struct {
	ID           StaticTokenID     `json:"id"`
	Token        string            `json:"token,omitempty"` // the QR (claim) token; empty in audit entries
	QRPayload    string            `json:"qrPayload,omitempty"`
	OrgID        OrgID             `json:"orgId"`
	ProductID    TemplateID        `json:"productId"`
	DeviceID     DeviceID          `json:"deviceId"`
	Status       StaticTokenStatus `json:"status"`
	OwnerID      UserID            `json:"ownerId,omitempty"`
	ClaimedOrgID OrgID             `json:"claimedOrgId,omitempty"`
	CreatedAt    int64             `json:"createdAt"`
	ClaimedAt    int64             `json:"claimedAt,omitempty"`
}

// APIStaticToken returns the API shape.
func APIStaticToken(s StaticToken) StaticTokenJSON {
	return StaticTokenJSON{ID: s.ID, Token: s.QR, QRPayload: QRPayload(s), OrgID: s.OrgID,
		ProductID: s.TemplateID, DeviceID: s.DeviceID, Status: s.Status, OwnerID: s.OwnerID, ClaimedOrgID: s.ClaimedOrgID,
		CreatedAt: apiMS(s.CreatedAt), ClaimedAt: apiMS(s.ClaimedAt)}
}

// LocationJSON is the API shape of a Location.
type LocationJSON struct {
	ID        LocationID `json:"id"`
	OrgID     OrgID      `json:"orgId"`
	OwnerID   UserID     `json:"ownerId,omitempty"`
	Name      string     `json:"name"`
	Address   Address    `json:"address"`
	Lat       float64    `json:"lat"`
	Lon       float64    `json:"lon"`
	Users     []UserID   `json:"userIds"`
	CreatedAt int64      `json:"createdAt"`
}

// APILocation returns the API shape.
func APILocation(l Location) LocationJSON {
	users := l.Users
	if users == nil {
		users = []UserID{}
	}
	return LocationJSON{ID: l.ID, OrgID: l.OrgID, OwnerID: l.OwnerID, Name: l.Name, Address: l.Address, Lat: l.Lat,
		Lon: l.Lon, Users: users, CreatedAt: apiMS(l.CreatedAt)}
}

// TagJSON is the API shape of a Tag.
type TagJSON struct {
	ID          TagID  `json:"id"`
	OrgID       OrgID  `json:"tagOwnerOrgId"`
	Name        string `json:"name"`
	OwnerUserID UserID `json:"ownerUserId,omitempty"`
}

// APITag returns the API shape.
func APITag(t Tag) TagJSON {
	return TagJSON{ID: t.ID, OrgID: t.OrgID, Name: t.Name, OwnerUserID: t.OwnerID}
}

// GatewayJSON is the API shape of a Gateway.
type GatewayJSON struct {
	ID        GatewayID `json:"id"`
	OrgID     OrgID     `json:"orgId"`
	Name      string    `json:"name"`
	CreatedAt int64     `json:"createdAt"`
	ClaimedAt int64     `json:"claimedAt"`
}

// APIGateway returns the API shape.
func APIGateway(g Gateway) GatewayJSON {
	return GatewayJSON{ID: g.ID, OrgID: g.OrgID, Name: g.Name, CreatedAt: apiMS(g.CreatedAt), ClaimedAt: apiMS(g.ClaimedAt)}
}
