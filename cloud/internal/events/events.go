// Package events is the cloud's own writes to device timelines: events a
// cloud automation logs on a device (validated as a device's would be)
// and resolutions people make of open events, with who may make them; and
// the template's say on which events the timeline shows and which stay
// open until resolved. The events devices log arrive with the gateways'
// telemetry (cloud/internal/sqlite and postgres apply them).
package events

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"outpost/cloud/internal/telemetry"
	"outpost/cloud/internal/tenancy"
	"outpost/cloud/internal/webhooks"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// Store is what the service needs of persistence (both cloud stores).
type Store interface {
	GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error)
	GetTemplate(ctx context.Context, id tenancy.TemplateID) (tenancy.Template, error)
	// LogEventDelivering stores the event and, in the same transaction,
	// the webhook deliveries pending returns for it (nil: none).
	LogEventDelivering(ctx context.Context, uid, code, description, source string, at time.Time,
		pending webhooks.PendingFunc) (telemetry.TimelineEntry, error)
	// ResolveEventAudited is telemetry.Store's ResolveEvent that also
	// appends audit (its After set by the store) in the same transaction.
	ResolveEventAudited(ctx context.Context, uid string, id int64, codes []string, by, comment string, at time.Time, audit *tenancy.AuditEntry) (telemetry.TimelineEntry, error)
	OpenEvents(ctx context.Context, uid string, codes []string, limit int) ([]telemetry.TimelineEntry, error)
	OpenEventCounts(ctx context.Context, uids, codes []string) (map[string]map[string]int, error)
}

// Devices is the tenancy service's permission-checked device lookup.
type Devices interface {
	DeviceTemplate(ctx context.Context, a tenancy.Actor, id tenancy.DeviceID) (tenancy.Device, tenancy.Template, error)
	CheckDevice(ctx context.Context, a tenancy.Actor, id tenancy.DeviceID, p tenancy.Permission) (tenancy.Device, error)
}

// ResolvePermission is the key resolving a device's event takes (its own
// counterpart for an owner): resolving an alarm is operating the device.
// The catalogue has no "edit timeline" key (Blynk's).
const ResolvePermission = tenancy.OrgDevicesControl

// MaxOpen bounds the open events one device's page lists.
const MaxOpen = 100

// Service logs and resolves events. A logged event's webhook deliveries
// (pending) are stored with it, in its transaction, as a gateway batch's
// are; the event is handed to observe once stored, as the gateways'
// telemetry is once applied (notifications, automations, the live feed).
type Service struct {
	store   Store
	devs    Devices
	observe func([]syncproto.Item)
	pending webhooks.PendingFunc
	now     func() time.Time
}

// New returns a service; observe, pending and now may be nil.
func New(store Store, devs Devices, observe func([]syncproto.Item), pending webhooks.PendingFunc, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if observe == nil {
		observe = func([]syncproto.Item) {}
	}
	return &Service{store: store, devs: devs, observe: observe, pending: pending, now: now}
}

// Source is the item source of the events an automation logs: not the
// device reporting (telemetry.IsReport), as at the site.
const Source = "automation"

// Log logs an event on a device in an automation's name, as the device
// would: the code must be one of the device's template's events; a
// description longer than a device may send is discarded (the template's
// description stands, as for a device). It is stored in the cloud only —
// not sent to the device's gateway — with source "automation:<id>".
func (s *Service) Log(ctx context.Context, automation, uid, code, description string) (telemetry.TimelineEntry, error) {
	d, err := s.store.GetDeviceByUID(ctx, uid)
	if err != nil {
		return telemetry.TimelineEntry{}, err
	}
	t, err := s.store.GetTemplate(ctx, d.TemplateID)
	if err != nil {
		return telemetry.TimelineEntry{}, err
	}
	if _, ok := t.Def.Event(code); !ok {
		return telemetry.TimelineEntry{}, tenancy.Errorf(tenancy.Invalid, "no event %q in the device's template", code)
	}
	if len(description) > datastream.MaxDeviceDescription || !utf8.ValidString(description) {
		description = ""
	}
	at := s.now().UTC()
	e, err := s.store.LogEventDelivering(ctx, uid, code, description, Source+":"+automation, at, s.pending)
	if err != nil {
		return e, err
	}
	s.observe([]syncproto.Item{{Kind: syncproto.KindEvent, Device: uid, Name: code, Value: description,
		TS: at.UnixMilli(), Source: Source}})
	return e, nil
}

// Resolve resolves one open event of a device with a person's comment:
// ResolvePermission on the device, and the event must be critical or
// warning in its template (Blynk resolves those two).
func (s *Service) Resolve(ctx context.Context, a tenancy.Actor, device tenancy.DeviceID, id int64, comment string) (telemetry.TimelineEntry, error) {
	if len(comment) > telemetry.MaxComment || !utf8.ValidString(comment) {
		return telemetry.TimelineEntry{}, tenancy.Errorf(tenancy.Invalid, "the comment is at most %d bytes of text", telemetry.MaxComment)
	}
	d, t, err := s.devs.DeviceTemplate(ctx, a, device)
	if err != nil {
		return telemetry.TimelineEntry{}, err
	}
	if _, err := s.devs.CheckDevice(ctx, a, device, ResolvePermission); err != nil {
		return telemetry.TimelineEntry{}, err
	}
	by := "user:" + strconv.FormatInt(int64(a.UserID), 10)
	if a.UserID == 0 {
		by = "client:" + a.ClientID
	}
	at := s.now().UTC()
	e, err := s.store.ResolveEventAudited(ctx, d.UID, id, ResolvableCodes(&t), by, comment, at, &tenancy.AuditEntry{
		At: at, OrgID: d.OrgID, UserID: a.UserID, ClientID: a.ClientID,
		Action: telemetry.AuditResolve, ObjectType: "device", ObjectID: strconv.FormatInt(int64(d.ID), 10)})
	switch {
	case errors.Is(err, telemetry.ErrNoEvent):
		return e, tenancy.Errorf(tenancy.NotFound, "no critical or warning event with this id on this device")
	case errors.Is(err, telemetry.ErrResolved):
		return e, tenancy.Errorf(tenancy.Conflict, "the event is already resolved")
	case err != nil:
		return e, err
	}
	return e, nil
}

// ResolvableCodes are the codes of a template's events a person may
// resolve (critical and warning events).
func ResolvableCodes(t *tenancy.Template) []string {
	var out []string
	for _, e := range t.Def.Events {
		if e.Type == "critical" || e.Type == "warning" {
			out = append(out, e.Code)
		}
	}
	return out
}

// CriticalCodes are the codes of a template's critical events: they stay
// open until resolved.
func CriticalCodes(t *tenancy.Template) []string {
	var out []string
	for _, e := range t.Def.Events {
		if e.Type == "critical" {
			out = append(out, e.Code)
		}
	}
	return out
}

// Open returns a device's open critical events, newest first (MaxOpen at
// most).
func (s *Service) Open(ctx context.Context, d tenancy.Device, t tenancy.Template) ([]telemetry.TimelineEntry, error) {
	codes := CriticalCodes(&t)
	if len(codes) == 0 {
		return nil, nil
	}
	return s.store.OpenEvents(ctx, d.UID, codes, MaxOpen)
}

// OpenCounts counts the open critical events of devices the caller shows
// (by UID; devices without any are absent).
func (s *Service) OpenCounts(ctx context.Context, devs []tenancy.Device) (map[string]int, error) {
	uids := make([]string, 0, len(devs))
	codeSet := map[string]bool{}
	critical := map[tenancy.TemplateID]map[string]bool{}
	for _, d := range devs {
		if _, seen := critical[d.TemplateID]; !seen {
			t, err := s.store.GetTemplate(ctx, d.TemplateID)
			if err != nil {
				return nil, err
			}
			m := map[string]bool{}
			for _, c := range CriticalCodes(&t) {
				m[c], codeSet[c] = true, true
			}
			critical[d.TemplateID] = m
		}
		if len(critical[d.TemplateID]) > 0 {
			uids = append(uids, d.UID)
		}
	}
	out := map[string]int{}
	if len(uids) == 0 {
		return out, nil
	}
	codes := make([]string, 0, len(codeSet))
	for c := range codeSet {
		codes = append(codes, c)
	}
	counts, err := s.store.OpenEventCounts(ctx, uids, codes)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		for code, n := range counts[d.UID] {
			if critical[d.TemplateID][code] {
				out[d.UID] += n
			}
		}
	}
	return out, nil
}

// Hidden returns the codes of a template's events the device timeline
// does not show (show on timeline off).
func Hidden(t *tenancy.Template) map[string]bool {
	var out map[string]bool
	for _, e := range t.Def.Events {
		if !e.ShownOnTimeline() {
			if out == nil {
				out = map[string]bool{}
			}
			out[e.Code] = true
		}
	}
	return out
}
