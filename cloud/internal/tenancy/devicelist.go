package tenancy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"
)

// The console's device list: every filter and sort of Blynk.Console's
// device table, answered by the store in one query per page (plus one
// count on the first page), with an opaque keyset cursor.

// DeviceSort is a column the device list can be ordered by. Ties are
// broken by device id, so the order is total and the cursor exact.
type DeviceSort string

// Device list columns. Text columns compare case-insensitively.
const (
	SortName         DeviceSort = "name" // the default
	SortStatus       DeviceSort = "status"
	SortLastReported DeviceSort = "lastReported"
	SortTemplate     DeviceSort = "template" // by template name
	SortOrg          DeviceSort = "org"      // by organization name
	SortOwner        DeviceSort = "owner"    // by owner name (email when unnamed); no owner is ""
)

func (s DeviceSort) valid() bool {
	switch s {
	case SortName, SortStatus, SortLastReported, SortTemplate, SortOrg, SortOwner:
		return true
	}
	return false
}

// numeric reports whether the sort key is DeviceKey.Num (else Text).
func (s DeviceSort) numeric() bool { return s == SortStatus || s == SortLastReported }

// StatusFilter keeps online or offline devices. A device is online when
// its gateway last reported it connected; devices never seen are offline.
type StatusFilter string

// Status filters.
const (
	AnyStatus   StatusFilter = ""
	OnlyOnline  StatusFilter = "online"
	OnlyOffline StatusFilter = "offline"
)

// MaxTagFilter is the most tags one device list query may name (Blynk's
// device filters take at most 5 values).
const MaxTagFilter = 5

// DeviceKey is a position in the device list: the sort key of a row and
// its id. Text holds text keys, Num numeric ones (status 0/1, last
// reported in ms).
type DeviceKey struct {
	Text string
	Num  int64
	ID   DeviceID
}

// DeviceRow is one line of the device list: the device and what the list
// shows of it.
type DeviceRow struct {
	Device
	Online       bool
	LastReported time.Time // zero: never reported
	TemplateName string
	OrgName      string
	OwnerName    string // the owner's name, or email when unnamed; "" without owner
}

// Key is the row's position under sort s: what DeviceFilter.After takes
// to continue after this row.
func (r DeviceRow) Key(s DeviceSort) DeviceKey {
	k := DeviceKey{ID: r.ID}
	switch s {
	case SortName:
		k.Text = r.Name
	case SortStatus:
		if r.Online {
			k.Num = 1
		}
	case SortLastReported:
		k.Num = r.LastReported.UnixMilli()
		if r.LastReported.IsZero() {
			k.Num = 0
		}
	case SortTemplate:
		k.Text = r.TemplateName
	case SortOrg:
		k.Text = r.OrgName
	case SortOwner:
		k.Text = r.OwnerName
	}
	return k
}

// DevicePage is one page of the device list.
type DevicePage struct {
	Rows []DeviceRow
	// Total counts every device matching the query. Pages after the first
	// repeat the first page's count (carried in the cursor) rather than
	// count again.
	Total int
	// Next is the cursor of the following page, "" after the last.
	Next string
	// More is set by the store when rows follow the last one; the Service
	// turns it into Next.
	More bool
}

// DeviceListQuery is what the console's device list asks: DeviceQuery's
// scope and filters plus the console's own.
type DeviceListQuery struct {
	DeviceQuery // OrgID, IncludeSub, OwnerID, TemplateID, Query; Page.Size only
	Status      StatusFilter
	LocationID  LocationID // 0: any
	Tags        []TagID    // at most MaxTagFilter; needs TAGS_MANAGE
	AllTags     bool       // a device must carry every tag (Match All); else any (Match Any)
	Sort        DeviceSort // default SortName
	Desc        bool
	Cursor      string // DevicePage.Next of the previous page; "" for the first
}

// deviceCursor is what Next encodes: the position after the page, the
// order it belongs to, and the first page's total.
type deviceCursor struct {
	Sort  DeviceSort `json:"s"`
	Desc  bool       `json:"d,omitempty"`
	Text  string     `json:"k,omitempty"`
	Num   int64      `json:"n,omitempty"`
	ID    int64      `json:"i"`
	Total int        `json:"t"`
}

func encodeDeviceCursor(c deviceCursor) string {
	b, _ := json.Marshal(c) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxCursorLen bounds what is decoded: a key is at most a 60-rune name or
// an email, so real cursors are far shorter.
const maxCursorLen = 1024

func decodeDeviceCursor(s string) (deviceCursor, error) {
	var c deviceCursor
	if len(s) > maxCursorLen {
		return c, invalid("invalid cursor")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, invalid("invalid cursor")
	}
	if err := json.Unmarshal(b, &c); err != nil || !c.Sort.valid() || c.ID <= 0 || c.Total < 0 {
		return deviceCursor{}, invalid("invalid cursor")
	}
	return c, nil
}

// DeviceList answers the console's device list: the devices the actor may
// see (as Devices), filtered, sorted and keyset-paginated by the store.
func (s *Service) DeviceList(ctx context.Context, a Actor, q DeviceListQuery) (DevicePage, error) {
	page, err := q.Page.Normalize()
	if err != nil {
		return DevicePage{}, err
	}
	if q.Sort == "" {
		q.Sort = SortName
	}
	if !q.Sort.valid() {
		return DevicePage{}, invalid("unknown sort %q", q.Sort)
	}
	switch q.Status {
	case AnyStatus, OnlyOnline, OnlyOffline:
	default:
		return DevicePage{}, invalid("unknown status %q", q.Status)
	}
	if len(q.Tags) > MaxTagFilter {
		return DevicePage{}, invalid("at most %d tags per filter", MaxTagFilter)
	}
	var after *DeviceKey
	total := -1
	if q.Cursor != "" {
		c, err := decodeDeviceCursor(q.Cursor)
		if err != nil {
			return DevicePage{}, err
		}
		if c.Sort != q.Sort || c.Desc != q.Desc {
			return DevicePage{}, invalid("the cursor belongs to another order")
		}
		after, total = &DeviceKey{Text: c.Text, Num: c.Num, ID: DeviceID(c.ID)}, c.Total
	}
	t := s.tree.Load()
	org := q.OrgID
	if org == 0 {
		org = a.OrgID
	}
	if !t.InScope(a, org) {
		return DevicePage{}, notFound("organization")
	}
	if len(q.Tags) > 0 {
		// Tags are shown to administrators only (§6): filtering by them
		// would reveal them.
		if err := s.decide(a, TagsManage, Resource{OrgID: org}, "organization"); err != nil {
			return DevicePage{}, err
		}
	}
	_, owner, ok := t.DeviceScope(a)
	if !ok {
		return DevicePage{}, nil
	}
	if q.OwnerID != 0 {
		if owner != 0 && q.OwnerID != owner {
			return DevicePage{}, nil
		}
		owner = q.OwnerID
	}
	f := DeviceFilter{Scope: t.ScopeOf(a, org, q.IncludeSub), OwnerID: owner, TemplateID: q.TemplateID,
		Query: q.Query, Page: Page{Size: page.Size}, Status: q.Status, LocationID: q.LocationID, Tags: q.Tags,
		AllTags: q.AllTags, Sort: q.Sort, Desc: q.Desc, After: after, SkipTotal: total >= 0, KnownTotal: max(total, 0)}
	p, err := s.store.ListDeviceRows(ctx, f)
	if err != nil {
		return DevicePage{}, internal("list devices", err)
	}
	if total >= 0 {
		p.Total = total
	}
	if p.More && len(p.Rows) > 0 {
		k := p.Rows[len(p.Rows)-1].Key(q.Sort)
		p.Next = encodeDeviceCursor(deviceCursor{Sort: q.Sort, Desc: q.Desc, Text: k.Text, Num: k.Num, ID: int64(k.ID), Total: p.Total})
	}
	p.More = false
	return p, nil
}

// SetDeviceLocation places a device at a location (ORG_DEVICES_EDIT), or
// clears it with 0. The location must be one the actor may see, of the
// device's organization or an organization above it.
func (s *Service) SetDeviceLocation(ctx context.Context, a Actor, id DeviceID, loc LocationID) (Device, error) {
	var d Device
	err := s.atomic(ctx, "set device location", func(tx Tx) error {
		before, err := s.loadDevice(ctx, tx, a, id, OrgDevicesEdit)
		if err != nil {
			return err
		}
		if loc != 0 {
			l, err := s.loadLocation(ctx, tx, a, loc, LocationsOrgView)
			if err != nil {
				return err
			}
			if !s.tree.Load().Within(l.OrgID, before.OrgID) {
				return invalid("the location must belong to the device's organization or one above it")
			}
		}
		d = before
		d.LocationID, d.UpdatedAt = loc, s.now().UTC()
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, d.OrgID, "device.location", "device", id, before, d)
	})
	return d, err
}
