package sqlite

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"outpost/cloud/internal/tenancy"
)

// sortCols maps a device list order to its key column (migration 0005
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

func scanDeviceRow(r scanner) (tenancy.DeviceRow, error) { return scanDeviceRowTotal(r, nil) }

// scanDeviceRowTotal scans a row, and into total a trailing count column
// when total is not nil.
func scanDeviceRowTotal(r scanner, total *int) (tenancy.DeviceRow, error) {
	var row tenancy.DeviceRow
	var hash []byte
	var created, updated, activated, last int64
	d := &row.Device
	dest := []any{&d.ID, &d.OrgID, &d.OwnerID, &d.TemplateID, &d.Name, &hash, &d.Token, &d.StaticToken,
		&created, &updated, &activated, &d.UID, &d.LocationID,
		&row.Online, &last, &row.TemplateName, &row.OrgName, &row.OwnerName}
	if total != nil {
		dest = append(dest, total)
	}
	err := r.Scan(dest...)
	copy(d.TokenHash[:], hash)
	d.CreatedAt, d.UpdatedAt, d.ActivatedAt = fromMS(created), fromMS(updated), fromMS(activated)
	row.LastReported = fromMS(last)
	return row, err
}

// ListDeviceRows answers the console's device list with one query for the
// page and, on the first page, at most one count. Totals come from the
// maintained counters when the filter is none, only the status or only
// the template; from the driven page itself (a count of its materialized
// candidates); otherwise from a count of index entries of the scope.
//
// The page has three plans:
//
//   - driven: when a selective filter has its own index (owner, location,
//     tags, a search of three characters or more through the trigram
//     index), read its candidates (one tag, or all tags: the first tag's
//     index entries, the others probed per entry before the device is
//     read), keep those in scope passing the other filters, sort their
//     ids and keys, and read only the page's rows whole.
//
// A subtree scope is a probe of org_closure per row, skipped (in the same
// statement) when its org is the store's only root.
//   - walk: read the order's (key, id) index from the cursor on, keeping
//     rows in scope that pass the filters; it stops after one page, so it
//     wins when matches are a large share of all devices: it reads about
//     limit·all/matching rows.
//   - gather: read the scope's devices org by org, filter and sort them;
//     it reads the scope's devices and wins for small scopes.
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
	// Tags drive the page unless an owner or a location does; then the
	// tag filter holds by construction: "any" reads the union of the tags'
	// devices, "all" their intersection.
	tagsDrive := f.OwnerID == 0 && f.LocationID == 0 && len(f.Tags) > 0
	filter, fargs := deviceFilterSQL(f, tagsDrive)

	inScope, online, all, err := q.listCounts(ctx, org, f.Scope.Subtree)
	if err != nil {
		return p, err
	}
	// The scope as a test of one row.
	scope, scopeArgs := "d.org_id = ?", []any{org}
	if f.Scope.Subtree {
		// The store's only root holds every device: no probe per row
		// (read once, in the statement that reads the rows).
		scope = "((SELECT count(*) = 1 AND max(id) = ? FROM orgs WHERE parent_id IS NULL) OR " +
			"EXISTS (SELECT 1 FROM org_closure c WHERE c.ancestor = ? AND c.descendant = d.org_id))"
		scopeArgs = []any{org, org}
	}
	// The gather source: the scope's devices, org by org.
	gatherFrom, gatherCond := "devices d INDEXED BY devices_org", "d.org_id = ?"
	if f.Scope.Subtree {
		gatherFrom, gatherCond = "org_closure c CROSS JOIN devices d INDEXED BY devices_org", "c.ancestor = ? AND d.org_id = c.descendant"
	}
	// The driven source, if a selective filter has an index.
	var drivenFrom, drivenCond, tagsFrom, tagsCond string
	var drivenArgs, tagsArgs []any
	tags := uniqueTags(f.Tags)
	if len(tags) > 1 && f.AllTags && f.OwnerID == 0 && f.LocationID == 0 {
		if tags, err = q.rarestFirst(ctx, tags); err != nil {
			return p, err
		}
	}
	switch {
	case f.OwnerID != 0:
		drivenFrom, drivenCond, drivenArgs = "devices d INDEXED BY devices_owner", "d.owner_id = ?", []any{int64(f.OwnerID)}
	case f.LocationID != 0:
		drivenFrom, drivenCond, drivenArgs = "devices d INDEXED BY devices_location", "d.location_id = ?", []any{int64(f.LocationID)}
	case len(tags) == 1 || len(tags) > 0 && f.AllTags:
		// One tag's index entries in device order, each joined to its
		// device (no list of ids built first); all tags: the rarest tag's
		// entries joined to the others' entries of the same device (a
		// primary key probe) before the device is read.
		tagsFrom, tagsCond = "device_tags t INDEXED BY device_tags_tag", "t.tag_id = ?"
		for i, t := range tags {
			if i > 0 {
				a := "a" + strconv.Itoa(i)
				tagsFrom += " CROSS JOIN device_tags " + a
				tagsCond += " AND " + a + ".device_id = t.device_id AND " + a + ".tag_id = ?"
			}
			tagsArgs = append(tagsArgs, int64(t))
		}
		drivenFrom = tagsFrom + " CROSS JOIN devices d"
		drivenCond, drivenArgs = tagsCond+" AND d.id = t.device_id", slices.Clip(tagsArgs)
	case len(tags) > 0:
		drivenFrom = "devices d"
		drivenCond = "d.id IN (SELECT device_id FROM device_tags WHERE tag_id IN (?" + strings.Repeat(", ?", len(tags)-1) + "))"
		for _, t := range tags {
			drivenArgs = append(drivenArgs, int64(t))
		}
	case trigramSearch(f.Query):
		drivenFrom, drivenCond, drivenArgs = "devices d", "d.id IN (SELECT rowid FROM devices_fts WHERE name LIKE (? || ''))", []any{likePattern(f.Query)}
	}
	if drivenFrom != "" {
		drivenCond += " AND " + scope
		drivenArgs = append(drivenArgs, scopeArgs...)
	}

	var matching int
	others := f.OwnerID == 0 && f.LocationID == 0 && f.Query == "" && len(f.Tags) == 0
	onlyStatus := others && f.Status != tenancy.AnyStatus && f.TemplateID == ""
	onlyTemplate := others && f.Status == tenancy.AnyStatus && f.TemplateID != ""
	switch {
	case f.SkipTotal:
		matching = f.KnownTotal
	case filter == "" && f.OwnerID == 0 && len(f.Tags) == 0:
		matching = inScope
	case onlyStatus && f.Status == tenancy.OnlyOnline:
		matching = online
	case onlyStatus:
		matching = inScope - online
	case onlyTemplate && f.Scope.Subtree:
		matching, err = q.count(ctx, "count devices", `SELECT coalesce((SELECT n_subtree FROM org_template_counts
			WHERE org_id = ? AND template_id = ?), 0)`, org, string(f.TemplateID))
	case len(tagsArgs) == 1 && filter == "" && f.Scope.Subtree && inScope == all:
		// The root's tag filter: counted from the tag's index entries
		// alone while the scope is the only root (else each entry's device
		// is probed), and the page then sorts only its own rows. Not for
		// all of several tags: their count probes the other tags' entries
		// as the page does, so the page counts them on the way instead.
		scopeOf := "((SELECT count(*) = 1 AND max(id) = ? FROM orgs WHERE parent_id IS NULL) OR " +
			"EXISTS (SELECT 1 FROM devices d JOIN org_closure c ON c.ancestor = ? AND c.descendant = d.org_id WHERE d.id = t.device_id))"
		matching, err = q.count(ctx, "count devices", `SELECT count(*) FROM `+tagsFrom+` WHERE `+tagsCond+` AND `+scopeOf,
			append(slices.Clip(tagsArgs), org, org)...)
	case drivenFrom != "" && f.After == nil:
		// The driven page reads and sorts every candidate anyway: it
		// counts them on the way (count(*) OVER ()).
		matching = -1
	case drivenFrom != "":
		matching, err = q.count(ctx, "count devices", `SELECT count(*) FROM `+drivenFrom+` WHERE `+drivenCond+filter,
			append(slices.Clip(drivenArgs), fargs...)...)
	default:
		// Template and status are in devices_org_filters: read its
		// entries org by org, no rows.
		from := strings.Replace(gatherFrom, "INDEXED BY devices_org", "INDEXED BY devices_org_filters", 1)
		matching, err = q.count(ctx, "count devices", `SELECT count(*) FROM `+from+` WHERE `+gatherCond+filter,
			append([]any{org}, fargs...)...)
	}
	if err != nil {
		return p, err
	}
	if !f.SkipTotal && matching >= 0 {
		p.Total = matching
		if matching == 0 {
			return p, nil
		}
	}
	windowTotal := matching < 0
	matching = max(matching, 1) // a stale total must not rule the walk out

	// keyset and order over a sort key and an id expression.
	keysetOrder := func(col, id string) (keyset, order string) {
		order = " ORDER BY " + col + ", " + id
		if f.Desc {
			order = " ORDER BY " + col + " DESC, " + id + " DESC"
		}
		if f.After != nil {
			cmp := " > "
			if f.Desc {
				cmp = " < "
			}
			keyset = " AND (" + col + ", " + id + ")" + cmp + "(?, ?)"
		}
		return keyset, order
	}
	keyset, order := keysetOrder(sc.col, "d.id")
	var kargs []any
	if f.After != nil {
		if f.Sort == tenancy.SortStatus || f.Sort == tenancy.SortLastReported {
			kargs = []any{f.After.Num, int64(f.After.ID)}
		} else {
			kargs = []any{f.After.Text, int64(f.After.ID)}
		}
	}

	limit := f.Page.Size + 1
	var from, cond string
	var args []any
	switch {
	case drivenFrom != "":
		from, cond, args = drivenFrom, drivenCond, slices.Clip(drivenArgs)
	case int64(matching)*int64(inScope) >= int64(limit)*int64(all):
		from, cond, args = "devices d INDEXED BY "+sc.index, scope, scopeArgs
	default:
		from, cond, args = gatherFrom, gatherCond, []any{org}
	}
	args = append(append(append(args, fargs...), kargs...), limit)
	cols, scan := deviceRowCols, scanDeviceRow
	if windowTotal {
		cols += ", count(*) OVER ()"
		scan = func(r scanner) (tenancy.DeviceRow, error) {
			return scanDeviceRowTotal(r, &p.Total)
		}
	}
	query := `SELECT ` + cols + ` FROM ` + from + ` WHERE ` + cond + filter + keyset + order + ` LIMIT ?`
	if drivenFrom != "" {
		// Keys first: the candidates are scattered rows of a wide table, so
		// sort and count only their ids and sort keys (materialized once),
		// then read the page's rows whole. Carrying every column through
		// the window count and the sort cost twice as much (EXPLAIN QUERY
		// PLAN: a co-routine of full rows, then a temp b-tree of them).
		key := strings.TrimSuffix(sc.col, " COLLATE NOCASE")
		mks, mord := keysetOrder("m.k"+strings.TrimPrefix(sc.col, key), "m.id")
		if windowTotal {
			query = `WITH m AS MATERIALIZED (SELECT d.id AS id, ` + key + ` AS k FROM ` + from + ` WHERE ` + cond + filter + `),
			p AS (SELECT m.id AS id, m.k AS k FROM m WHERE 1` + mks + mord + ` LIMIT ?)
			SELECT ` + deviceRowCols + `, (SELECT count(*) FROM m) FROM p JOIN devices d ON d.id = p.id` + order
		} else {
			// Counted already: the sort keeps only the page's keys (a
			// bounded sorter), nothing is materialized.
			query = `WITH p AS (SELECT d.id AS id FROM ` + from + ` WHERE ` + cond + filter + keyset + order + ` LIMIT ?)
			SELECT ` + cols + ` FROM p JOIN devices d ON d.id = p.id` + order
		}
	}
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return p, mapErr("list device rows", err)
	}
	if p.Rows, err = collect(rows, "list device rows", scan); err != nil {
		return p, err
	}
	if len(p.Rows) > f.Page.Size {
		p.Rows, p.More = p.Rows[:f.Page.Size], true
	}
	return p, nil
}

// listCounts reads the maintained counters: devices and online devices in
// the scope, and devices in the whole store.
func (q *queries) listCounts(ctx context.Context, org int64, subtree bool) (inScope, online, all int, err error) {
	query := `SELECT coalesce((SELECT n_direct FROM org_device_counts WHERE org_id = ?1), 0),
		coalesce((SELECT n_online_direct FROM org_device_counts WHERE org_id = ?1), 0),`
	if subtree {
		query = `SELECT coalesce((SELECT n_subtree FROM org_device_counts WHERE org_id = ?1), 0),
		coalesce((SELECT n_online_subtree FROM org_device_counts WHERE org_id = ?1), 0),`
	}
	query += ` coalesce((SELECT sum(c.n_subtree) FROM orgs o JOIN org_device_counts c ON c.org_id = o.id WHERE o.parent_id IS NULL), 0)`
	err = q.queryRow(ctx, query, org).Scan(&inScope, &online, &all)
	return inScope, online, all, mapErr("device counts", err)
}

// trigramSearch reports whether the trigram index can answer a search:
// three characters or more, none of them LIKE's wildcards or escape.
func trigramSearch(query string) bool {
	return utf8.RuneCountInString(query) >= 3 && !strings.ContainsAny(query, `%_\`)
}

// deviceFilterSQL is the filters of f other than scope and owner, as
// " AND …" terms on devices d; without the tag term when the caller reads
// only devices that pass it (the tags drive the page).
func deviceFilterSQL(f tenancy.DeviceFilter, tagsImplied bool) (string, []any) {
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
		// (? || ''): a bare parameter as a LIKE pattern makes SQLite
		// prepare the statement again at every bind (see ListUsers).
		b.WriteString(` AND d.name LIKE (? || '') ESCAPE '\'`)
		args = append(args, likePattern(f.Query))
	}
	if tags := uniqueTags(f.Tags); len(tags) > 0 && !tagsImplied {
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

// rarestFirst orders tags by their count of devices (tags.n_devices, kept
// by triggers), fewest first; a tag that does not exist comes first (it
// matches no device, so the page is empty at once).
func (q *queries) rarestFirst(ctx context.Context, tags []tenancy.TagID) ([]tenancy.TagID, error) {
	args := make([]any, len(tags))
	for i, t := range tags {
		args[i] = int64(t)
	}
	rows, err := q.query(ctx, `SELECT id, n_devices FROM tags WHERE id IN (?`+strings.Repeat(", ?", len(tags)-1)+`)`, args...)
	if err != nil {
		return nil, mapErr("tag counts", err)
	}
	defer rows.Close()
	n := make(map[tenancy.TagID]int64, len(tags))
	for rows.Next() {
		var id, c int64
		if err := rows.Scan(&id, &c); err != nil {
			return nil, mapErr("tag counts", err)
		}
		n[tenancy.TagID(id)] = c + 1 // a missing tag reads 0: first
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("tag counts", err)
	}
	out := slices.Clone(tags)
	slices.SortStableFunc(out, func(a, b tenancy.TagID) int { return cmp.Compare(n[a], n[b]) })
	return out, nil
}

func uniqueTags(tags []tenancy.TagID) []tenancy.TagID {
	if len(tags) < 2 {
		return tags
	}
	t := slices.Clone(tags)
	slices.Sort(t)
	return slices.Compact(t)
}
