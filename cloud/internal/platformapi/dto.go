package platformapi

import (
	"encoding/json"
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

// The shapes of tenancy objects are tenancy's (the audit log records the
// same ones).
type (
	orgJSON         = tenancy.OrgJSON
	userJSON        = tenancy.UserJSON
	roleJSON        = tenancy.RoleJSON
	oauthClientJSON = tenancy.OAuthClientJSON
	deviceJSON      = tenancy.DeviceJSON
	templateJSON    = tenancy.TemplateJSON
	staticTokenJSON = tenancy.StaticTokenJSON
	locationJSON    = tenancy.LocationJSON
	tagJSON         = tenancy.TagJSON
	gatewayJSON     = tenancy.GatewayJSON
)

var (
	toOrg         = tenancy.APIOrg
	toUser        = tenancy.APIUser
	toClient      = tenancy.APIOAuthClient
	toDevice      = tenancy.APIDevice
	toTemplate    = tenancy.APITemplate
	toStaticToken = tenancy.APIStaticToken
	toLocation    = tenancy.APILocation
	toTag         = tenancy.APITag
	toGateway     = tenancy.APIGateway
)

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
