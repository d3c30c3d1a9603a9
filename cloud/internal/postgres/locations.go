package postgres

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
	id, err := q.insertID(ctx, "create location", `INSERT INTO locations (org_id, owner_id, name, address, lat, lon, users, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon,
		jsonText(nonNil(l.Users)), ms(l.CreatedAt))
	l.ID = tenancy.LocationID(id)
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (q *queries) UpdateLocation(ctx context.Context, l tenancy.Location) error {
	tag, err := q.db.Exec(ctx, `UPDATE locations SET org_id = $1, owner_id = $2, name = $3, address = $4, lat = $5, lon = $6, users = $7 WHERE id = $8`,
		int64(l.OrgID), int64(l.OwnerID), l.Name, jsonText(l.Address), l.Lat, l.Lon, jsonText(nonNil(l.Users)), int64(l.ID))
	return mustAffect("update location", tag, err)
}

func (q *queries) DeleteLocation(ctx context.Context, id tenancy.LocationID) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM locations WHERE id = $1`, int64(id))
	return mustAffect("delete location", tag, err)
}

func (q *queries) GetLocation(ctx context.Context, id tenancy.LocationID) (tenancy.Location, error) {
	l, err := scanLocation(q.db.QueryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE id = $1`, int64(id)))
	return l, mapErr("get location", err)
}

func (q *queries) ListLocations(ctx context.Context, f tenancy.LocationFilter) (tenancy.List[tenancy.Location], error) {
	var a args
	cond := scopeSQL(f.Scope, "org_id", &a)
	if f.OwnerID != 0 {
		cond += " AND owner_id = " + a.add(int64(f.OwnerID))
	}
	return listByID(ctx, q, "locations", locationCols, "locations", cond, a, f.Page, false, false, scanLocation,
		func(l tenancy.Location) int64 { return int64(l.ID) })
}
