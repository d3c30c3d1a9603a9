package ota

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/blnkinf"
)

// Store persists firmware, shipments and device statuses. It is declared
// here, by its consumer; cloud/internal/sqlite implements it. Missing rows
// are tenancy NotFound errors, taken unique values Conflict.
type Store interface {
	CreateFirmware(ctx context.Context, f Firmware) (FirmwareID, error)
	GetFirmware(ctx context.Context, id FirmwareID) (Firmware, error)
	ListFirmware(ctx context.Context, root tenancy.OrgID, tmpl tenancy.TemplateID) ([]Firmware, error)
	CreateShipment(ctx context.Context, s Shipment) (ShipmentID, error)
	GetShipment(ctx context.Context, id ShipmentID) (Shipment, error)
	// ListShipments lists root's shipments, newest first; states filters
	// when not empty.
	ListShipments(ctx context.Context, root tenancy.OrgID, states ...State) ([]Shipment, error)
	SetShipmentState(ctx context.Context, id ShipmentID, st State, at time.Time) error
	// AnyActiveShipment reports whether any shipment is live or paused
	// (so the sync skips reading a gateway's view when none is).
	AnyActiveShipment(ctx context.Context) (bool, error)
	// PutDeviceStatus inserts or replaces one device's row.
	PutDeviceStatus(ctx context.Context, d DeviceStatus) error
	// DeviceStatuses lists a shipment's rows by device id.
	DeviceStatuses(ctx context.Context, id ShipmentID) ([]DeviceStatus, error)
}

// Options configure a Service. Tenancy, Store and Blobs are required.
type Options struct {
	Tenancy *tenancy.Service
	Store   Store
	Blobs   Blobs
	// MaxImageBytes bounds an uploaded image (required, positive).
	MaxImageBytes int64
	Now           func() time.Time // nil: time.Now
	// OnChange is called after a shipment changed in a way the sites must
	// see (created, paused, resumed, cancelled, approved), with the sites
	// concerned (those with a device of its template; an approved
	// device's org); nil: nothing.
	OnChange func(tenancy.Change)
}

// Service is firmware and shipments, authorized like templates.
type Service struct {
	ten      *tenancy.Service
	store    Store
	blobs    Blobs
	maxImage int64
	now      func() time.Time
	onChange func(tenancy.Change)
}

// New checks the options.
func New(o Options) (*Service, error) {
	if o.Tenancy == nil || o.Store == nil || o.Blobs == nil {
		return nil, errors.New("ota: Tenancy, Store and Blobs are required")
	}
	if o.MaxImageBytes <= 0 {
		return nil, fmt.Errorf("ota: MaxImageBytes %d: want a positive limit", o.MaxImageBytes)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnChange == nil {
		o.OnChange = func(tenancy.Change) {}
	}
	return &Service{ten: o.Tenancy, store: o.Store, blobs: o.Blobs, maxImage: o.MaxImageBytes, now: o.Now, onChange: o.OnChange}, nil
}

// MaxImageBytes is the upload limit.
func (s *Service) MaxImageBytes() int64 { return s.maxImage }

// Blobs is where the images are kept (for serving them).
func (s *Service) Blobs() Blobs { return s.blobs }

func invalid(format string, args ...any) error {
	return tenancy.Errorf(tenancy.Invalid, format, args...)
}

func notFound(what string) error { return tenancy.Errorf(tenancy.NotFound, "%s not found", what) }

// editor checks that a may edit firmware and shipments of its tree (root
// org, PRODUCT_EDIT) and that tmpl is one of the tree's templates.
func (s *Service) editor(ctx context.Context, a tenancy.Actor, tmpl tenancy.TemplateID) (tenancy.Template, error) {
	if s.ten.Tree().Depth(a.OrgID) != 1 {
		return tenancy.Template{}, tenancy.Errorf(tenancy.Forbidden, "firmware and shipments are managed in the root organization")
	}
	if err := s.ten.Decide(a, tenancy.ProductEdit, tenancy.OrgResource(a.OrgID)); err != nil {
		return tenancy.Template{}, err
	}
	if tmpl == "" {
		return tenancy.Template{}, nil
	}
	return s.ten.Template(ctx, a, tmpl)
}

// Upload stores an image for tmpl after checking its tag: the tag must be
// present and name the template as its firmware type (Blynk's default
// fw-type is the template id), with a version and a build.
func (s *Service) Upload(ctx context.Context, a tenancy.Actor, tmpl tenancy.TemplateID, name string, image []byte) (Firmware, error) {
	t, err := s.editor(ctx, a, tmpl)
	if err != nil {
		return Firmware{}, err
	}
	if int64(len(image)) > s.maxImage {
		return Firmware{}, invalid("the image is larger than %d bytes", s.maxImage)
	}
	if len(image) == 0 {
		return Firmware{}, invalid("the image is empty")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "firmware.bin"
	}
	if len(name) > 200 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00/\\") {
		return Firmware{}, invalid("file name: at most 200 characters, no slashes")
	}
	tag, err := blnkinf.Find(image)
	if err != nil {
		return Firmware{}, invalid("no usable firmware tag (blnkinf) in the image: %v", err)
	}
	if tag.Type != string(t.ID) {
		return Firmware{}, invalid("the image's firmware type %q does not match template %s", tag.Type, t.ID)
	}
	if tag.Build == "" {
		return Firmware{}, invalid("the image's firmware tag has no build")
	}
	h := newHasher()
	h.Write(image)
	f := Firmware{RootID: a.OrgID, TemplateID: t.ID, Name: name, SHA256: h.sha256(), MD5: h.md5(),
		Size: int64(len(image)), Version: tag.Version, Type: tag.Type, Build: tag.Build, CreatedAt: s.now().UTC()}
	if err := s.blobs.Put(ctx, f.SHA256, bytes.NewReader(image), f.Size); err != nil {
		return Firmware{}, err
	}
	id, err := s.store.CreateFirmware(ctx, f)
	if err != nil {
		return Firmware{}, err
	}
	f.ID = id
	return f, nil
}

// viewer checks that a may view tmpl (enabled in its org, PRODUCT_VIEW)
// and returns the template's root.
func (s *Service) viewer(ctx context.Context, a tenancy.Actor, tmpl tenancy.TemplateID) (tenancy.Template, error) {
	return s.ten.Template(ctx, a, tmpl)
}

// Firmwares lists tmpl's firmware, newest first.
func (s *Service) Firmwares(ctx context.Context, a tenancy.Actor, tmpl tenancy.TemplateID) ([]Firmware, error) {
	t, err := s.viewer(ctx, a, tmpl)
	if err != nil {
		return nil, err
	}
	return s.store.ListFirmware(ctx, t.RootID, t.ID)
}

// Firmware reads one firmware the actor may view.
func (s *Service) Firmware(ctx context.Context, a tenancy.Actor, id FirmwareID) (Firmware, error) {
	f, err := s.store.GetFirmware(ctx, id)
	if tenancy.CodeOf(err) == tenancy.NotFound {
		return Firmware{}, notFound("firmware")
	}
	if err != nil {
		return Firmware{}, err
	}
	if _, err := s.viewer(ctx, a, f.TemplateID); err != nil {
		return Firmware{}, notFound("firmware")
	}
	return f, nil
}

// NewShipment describes a shipment to create.
type NewShipment struct {
	Name           string
	FirmwareID     FirmwareID
	Devices        []tenancy.DeviceID
	Window         Window
	Rule           Rule
	Attempts       int
	UserControlled bool
}

// DefaultAttempts is Blynk's download limit per 24 h.
const DefaultAttempts = 3

// MaxNameLen is Blynk's limit on a shipment's name.
const MaxNameLen = 40

// CreateShipment starts a live shipment of a firmware of the actor's tree.
func (s *Service) CreateShipment(ctx context.Context, a tenancy.Actor, in NewShipment) (Shipment, error) {
	f, err := s.store.GetFirmware(ctx, in.FirmwareID)
	if tenancy.CodeOf(err) == tenancy.NotFound || (err == nil && f.RootID != a.OrgID) {
		if _, err := s.editor(ctx, a, ""); err != nil {
			return Shipment{}, err
		}
		return Shipment{}, notFound("firmware")
	}
	if err != nil {
		return Shipment{}, err
	}
	if _, err := s.editor(ctx, a, f.TemplateID); err != nil {
		return Shipment{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > MaxNameLen || !utf8.ValidString(in.Name) {
		return Shipment{}, invalid("name: 1 to %d characters", MaxNameLen)
	}
	switch in.Window {
	case "":
		in.Window = AnyTime
	case AnyTime, Night, Morning, Afternoon, Evening:
	default:
		return Shipment{}, invalid("window: any, night, morning, afternoon or evening")
	}
	switch in.Rule {
	case "":
		in.Rule = LowerVersion
	case LowerVersion, OtherBuild:
	default:
		return Shipment{}, invalid("rule: lower_version or other_build")
	}
	if in.Attempts == 0 {
		in.Attempts = DefaultAttempts
	}
	if in.Attempts < 1 || in.Attempts > 100 {
		return Shipment{}, invalid("attempts: 1 to 100 per 24 h")
	}
	devs := slices.Clone(in.Devices)
	slices.Sort(devs)
	devs = slices.Compact(devs)
	for _, id := range devs {
		d, err := s.ten.Device(ctx, a, id)
		if err != nil {
			return Shipment{}, err
		}
		if d.TemplateID != f.TemplateID {
			return Shipment{}, invalid("device %d is not of template %s", id, f.TemplateID)
		}
	}
	now := s.now().UTC()
	sh := Shipment{RootID: a.OrgID, Name: in.Name, FirmwareID: f.ID, TemplateID: f.TemplateID, Devices: devs,
		Window: in.Window, Rule: in.Rule, Attempts: in.Attempts, UserControlled: in.UserControlled, State: Live,
		CreatedAt: now, UpdatedAt: now}
	id, err := s.store.CreateShipment(ctx, sh)
	if err != nil {
		return Shipment{}, err
	}
	sh.ID = id
	s.onChange(tenancy.Change{UsedTemplates: []tenancy.TemplateID{sh.TemplateID}})
	return sh, nil
}

// Shipment reads one of the actor's tree's shipments (PRODUCT_VIEW).
func (s *Service) Shipment(ctx context.Context, a tenancy.Actor, id ShipmentID) (Shipment, error) {
	sh, err := s.store.GetShipment(ctx, id)
	if tenancy.CodeOf(err) == tenancy.NotFound || (err == nil && sh.RootID != s.ten.Tree().Root(a.OrgID)) {
		return Shipment{}, notFound("shipment")
	}
	if err != nil {
		return Shipment{}, err
	}
	if _, err := s.viewer(ctx, a, sh.TemplateID); err != nil {
		return Shipment{}, notFound("shipment")
	}
	return sh, nil
}

// Shipments lists the actor's root's shipments, newest first (root org,
// PRODUCT_VIEW).
func (s *Service) Shipments(ctx context.Context, a tenancy.Actor) ([]Shipment, error) {
	if s.ten.Tree().Depth(a.OrgID) != 1 {
		return nil, tenancy.Errorf(tenancy.Forbidden, "firmware and shipments are managed in the root organization")
	}
	if err := s.ten.Decide(a, tenancy.ProductView, tenancy.OrgResource(a.OrgID)); err != nil {
		return nil, err
	}
	return s.store.ListShipments(ctx, a.OrgID)
}

// Action is a lifecycle change.
type Action string

// Lifecycle actions.
const (
	Pause  Action = "pause"
	Resume Action = "resume"
	Cancel Action = "cancel"
)

// Change pauses, resumes or cancels a shipment (root, PRODUCT_EDIT). A
// cancelled shipment is final; repeating the current state is a no-op.
func (s *Service) Change(ctx context.Context, a tenancy.Actor, id ShipmentID, act Action) (Shipment, error) {
	sh, err := s.Shipment(ctx, a, id)
	if err != nil {
		return Shipment{}, err
	}
	if _, err := s.editor(ctx, a, ""); err != nil {
		return Shipment{}, err
	}
	var to State
	switch act {
	case Pause:
		to = Paused
	case Resume:
		to = Live
	case Cancel:
		to = Cancelled
	default:
		return Shipment{}, invalid("action: pause, resume or cancel")
	}
	if sh.State == to {
		return sh, nil
	}
	if sh.State == Cancelled {
		return Shipment{}, invalid("the shipment is cancelled")
	}
	now := s.now().UTC()
	if err := s.store.SetShipmentState(ctx, id, to, now); err != nil {
		return Shipment{}, err
	}
	sh.State, sh.UpdatedAt = to, now
	s.onChange(tenancy.Change{UsedTemplates: []tenancy.TemplateID{sh.TemplateID}})
	return sh, nil
}

// Row is one device of a shipment's status table.
type Row struct {
	Device tenancy.Device
	DeviceStatus
}

// Statuses is the status table: every targeted device the actor can see
// (for an empty device list, every device of the template in the tree),
// with its reported status or Pending.
func (s *Service) Statuses(ctx context.Context, a tenancy.Actor, id ShipmentID) (Shipment, []Row, error) {
	sh, err := s.Shipment(ctx, a, id)
	if err != nil {
		return Shipment{}, nil, err
	}
	reported, err := s.store.DeviceStatuses(ctx, id)
	if err != nil {
		return Shipment{}, nil, err
	}
	byDev := map[tenancy.DeviceID]DeviceStatus{}
	for _, d := range reported {
		byDev[d.DeviceID] = d
	}
	var devs []tenancy.Device
	if len(sh.Devices) > 0 {
		for _, did := range sh.Devices {
			d, err := s.ten.Device(ctx, a, did)
			if tenancy.CodeOf(err) == tenancy.NotFound {
				continue // deleted since, or out of the actor's sight
			}
			if err != nil {
				return Shipment{}, nil, err
			}
			devs = append(devs, d)
		}
	} else {
		for p := (tenancy.Page{Size: tenancy.MaxPageSize}); ; {
			l, err := s.ten.Devices(ctx, a, tenancy.DeviceQuery{IncludeSub: true, TemplateID: sh.TemplateID, Page: p})
			if err != nil {
				return Shipment{}, nil, err
			}
			devs = append(devs, l.Items...)
			if l.Next == 0 {
				break
			}
			p.After = l.Next
		}
	}
	rows := make([]Row, 0, len(devs))
	for _, d := range devs {
		st, ok := byDev[d.ID]
		if !ok {
			st = DeviceStatus{ShipmentID: id, DeviceID: d.ID, Status: Pending}
			if sh.UserControlled {
				st.Status = AwaitingUser
			}
		}
		rows = append(rows, Row{Device: d, DeviceStatus: st})
	}
	return sh, rows, nil
}

// AwaitingApproval lists the user-controlled shipments (live or paused)
// waiting for the actor to approve device dev: none unless the actor may
// control the device (Approve's rule), so what it lists can be approved.
func (s *Service) AwaitingApproval(ctx context.Context, a tenancy.Actor, dev tenancy.DeviceID) ([]Shipment, error) {
	d, err := s.ten.Device(ctx, a, dev)
	if err != nil {
		return nil, err
	}
	if mayApprove(s.ten, a, d) != nil {
		return nil, nil
	}
	shs, err := s.store.ListShipments(ctx, s.ten.Tree().Root(d.OrgID), Live, Paused)
	if err != nil {
		return nil, err
	}
	var out []Shipment
	for _, sh := range shs {
		if !sh.UserControlled || sh.TemplateID != d.TemplateID || (len(sh.Devices) > 0 && !slices.Contains(sh.Devices, dev)) {
			continue
		}
		rows, err := s.store.DeviceStatuses(ctx, sh.ID)
		if err != nil {
			return nil, err
		}
		waiting := true
		for _, r := range rows {
			if r.DeviceID == dev {
				waiting = r.Status == AwaitingUser && !r.Approved
			}
		}
		if waiting {
			out = append(out, sh)
		}
	}
	return out, nil
}

// mayApprove is the right to approve an update of d: its owner with
// OWN_DEVICES_CONTROL, anyone else with ORG_DEVICES_CONTROL.
func mayApprove(ten *tenancy.Service, a tenancy.Actor, d tenancy.Device) error {
	perm := tenancy.OrgDevicesControl
	if d.OwnerID != 0 && d.OwnerID == a.UserID {
		perm = tenancy.OwnDevicesControl
	}
	return ten.Decide(a, perm, tenancy.Resource{OrgID: d.OrgID, OwnerID: d.OwnerID})
}

// Approve lets a user-controlled shipment update one device: anyone who
// may control the device (its owner, or staff with the org's control
// key) may approve it; the update then ignores the preferred time.
func (s *Service) Approve(ctx context.Context, a tenancy.Actor, id ShipmentID, dev tenancy.DeviceID) error {
	// The device first: the shipment is looked up only for a device the
	// actor sees, so a shipment out of reach answers like a missing one
	// (not "device not found" for an existing shipment id).
	d, err := s.ten.Device(ctx, a, dev)
	if err != nil {
		return err
	}
	sh, err := s.store.GetShipment(ctx, id)
	if tenancy.CodeOf(err) == tenancy.NotFound {
		return notFound("shipment")
	}
	if err != nil {
		return err
	}
	if sh.RootID != s.ten.Tree().Root(d.OrgID) || d.TemplateID != sh.TemplateID ||
		(len(sh.Devices) > 0 && !slices.Contains(sh.Devices, dev)) {
		return notFound("shipment")
	}
	if err := mayApprove(s.ten, a, d); err != nil {
		return err
	}
	if sh.State == Cancelled {
		return invalid("the shipment is cancelled")
	}
	if !sh.UserControlled {
		return invalid("the shipment is not user-controlled")
	}
	cur := DeviceStatus{ShipmentID: id, DeviceID: dev, Status: AwaitingUser}
	rows, err := s.store.DeviceStatuses(ctx, id)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.DeviceID == dev {
			cur = r
		}
	}
	cur.Approved, cur.UpdatedAt = true, s.now().UTC()
	if err := s.store.PutDeviceStatus(ctx, cur); err != nil {
		return err
	}
	s.onChange(tenancy.Change{Orgs: []tenancy.OrgID{d.OrgID}})
	return nil
}
