package tenancy

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxMetaValueLen bounds a metadata value set by a person: Blynk's string
// limit (PROTOCOL.md: a string value is at most 1024 bytes).
const MaxMetaValueLen = 1024

// DeviceMeta is the value a person gave one metadata field of a device
// (the template names the fields). The cloud keeps it as tenancy and sends
// it down with the gateway's view; the gateway applies it unless the
// device itself set the field later (docs/architecture.md, conflict
// rules).
type DeviceMeta struct {
	Name      string
	Value     string
	UpdatedAt time.Time
	UpdatedBy UserID // 0: an API client
}

// SetDeviceMeta sets a metadata field of a device (ORG_DEVICES_EDIT, the
// key of renaming: Blynk has no own-device counterpart). The field must be one of the device's template;
// the value is text without NUL of at most MaxMetaValueLen bytes.
func (s *Service) SetDeviceMeta(ctx context.Context, a Actor, id DeviceID, name, value string) (DeviceMeta, error) {
	if !utf8.ValidString(value) || strings.ContainsRune(value, 0) || len(value) > MaxMetaValueLen {
		return DeviceMeta{}, Errorf(Invalid, "a metadata value is text of at most %d bytes", MaxMetaValueLen)
	}
	m := DeviceMeta{Name: name, Value: value, UpdatedAt: s.now().UTC(), UpdatedBy: a.UserID}
	err := s.atomic(ctx, "set device metadata", func(tx Tx) error {
		d, err := s.loadDevice(ctx, tx, a, id, OrgDevicesEdit)
		if err != nil {
			return err
		}
		t, err := tx.GetTemplate(ctx, d.TemplateID)
		if err != nil {
			return err
		}
		if _, ok := t.Def.Meta(name); !ok {
			return notFound("metadata field")
		}
		before, err := tx.DeviceMeta(ctx, id)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(before, func(x DeviceMeta) bool { return x.Name == name }); i >= 0 && before[i].Value == value {
			m = before[i] // unchanged: nothing to send or log
			return nil
		}
		if err := tx.SetDeviceMeta(ctx, id, m); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.metadata", "device", id, nil, map[string]any{"name": name, "value": value})
	})
	return m, err
}

// DeviceMetaValues lists the metadata values people set on a device, by
// name (ORG_DEVICES_VIEW, or the owner's own key). Fields never set are
// absent: their value is what the device reported, else the template's
// default.
func (s *Service) DeviceMetaValues(ctx context.Context, a Actor, id DeviceID) ([]DeviceMeta, error) {
	if _, err := s.loadDevice(ctx, s.store, a, id, OrgDevicesView); err != nil {
		return nil, err
	}
	ms, err := s.store.DeviceMeta(ctx, id)
	if err != nil {
		return nil, internal("device metadata", err)
	}
	return ms, nil
}
