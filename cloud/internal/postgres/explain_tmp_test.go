package postgres

import (
	"context"
	"testing"
)

func BenchmarkExplainTmp(b *testing.B) {
	f := buildBenchFixture(b)
	ctx := context.Background()
	for _, q := range []string{
		`SELECT count(*) FROM devices d WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = 1) AND d.id IN (SELECT device_id FROM device_tags WHERE tag_id = ANY('{1}'::bigint[]))`,
		`SELECT d.id FROM devices d WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = 1) AND d.id IN (SELECT device_id FROM device_tags WHERE tag_id = ANY('{1}'::bigint[])) ORDER BY lower(d.name) COLLATE "C", d.id LIMIT 51`,
		`SELECT d.id FROM devices d WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = 1) ORDER BY lower(d.name) COLLATE "C", d.id LIMIT 51`,
		`SELECT count(*) FROM devices d WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = 1) AND d.name ILIKE '%device 4242%'`,
		`SELECT d.id FROM devices d WHERE d.org_id IN (SELECT descendant FROM org_closure WHERE ancestor = 1) AND d.name ILIKE '%device 4242%' ORDER BY lower(d.name) COLLATE "C", d.id LIMIT 51`,
	} {
		rows, err := f.store.pool.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+q)
		if err != nil {
			b.Fatal(err)
		}
		b.Log(q)
		for rows.Next() {
			var l string
			rows.Scan(&l)
			b.Log(l)
		}
		rows.Close()
	}
}
