package sqlite

import (
	"context"
	"encoding/json"

	"outpost/cloud/internal/tenancy"
)

const locationCols = `id, org_id, owner_id, name, address, lat, lon, users, created_at`

func scanLocation(r scanner) (tenancy.Location, error) {
	var l tenancy.Location
	var addr, users string
	var created int64
	if err := r.Scan(&l.ID, &l.OrgID, &l.OwnerID, &l.Name, &addr, &l.Lat, &l.Lon, &users, &created); err != nil {
		return l, err
	}
	l.CreatedAt = fromMS(created)
	if err := json.Unmarshal([]byte(addr), &l.Address); err != nil {
		return l, err
	}
	return l, json.Unmarshal([]byte(users), &l.Users)
}

func (q *queries) CreateLocation(ctx context.Context, l *tenancy.Location) error {
	res, err := q.exec(ctx, `INSERT INTO locations (org_id, owner_id, name, address, lat, lon, users, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon,
		jsonText(nonNil(l.Users)), ms(l.CreatedAt))
	if err != nil {
		return mapErr("create location", err)
	}
	id, err := res.LastInsertId()
	l.ID = tenancy.LocationID(id)
	return mapErr("create location", err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (q *queries) UpdateLocation(ctx context.Context, l tenancy.Location) error {
	res, err := q.exec(ctx, `UPDATE locations SET org_id = ?, owner_id = ?, name = ?, address = ?, lat = ?, lon = ?, users = ? WHERE id = ?`,
		int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon, jsonText(nonNil(l.Users)), int64(l.ID))
	return mustAffect("update location", res, err)
}

func (q *queries) DeleteLocation(ctx context.Context, id tenancy.LocationID) error {
	res, err := q.exec(ctx, `DELETE FROM locations WHERE id = ?`, int64(id))
	return mustAffect("delete location", res, err)
}

func (q *queries) GetLocation(ctx context.Context, id tenancy.LocationID) (tenancy.Location, error) {
	l, err := scanLocation(q.queryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE id = ?`, int64(id)))
	return l, mapErr("get location", err)
}

func (q *queries) ListLocations(ctx context.Context, f tenancy.LocationFilter) (tenancy.List[tenancy.Location], error) {
	cond, args := scopeSQL(f.Scope, "org_id")
	if f.OwnerID != 0 {
		cond, args = cond+" AND owner_id = ?", append(args, int64(f.OwnerID))
	}
	return listByID(ctx, q, "locations", locationCols, "locations", cond, args, f.Page, false, false, scanLocation,
		func(l tenancy.Location) int64 { return int64(l.ID) })
}
