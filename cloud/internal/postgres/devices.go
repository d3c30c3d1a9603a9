package postgres

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/ulid"
)

const deviceCols = `d.id, d.org_id, coalesce(d.owner_id, 0), d.template_id, d.name, d.token_hash, d.token,
	coalesce(d.static_token_id, 0), d.created_at, d.updated_at, d.activated_at, coalesce(d.uid, ''),
	coalesce(d.location_id, 0)`

func scanDevice(r scanner) (tenancy.Device, error) {
	row, err := scanDeviceRow(r, false, nil)
	return row.Device, err
}

const deviceRowCols = deviceCols + `, d.online, d.last_reported, d.template_name, d.org_name, d.owner_name`

// scanDeviceRow scans a device, with the list columns when list is set
// and into total a trailing count column when total is not nil.
func scanDeviceRow(r scanner, list bool, total *int) (tenancy.DeviceRow, error) {
	var row tenancy.DeviceRow
	var hash []byte
	var created, updated, activated, online, last int64
	d := &row.Device
	dest := []any{&d.ID, &d.OrgID, &d.OwnerID, &d.TemplateID, &d.Name, &hash, &d.Token, &d.StaticToken,
		&created, &updated, &activated, &d.UID, &d.LocationID}
	if list {
		dest = append(dest, &online, &last, &row.TemplateName, &row.OrgName, &row.OwnerName)
	}
	if total != nil {
		dest = append(dest, total)
	}
	err := r.Scan(dest...)
	copy(d.TokenHash[:], hash)
	d.CreatedAt, d.UpdatedAt, d.ActivatedAt = fromMS(created), fromMS(updated), fromMS(activated)
	row.Online, row.LastReported = online != 0, fromMS(last)
	return row, err
}

// CreateDevice stores d; a device without a UID gets one (the Service
// always sets it; this keeps the column total for other writers).
func (q *queries) CreateDevice(ctx context.Context, d *tenancy.Device) error {
	if d.UID == "" {
		uid, err := ulid.New(time.Now(), rand.Reader)
		if err != nil {
			return err
		}
		d.UID = uid
	}
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO devices (org_id, owner_id, template_id, name, token_hash, token,
		static_token_id, created_at, updated_at, activated_at, uid, location_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		int64(d.OrgID), nullID(d.OwnerID), string(d.TemplateID), d.Name, d.TokenHash[:], d.Token, nullID(d.StaticToken),
		ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.ActivatedAt), d.UID, nullID(d.LocationID)).Scan(&id)
	if err != nil {
		return mapErr("create device", err)
	}
	d.ID = tenancy.DeviceID(id)
	return nil
}

func (q *queries) UpdateDevice(ctx context.Context, d tenancy.Device) error {
	tag, err := q.db.Exec(ctx, `UPDATE devices SET org_id = $1, owner_id = $2, template_id = $3, name = $4, token_hash = $5,
		token = $6, static_token_id = $7, updated_at = $8, activated_at = $9, location_id = $10 WHERE id = $11`,
		int64(d.OrgID), nullID(d.OwnerID), string(d.TemplateID), d.Name, d.TokenHash[:], d.Token, nullID(d.StaticToken),
		ms(d.UpdatedAt), ms(d.ActivatedAt), nullID(d.LocationID), int64(d.ID))
	return mustAffect("update device", tag, err)
}

func (q *queries) DeleteDevice(ctx context.Context, id tenancy.DeviceID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM devices WHERE id = $1`, int64(id))
	return mustAffect("delete device", tag, err)
}

func (q *queries) GetDevice(ctx context.Context, id tenancy.DeviceID) (tenancy.Device, error) {
	d, err := scanDevice(q.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.id = $1`, int64(id)))
	return d, mapErr("get device", err)
}

func (q *queries) GetDeviceByTokenHash(ctx context.Context, h [32]byte) (tenancy.Device, error) {
	d, err := scanDevice(q.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.token_hash = $1`, h[:]))
	return d, mapErr("get device", err)
}

func (q *queries) GetDeviceByUID(ctx context.Context, uid string) (tenancy.Device, error) {
	if !likeable(uid) {
		return tenancy.Device{}, &tenancy.Error{Code: tenancy.NotFound, Message: "get device: not found"}
	}
	d, err := scanDevice(q.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices d WHERE d.uid = $1`, uid))
	return d, mapErr("get device", err)
}

// DeviceUIDDeleted reads the tombstones the devices trigger writes on
// every deletion.
func (q *queries) DeviceUIDDeleted(ctx context.Context, uid string) (bool, error) {
	if !likeable(uid) {
		return false, nil
	}
	n, err := q.count(ctx, "device tombstone", `SELECT count(*) FROM deleted_device_uids WHERE uid = $1`, uid)
	return n > 0, err
}

// ListDevices answers "the devices of this scope" in id order (keyset
// pages). The planner chooses between walking the primary key and
// gathering the scope's orgs from devices_org; a plain scope's total is
// the maintained counter.
func (q *queries) ListDevices(ctx context.Context, f tenancy.DeviceFilter) (tenancy.List[tenancy.Device], error) {
	f.Page = pageSize(f.Page)
	var l tenancy.List[tenancy.Device]
	if !likeable(f.Query) {
		return l, nil
	}
	var a args
	cond := scopeSQL(f.Scope, "d.org_id", &a)
	plain := true
	if f.OwnerID != 0 {
		cond += " AND d.owner_id = " + a.add(int64(f.OwnerID))
		plain = false
	}
	if f.TemplateID != "" {
		cond += " AND d.template_id = " + a.add(string(f.TemplateID))
		plain = false
	}
	if f.Query != "" {
		cond += ` AND d.name ILIKE ` + a.add(likePattern(f.Query)) + ` ESCAPE '\'`
		plain = false
	}
	var err error
	if plain {
		col := "n_direct"
		if f.Scope.Subtree {
			col = "n_subtree"
		}
		l.Total, err = q.count(ctx, "count devices",
			`SELECT coalesce((SELECT `+col+` FROM org_device_counts WHERE org_id = $1), 0)`, int64(f.Scope.OrgID))
	} else {
		l.Total, err = q.count(ctx, "count devices", `SELECT count(*) FROM devices d WHERE `+cond, a.planned(!plain)...)
	}
	if err != nil {
		return l, err
	}
	pw, tail := pageSQL(f.Page, "d.id", false, &a)
	rows, err := q.db.Query(ctx, `SELECT `+deviceCols+` FROM devices d WHERE `+cond+pw+tail, a.planned(!plain)...)
	if l.Items, err = collect(rows, err, "list devices", scanDevice); err != nil {
		return l, err
	}
	if len(l.Items) > 0 {
		l.Next = next(len(l.Items), f.Page.Size, int64(l.Items[len(l.Items)-1].ID))
	}
	return l, nil
}

func (q *queries) ClearOwner(ctx context.Context, owner tenancy.UserID) (int, error) {
	tag, err := q.db.Exec(ctx, `UPDATE devices SET owner_id = NULL WHERE owner_id = $1`, int64(owner))
	return affected("clear owner", tag, err)
}

// sortCols maps a device list order to its key expression; each has a
// (key, id) index (migration 0001). Text keys compare case-folded, byte
// by byte, whatever the database's collation.
var sortCols = map[tenancy.DeviceSort]struct {
	col     string
	numeric bool
}{
	tenancy.SortName:         {`lower(d.name) COLLATE "C"`, false},
	tenancy.SortStatus:       {"d.online", true},
	tenancy.SortLastReported: {"d.last_reported", true},
	tenancy.SortTemplate:     {`lower(d.template_name) COLLATE "C"`, false},
	tenancy.SortOrg:          {`lower(d.org_name) COLLATE "C"`, false},
	tenancy.SortOwner:        {`lower(d.owner_name) COLLATE "C"`, false},
}

// ListDeviceRows answers the console's device list with one query for the
// page and, unless the caller knows it, one for the total. Totals come
// from the maintained counters when the filter is none, only the status
// or only the template over a subtree; otherwise they are counted. The
// page is one ordered, keyset-bounded query; the planner walks the
// order's (key, id) index for large scopes and gathers small ones.
func (q *queries) ListDeviceRows(ctx context.Context, f tenancy.DeviceFilter) (tenancy.DevicePage, error) {
	f.Page = pageSize(f.Page)
	if f.Sort == "" {
		f.Sort = tenancy.SortName
	}
	var p tenancy.DevicePage
	sc, ok := sortCols[f.Sort]
	if !ok {
		return p, &tenancy.Error{Code: tenancy.Invalid, Message: "unknown sort " + string(f.Sort)}
	}
	if !likeable(f.Query) {
		return p, nil
	}
	org := int64(f.Scope.OrgID)
	var a args
	// Tags drive the query unless an owner or a location (selective too)
	// is given: the tagged devices are read from the tag index, joined to
	// their rows and sorted, instead of walking the order's index and
	// probing the tags of every row until a page is full.
	from, tagsDrive := "devices d", f.OwnerID == 0 && f.LocationID == 0 && len(f.Tags) > 0
	if tagsDrive {
		from = taggedSQL(f, &a) + " JOIN devices d ON d.id = t.device_id"
	}
	cond := scopeSQL(f.Scope, "d.org_id", &a) + deviceFilterSQL(f, &a, tagsDrive)
	// Whether a filter's selectivity depends on its value: then the query
	// is planned for the values each time.
	selective := len(f.Tags) > 0 || f.Query != "" || f.OwnerID != 0 || f.LocationID != 0

	if !f.SkipTotal {
		others := f.OwnerID == 0 && f.LocationID == 0 && f.Query == "" && len(f.Tags) == 0
		var err error
		switch {
		case others && f.Status == tenancy.AnyStatus && f.TemplateID == "":
			p.Total, err = q.scopeCount(ctx, org, f.Scope.Subtree, "n")
		case others && f.TemplateID == "" && f.Status == tenancy.OnlyOnline:
			p.Total, err = q.scopeCount(ctx, org, f.Scope.Subtree, "n_online")
		case others && f.TemplateID == "" && f.Status == tenancy.OnlyOffline:
			var all, online int
			if all, err = q.scopeCount(ctx, org, f.Scope.Subtree, "n"); err == nil {
				online, err = q.scopeCount(ctx, org, f.Scope.Subtree, "n_online")
				p.Total = all - online
			}
		case others && f.Status == tenancy.AnyStatus && f.Scope.Subtree:
			p.Total, err = q.count(ctx, "count devices", `SELECT coalesce((SELECT n_subtree FROM org_template_counts
				WHERE org_id = $1 AND template_id = $2), 0)`, org, string(f.TemplateID))
		default:
			p.Total, err = q.count(ctx, "count devices", `SELECT count(*) FROM `+from+` WHERE `+cond, a.planned(selective)...)
		}
		if err != nil {
			return p, err
		}
		if p.Total == 0 {
			return p, nil
		}
	}

	keyset, order := "", " ORDER BY "+sc.col+", d.id"
	if f.Desc {
		order = " ORDER BY " + sc.col + " DESC, d.id DESC"
	}
	if f.After != nil {
		cmp := " > "
		if f.Desc {
			cmp = " < "
		}
		var key string
		if sc.numeric {
			key = a.add(f.After.Num)
		} else {
			key = `lower(` + a.add(f.After.Text) + `::text) COLLATE "C"`
		}
		keyset = " AND (" + sc.col + ", d.id)" + cmp + "(" + key + ", " + a.add(int64(f.After.ID)) + ")"
	}
	limit := a.add(f.Page.Size + 1)
	rows, err := q.db.Query(ctx, `SELECT `+deviceRowCols+` FROM `+from+` WHERE `+cond+keyset+order+` LIMIT `+limit, a.planned(selective)...)
	p.Rows, err = collect(rows, err, "list device rows", func(r scanner) (tenancy.DeviceRow, error) {
		return scanDeviceRow(r, true, nil)
	})
	if err != nil {
		return p, err
	}
	if len(p.Rows) > f.Page.Size {
		p.Rows, p.More = p.Rows[:f.Page.Size], true
	}
	return p, nil
}

// scopeCount reads a maintained counter (n or n_online) of a scope.
func (q *queries) scopeCount(ctx context.Context, org int64, subtree bool, counter string) (int, error) {
	col := counter + "_direct"
	if subtree {
		col = counter + "_subtree"
	}
	return q.count(ctx, "count devices", `SELECT coalesce((SELECT `+col+` FROM org_device_counts WHERE org_id = $1), 0)`, org)
}

// deviceFilterSQL is the filters of f other than the scope, as " AND …"
// terms on devices d; without the tag term when the tagged devices drive
// the query (taggedSQL).
func deviceFilterSQL(f tenancy.DeviceFilter, a *args, tagsImplied bool) string {
	var b strings.Builder
	if f.OwnerID != 0 {
		b.WriteString(" AND d.owner_id = " + a.add(int64(f.OwnerID)))
	}
	if f.TemplateID != "" {
		b.WriteString(" AND d.template_id = " + a.add(string(f.TemplateID)))
	}
	switch f.Status {
	case tenancy.OnlyOnline:
		b.WriteString(" AND d.online = 1")
	case tenancy.OnlyOffline:
		b.WriteString(" AND d.online = 0")
	}
	if f.LocationID != 0 {
		b.WriteString(" AND d.location_id = " + a.add(int64(f.LocationID)))
	}
	if f.Query != "" {
		b.WriteString(` AND d.name ILIKE ` + a.add(likePattern(f.Query)) + ` ESCAPE '\'`)
	}
	if len(f.Tags) > 0 && !tagsImplied {
		b.WriteString(" AND d.id IN (SELECT device_id FROM " + taggedSQL(f, a) + ")")
	}
	return b.String()
}

// taggedSQL is the devices carrying any of f's tags (every one with
// AllTags) as a derived table t(device_id), one row per device.
func taggedSQL(f tenancy.DeviceFilter, a *args) string {
	tags := uniqueTags(f.Tags)
	ids := make([]int64, len(tags))
	for i, t := range tags {
		ids[i] = int64(t)
	}
	q := "(SELECT device_id FROM device_tags WHERE tag_id = ANY(" + a.add(ids) + ") GROUP BY device_id"
	if f.AllTags && len(tags) > 1 {
		q += " HAVING count(*) = " + a.add(len(tags))
	}
	return q + ") t"
}

func uniqueTags(tags []tenancy.TagID) []tenancy.TagID {
	if len(tags) < 2 {
		return tags
	}
	t := slices.Clone(tags)
	slices.Sort(t)
	return slices.Compact(t)
}
