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
	checkPlans(t, []struct{ query, index string }{
		{`SELECT count(*) FROM notifications WHERE user_id = 1 AND read_at = 0`, "notifications_unread"},
		{`SELECT id FROM notifications WHERE user_id = 1 AND id < 100 ORDER BY id DESC LIMIT 26`, "notifications_user"},
	})
}

// The retention delete's batches walk the history's time index in its
// order (no sort of a device pin's whole past), the index History reads,
// so that no other index is kept for it.
func TestHistoryRetentionUsesTheTimeIndex(t *testing.T) {
	checkPlans(t, []struct{ query, index string }{
		{`SELECT id FROM device_history WHERE device_uid = 'u' AND pin = 1 AND ts < 5 ORDER BY ts LIMIT 10000`, "device_history_ts"},
		{`SELECT DISTINCT pin FROM device_history WHERE device_uid = 'u'`, "device_history_ts"},
	})
}

// checkPlans checks that each query's plan uses its index and sorts
// nothing in a temporary b-tree.
func checkPlans(t *testing.T, cases []struct{ query, index string }) {
	t.Helper()
	s := newTestStore(t)
	t.Cleanup(func() { s.Close() })
	for _, c := range cases {
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
		if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX "+c.index) || strings.Contains(p, "TEMP B-TREE") {
			t.Errorf("%s: plan %q does not use %s alone", c.query, p, c.index)
		}
	}
}
