package sqlite

import (
	"context"
	"slices"
	"strings"

	"outpost/cloud/internal/tenancy"
)

// sortCols maps a device list order to its key column (migration 0004
// keeps the copies and one (key, id) index per order).
var sortCols = map[tenancy.DeviceSort]struct{ col, index string }{
	tenancy.SortName:         {"d.name COLLATE NOCASE", "devices_name"},
	tenancy.SortStatus:       {"d.online", "devices_status"},
	tenancy.SortLastReported: {"d.last_reported", "devices_last_reported"},
	tenancy.SortTemplate:     {"d.template_name COLLATE NOCASE", "devices_template_name"},
	tenancy.SortOrg:          {"d.org_name COLLATE NOCASE", "devices_org_name"},
	tenancy.SortOwner:        {"d.owner_name COLLATE NOCASE", "devices_owner_name"},
}

const deviceRowCols = deviceCols + `, d.online, d.last_reported, d.template_name, d.org_name, d.owner_name`

func scanDeviceRow(r scanner) (tenancy.DeviceRow, error) {
	var row tenancy.DeviceRow
	var hash []byte
	var created, updated, activated, last int64
	d := &row.Device
	err := r.Scan(&d.ID, &d.OrgID, &d.OwnerID, &d.TemplateID, &d.Name, &hash, &d.Token, &d.StaticToken,
		&created, &updated, &activated, &d.UID, &d.LocationID,
		&row.Online, &last, &row.TemplateName, &row.OrgName, &row.OwnerName)
	copy(d.TokenHash[:], hash)
	d.CreatedAt, d.UpdatedAt, d.ActivatedAt = fromMS(created), fromMS(updated), fromMS(activated)
	row.LastReported = fromMS(last)
	return row, err
}

// ListDeviceRows answers the console's device list with one query for the
// page and, on the first page, one count. The page has two plans, chosen
// from the number of matching devices (or the scope's size when that is
// not counted) as in ListDevices:
//
//   - walk: read the order's (key, id) index from the cursor on, keeping
//     rows in scope that pass the filters; it stops after one page, so it
//     wins when matches are a large share of all devices.
//   - gather: read the scope's devices org by org (or an owner's devices),
//     filter, and sort them; it wins for small scopes and rare matches.
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
	org := int64(f.Scope.OrgID)

	filter, fargs := deviceFilterSQL(f)
	unfiltered := filter == "" && f.OwnerID == 0

	// Scope sizes from the maintained counters.
	var inScope, all int
	var err error
	if f.Scope.Subtree {
		inScope, all, err = q.deviceCounts(ctx, org)
	} else {
		inScope, err = q.count(ctx, "count devices", `SELECT coalesce((SELECT n_direct FROM org_device_counts WHERE org_id = ?), 0)`, org)
		all = inScope
	}
	if err != nil {
		return p, err
	}

	// The gather source: the scope's devices (or the owner's), unordered.
	var gatherFrom, gatherCond string
	var gatherArgs []any
	switch {
	case f.OwnerID != 0:
		gatherFrom = "devices d INDEXED BY devices_owner"
		gatherCond, gatherArgs = "d.owner_id = ?", []any{int64(f.OwnerID)}
		if f.Scope.Subtree {
			gatherCond += " AND EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = d.org_id)"
		} else {
			gatherCond += " AND d.org_id = ?"
		}
		gatherArgs = append(gatherArgs, org)
	case f.Scope.Subtree:
		gatherFrom = "org_closure c CROSS JOIN devices d INDEXED BY devices_org"
		gatherCond, gatherArgs = "c.ancestor = ? AND d.org_id = c.descendant", []any{org}
	default:
		gatherFrom, gatherCond, gatherArgs = "devices d INDEXED BY devices_org", "d.org_id = ?", []any{org}
	}

	matching := inScope
	if f.SkipTotal {
		matching = f.KnownTotal
	} else {
		// The count reads index entries of the scope where it can.
		countFrom := gatherFrom
		if f.OwnerID == 0 {
			countFrom = strings.Replace(gatherFrom, "INDEXED BY devices_org", "INDEXED BY devices_org_filters", 1)
		}
		switch {
		case unfiltered:
			matching = inScope
		default:
			matching, err = q.count(ctx, "count devices", `SELECT count(*) FROM `+countFrom+` WHERE `+gatherCond+filter,
				append(slices.Clip(gatherArgs), fargs...)...)
			if err != nil {
				return p, err
			}
		}
		p.Total = matching
	}
	if matching == 0 && !f.SkipTotal {
		return p, nil
	}
	matching = max(matching, 1) // a stale total must not rule the walk out

	keyset, order := "", " ORDER BY "+sc.col+", d.id"
	var kargs []any
	if f.After != nil {
		cmp := " > "
		if f.Desc {
			cmp = " < "
		}
		keyset = " AND (" + sc.col + ", d.id)" + cmp + "(?, ?)"
		if f.Sort == tenancy.SortStatus || f.Sort == tenancy.SortLastReported {
			kargs = []any{f.After.Num, int64(f.After.ID)}
		} else {
			kargs = []any{f.After.Text, int64(f.After.ID)}
		}
	}
	if f.Desc {
		order = " ORDER BY " + sc.col + " DESC, d.id DESC"
	}

	limit := f.Page.Size + 1
	var from, cond string
	var args []any
	// Walk when it reads fewer rows: about limit·all/matching against the
	// gather's inScope. An owner's devices are few: always gather them.
	if f.OwnerID == 0 && int64(matching)*int64(inScope) >= int64(limit)*int64(all) {
		from = "devices d INDEXED BY " + sc.index
		switch {
		case !f.Scope.Subtree:
			cond, args = "d.org_id = ?", []any{org}
		default:
			cond, args = "EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = d.org_id)", []any{org}
		}
	} else {
		from, cond, args = gatherFrom, gatherCond, slices.Clip(gatherArgs)
	}
	args = append(append(append(args, fargs...), kargs...), limit)
	rows, err := q.query(ctx, `SELECT `+deviceRowCols+` FROM `+from+` WHERE `+cond+filter+keyset+order+` LIMIT ?`, args...)
	if err != nil {
		return p, mapErr("list device rows", err)
	}
	if p.Rows, err = collect(rows, "list device rows", scanDeviceRow); err != nil {
		return p, err
	}
	if len(p.Rows) > f.Page.Size {
		p.Rows, p.More = p.Rows[:f.Page.Size], true
	}
	return p, nil
}

// deviceFilterSQL is the filters of f other than scope and owner, as
// " AND …" terms on devices d.
func deviceFilterSQL(f tenancy.DeviceFilter) (string, []any) {
	var b strings.Builder
	var args []any
	if f.TemplateID != "" {
		b.WriteString(" AND d.template_id = ?")
		args = append(args, string(f.TemplateID))
	}
	switch f.Status {
	case tenancy.OnlyOnline:
		b.WriteString(" AND d.online = 1")
	case tenancy.OnlyOffline:
		b.WriteString(" AND d.online = 0")
	}
	if f.LocationID != 0 {
		b.WriteString(" AND d.location_id = ?")
		args = append(args, int64(f.LocationID))
	}
	if f.Query != "" {
		b.WriteString(` AND d.name LIKE ? ESCAPE '\'`)
		args = append(args, likePattern(f.Query))
	}
	if tags := uniqueTags(f.Tags); len(tags) > 0 {
		in := "(?" + strings.Repeat(", ?", len(tags)-1) + ")"
		if f.AllTags && len(tags) > 1 {
			b.WriteString(" AND (SELECT count(*) FROM device_tags t WHERE t.device_id = d.id AND t.tag_id IN " + in + ") = ?")
		} else {
			b.WriteString(" AND EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag_id IN " + in + ")")
		}
		for _, t := range tags {
			args = append(args, int64(t))
		}
		if f.AllTags && len(tags) > 1 {
			args = append(args, len(tags))
		}
	}
	return b.String(), args
}

func uniqueTags(tags []tenancy.TagID) []tenancy.TagID {
	if len(tags) < 2 {
		return tags
	}
	t := slices.Clone(tags)
	slices.Sort(t)
	return slices.Compact(t)
}
