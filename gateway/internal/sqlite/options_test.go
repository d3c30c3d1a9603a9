package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"outpost/gateway/internal/hub"
)

// HistoryMax has no default of its own (the gateway's config holds it):
// 0 keeps every acknowledged write, a negative bound is refused.
func TestHistoryMaxZeroKeepsEverything(t *testing.T) {
	if _, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "gw.db"), HistoryMax: -1}); err == nil || !strings.Contains(err.Error(), "HistoryMax") {
		t.Fatalf("Open with HistoryMax -1 = %v, want an error naming HistoryMax", err)
	}
	ctx := context.Background()
	s := openWithTemplate(t, filepath.Join(t.TempDir(), "gw.db"), Options{HistoryMax: 0})
	d := testDevice(s, t, "one")
	for i := range 50 {
		s.Append(hub.Record{Kind: hub.KindWrite, DeviceID: d.ID, Pin: 0, Value: strconv.Itoa(i), TS: int64(i + 1)})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.Outbox(ctx, 0, 100)
	if err != nil || len(out) == 0 {
		t.Fatalf("outbox: %d entries, %v", len(out), err)
	}
	if err := s.AckOutbox(ctx, out[len(out)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if s.historyTooLong() {
		t.Fatal("with HistoryMax 0 the history counts as too long")
	}
	if got := len(historyValues(t, s, d.ID, 0)); got != 50 {
		t.Errorf("history holds %d of 50 acknowledged writes", got)
	}
}
