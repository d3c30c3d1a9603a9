package platformapi

import (
	"encoding/json"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
)

// Wire shapes. Field names follow Blynk's Platform API where it has one;
// times are milliseconds since the epoch (0 when unset).

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

type orgJSON struct {
	ID               tenancy.OrgID   `json:"id"`
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	ParentID         tenancy.OrgID   `json:"parentOrganizationId,omitempty"`
	Type             tenancy.OrgType `json:"type"`
	Depth            int             `json:"depth"`
	IsActive         bool            `json:"isActive"`
	CanCreateSubOrgs bool            `json:"canCreateSubOrgs"`
	TZ               string          `json:"tz"`
	UnitSystem       string          `json:"unitSystem,omitempty"`
	Phone            string          `json:"phoneNumber,omitempty"`
	Address          tenancy.Address `json:"address"`
	LastModifiedTs   int64           `json:"lastModifiedTs"`
}

func toOrg(o tenancy.Org) orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, Description: o.Description, ParentID: o.ParentID, Type: o.Type,
		Depth: o.Depth, IsActive: o.Active, CanCreateSubOrgs: o.CanCreateSub, TZ: o.TZ, UnitSystem: o.UnitSystem,
		Phone: o.Phone, Address: o.Address, LastModifiedTs: ms(o.UpdatedAt)}
}

type userJSON struct {
	ID             tenancy.UserID `json:"id"`
	Name           string         `json:"name"`
	Email          string         `json:"email"`
	Title          string         `json:"title,omitempty"`
	Nick           string         `json:"nickName,omitempty"`
	Phone          string         `json:"phoneNumber,omitempty"`
	RoleID         tenancy.RoleID `json:"roleId"`
	OrgID          tenancy.OrgID  `json:"orgId"`
	TZ             string         `json:"tz,omitempty"`
	Locale         string         `json:"locale,omitempty"`
	Status         string         `json:"status"`
	Type           string         `json:"type"`
	IsDev          bool           `json:"isDev"`
	LastModifiedTs int64          `json:"lastModifiedTs"`
	LastLoggedAt   int64          `json:"lastLoggedAt"`
	RegisteredAt   int64          `json:"registeredAt"`
}

func toUser(u tenancy.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Email: u.Email, Title: u.Title, Nick: u.Nick, Phone: u.Phone,
		RoleID: u.RoleID, OrgID: u.OrgID, TZ: u.TZ, Locale: u.Locale, Status: strings.ToUpper(string(u.Status)),
		Type: string(u.Type), IsDev: u.IsDev, LastModifiedTs: ms(u.UpdatedAt), LastLoggedAt: ms(u.LastLoginAt),
		RegisteredAt: ms(u.CreatedAt)}
}

type roleJSON struct {
	ID          tenancy.RoleID `json:"id"`
	Name        string         `json:"name"`
	BuiltIn     bool           `json:"builtIn"`
	OrgID       tenancy.OrgID  `json:"orgId,omitempty"`
	Permissions []string       `json:"permissions"`
}

type oauthClientJSON struct {
	ClientID     string        `json:"clientId"`
	ClientSecret string        `json:"clientSecret,omitempty"` // only when created
	OrgID        tenancy.OrgID `json:"orgId"`
	Name         string        `json:"name"`
	RedirectURLs []string      `json:"redirectUrls"`
	CreatedAt    int64         `json:"createdAt"`
}

func toClient(c tenancy.OAuthClient) oauthClientJSON {
	urls := c.RedirectURLs
	if urls == nil {
		urls = []string{}
	}
	return oauthClientJSON{ClientID: c.ID, OrgID: c.OrgID, Name: c.Name, RedirectURLs: urls, CreatedAt: ms(c.CreatedAt)}
}

type deviceJSON struct {
	ID             tenancy.DeviceID   `json:"id"`
	TemplateID     tenancy.TemplateID `json:"templateId"`
	OrgID          tenancy.OrgID      `json:"orgId"`
	Name           string             `json:"name"`
	Token          string             `json:"token"`
	OwnerUserID    tenancy.UserID     `json:"ownerUserId,omitempty"`
	StaticTokenID  int64              `json:"staticTokenId,omitempty"`
	ActivatedAt    int64              `json:"activatedAt"`
	CreatedAt      int64              `json:"createdAt"`
	LastModifiedTs int64              `json:"lastModifiedTs"`
}

func toDevice(d tenancy.Device) deviceJSON {
	return deviceJSON{ID: d.ID, TemplateID: d.TemplateID, OrgID: d.OrgID, Name: d.Name, Token: d.Token,
		OwnerUserID: d.OwnerID, StaticTokenID: int64(d.StaticToken), ActivatedAt: ms(d.ActivatedAt),
		CreatedAt: ms(d.CreatedAt), LastModifiedTs: ms(d.UpdatedAt)}
}

type templateJSON struct {
	ID             tenancy.TemplateID `json:"id"`
	OrgID          tenancy.OrgID      `json:"orgId"`
	Name           string             `json:"name"`
	Description    string             `json:"description,omitempty"`
	BoardType      string             `json:"boardType,omitempty"`
	ConnectionType string             `json:"connectionType,omitempty"`
	CreatedAt      int64              `json:"createdAt"`
	LastModifiedTs int64              `json:"lastModifiedTs"`
	Datastreams    any                `json:"datastreams"`
	Events         any                `json:"events"`
	MetaFields     any                `json:"metaFields"`
}

func toTemplate(t tenancy.Template) templateJSON {
	out := templateJSON{ID: t.ID, OrgID: t.RootID, Name: t.Def.Name, Description: t.Description, BoardType: t.BoardType,
		ConnectionType: t.ConnectionType, CreatedAt: ms(t.CreatedAt), LastModifiedTs: ms(t.UpdatedAt),
		Datastreams: t.Def.Datastreams, Events: t.Def.Events, MetaFields: t.Def.MetaFields}
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

type staticTokenJSON struct {
	ID           tenancy.StaticTokenID     `json:"id"`
	Token        string                    `json:"token"` // the QR (claim) token
	QRPayload    string                    `json:"qrPayload"`
	OrgID        tenancy.OrgID             `json:"orgId"`
	ProductID    tenancy.TemplateID        `json:"productId"`
	DeviceID     tenancy.DeviceID          `json:"deviceId"`
	Status       tenancy.StaticTokenStatus `json:"status"`
	OwnerID      tenancy.UserID            `json:"ownerId,omitempty"`
	ClaimedOrgID tenancy.OrgID             `json:"claimedOrgId,omitempty"`
	CreatedAt    int64                     `json:"createdAt"`
	ClaimedAt    int64                     `json:"claimedAt,omitempty"`
}

func toStaticToken(s tenancy.StaticToken) staticTokenJSON {
	return staticTokenJSON{ID: s.ID, Token: s.QR, QRPayload: tenancy.QRPayload(s), OrgID: s.OrgID,
		ProductID: s.TemplateID, DeviceID: s.DeviceID, Status: s.Status, OwnerID: s.OwnerID, ClaimedOrgID: s.ClaimedOrgID,
		CreatedAt: ms(s.CreatedAt), ClaimedAt: ms(s.ClaimedAt)}
}

type locationJSON struct {
	ID        tenancy.LocationID `json:"id"`
	OrgID     tenancy.OrgID      `json:"orgId"`
	OwnerID   tenancy.UserID     `json:"ownerId,omitempty"`
	Name      string             `json:"name"`
	Address   tenancy.Address    `json:"address"`
	Lat       float64            `json:"lat"`
	Lon       float64            `json:"lon"`
	Users     []tenancy.UserID   `json:"userIds"`
	CreatedAt int64              `json:"createdAt"`
}

func toLocation(l tenancy.Location) locationJSON {
	users := l.Users
	if users == nil {
		users = []tenancy.UserID{}
	}
	return locationJSON{ID: l.ID, OrgID: l.OrgID, OwnerID: l.OwnerID, Name: l.Name, Address: l.Address, Lat: l.Lat,
		Lon: l.Lon, Users: users, CreatedAt: ms(l.CreatedAt)}
}

type tagJSON struct {
	ID          tenancy.TagID  `json:"id"`
	OrgID       tenancy.OrgID  `json:"tagOwnerOrgId"`
	Name        string         `json:"name"`
	OwnerUserID tenancy.UserID `json:"ownerUserId,omitempty"`
}

func toTag(t tenancy.Tag) tagJSON {
	return tagJSON{ID: t.ID, OrgID: t.OrgID, Name: t.Name, OwnerUserID: t.OwnerID}
}

type gatewayJSON struct {
	ID        tenancy.GatewayID `json:"id"`
	OrgID     tenancy.OrgID     `json:"orgId"`
	Name      string            `json:"name"`
	CreatedAt int64             `json:"createdAt"`
	ClaimedAt int64             `json:"claimedAt"`
}

func toGateway(g tenancy.Gateway) gatewayJSON {
	return gatewayJSON{ID: g.ID, OrgID: g.OrgID, Name: g.Name, CreatedAt: ms(g.CreatedAt), ClaimedAt: ms(g.ClaimedAt)}
}

type auditJSON struct {
	ID         tenancy.AuditID `json:"id"`
	At         int64           `json:"ts"`
	OrgID      tenancy.OrgID   `json:"orgId"`
	UserID     tenancy.UserID  `json:"userId,omitempty"`
	ClientID   string          `json:"clientId,omitempty"`
	Action     string          `json:"action"`
	ObjectType string          `json:"objectType"`
	ObjectID   string          `json:"objectId"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

func toAudit(e tenancy.AuditEntry) auditJSON {
	return auditJSON{ID: e.ID, At: ms(e.At), OrgID: e.OrgID, UserID: e.UserID, ClientID: e.ClientID, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, Before: e.Before, After: e.After}
}
