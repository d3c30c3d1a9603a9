package platformapi

import (
	"net/http"
	"slices"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// apiMetaField is one metadata field of a device: Blynk's {id,name,value}.
type apiMetaField struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// deviceMetaFields is GET /organization/device/metafield?deviceId=: every
// metadata field of the device's template with the value set through the
// console or this API, else the template's default. What the device
// reported itself is telemetry (the console's Info tab shows both).
func (c *call) deviceMetaFields() error {
	id, err := c.deviceID()
	if err != nil {
		return err
	}
	_, t, err := c.api.svc.DeviceTemplate(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	set, err := c.api.svc.DeviceMetaValues(c.ctx, c.actor, id)
	if err != nil {
		return err
	}
	out := make([]apiMetaField, 0, len(t.Def.MetaFields))
	for _, f := range t.Def.MetaFields {
		v := f.Default
		if i := slices.IndexFunc(set, func(m tenancy.DeviceMeta) bool { return m.Name == f.Name }); i >= 0 {
			v = set[i].Value
		}
		out = append(out, apiMetaField{ID: f.ID, Name: f.Name, Value: v})
	}
	return c.json(http.StatusOK, out)
}

// setDeviceMetaField is POST /organization/device/metafield {deviceId,
// metaFieldId, newValue} (ORG_DEVICES_EDIT): the value reaches the
// device's gateway with the tenancy.
func (c *call) setDeviceMetaField() error {
	var in struct {
		DeviceID    tenancy.DeviceID `json:"deviceId"`
		MetaFieldID *int             `json:"metaFieldId"`
		NewValue    *string          `json:"newValue"`
	}
	if err := c.body(&in); err != nil {
		return err
	}
	if in.DeviceID <= 0 || in.MetaFieldID == nil || in.NewValue == nil {
		return badRequest("deviceId, metaFieldId and newValue are required")
	}
	_, t, err := c.api.svc.DeviceTemplate(c.ctx, c.actor, in.DeviceID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(t.Def.MetaFields, func(f datastream.MetaField) bool { return f.ID == *in.MetaFieldID })
	if i < 0 {
		return tenancy.Errorf(tenancy.NotFound, "metadata field %d not found", *in.MetaFieldID)
	}
	if _, err := c.api.svc.SetDeviceMeta(c.ctx, c.actor, in.DeviceID, t.Def.MetaFields[i].Name, *in.NewValue); err != nil {
		return err
	}
	return c.noContent()
}
