package sqlite

import (
	"context"
	"strings"
	"testing"
)

// The bell's unread count (on every console page) and the page of a
// person's notifications read an index, not the table: the unread count
// the partial index of unread rows.
func TestNotificationQueriesUseIndexes(t *testing.T) {
	s := newTestStore(t)
	t.Cleanup(func() { s.Close() })
	for _, c := range []struct{ query, index string }{
		{`SELECT count(*) FROM notifications WHERE user_id = 1 AND read_at = 0`, "notifications_unread"},
		{`SELECT id FROM notifications WHERE user_id = 1 AND id < 100 ORDER BY id DESC LIMIT 26`, "notifications_user"},
	} {
		rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+c.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX "+c.index) {
			t.Errorf("%s: plan %q does not use %s", c.query, p, c.index)
		}
	}
}
