package logring

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRing: lines reach the real handler and the ring; the ring keeps the
// last N, masks secrets, knows components, filters and wakes waiters.
func TestRing(t *testing.T) {
	var out bytes.Buffer
	r := New(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}), slog.LevelInfo))
	log.Debug("too low")
	_, changed := r.Since(0, Filter{}, 0)
	log.With("component", "hub").Info("device added", "device", 7, "token", "s3cretTOKEN", "token_prefix", "s3cr")
	select {
	case <-changed:
	default:
		t.Error("a new line did not wake the waiter")
	}
	log.With("component", "cloudlink").Warn("cloud unreachable", "err", "dial tcp: refused")
	log.WithGroup("g").With("component", "x").Error("boom", "password", "hunter2")
	log.Info("fourth")
	lines, _ := r.Since(0, Filter{}, 0)
	if len(lines) != 3 || lines[0].Message != "cloud unreachable" || lines[2].Message != "fourth" {
		t.Fatalf("ring = %+v, want the last 3", lines)
	}
	if strings.Contains(out.String(), "fourth") || !strings.Contains(out.String(), "cloud unreachable") {
		t.Errorf("the real handler's level was not kept: %s", out.String())
	}
	all := ""
	for _, l := range lines {
		all += l.Attrs
	}
	if strings.Contains(all, "hunter2") || !strings.Contains(all, "g.password=[masked]") {
		t.Errorf("secrets in the ring: %q", all)
	}
	if got, _ := r.Since(0, Filter{Level: slog.LevelWarn, Component: "cloudlink"}, 0); len(got) != 1 || got[0].Attrs != `err="dial tcp: refused"` {
		t.Errorf("filtered = %+v", got)
	}
	if got, _ := r.Since(lines[1].Seq, Filter{}, 0); len(got) != 1 || got[0].Message != "fourth" {
		t.Errorf("since = %+v", got)
	}
	if got, _ := r.Since(0, Filter{Text: "BOOM"}, 0); len(got) != 1 {
		t.Errorf("text filter = %+v", got)
	}
	if c := r.Components(); len(c) != 1 || c[0] != "cloudlink" { // "hub" left the ring; g.component is not a component
		t.Errorf("components = %v", c)
	}
}

// TestMaskEarlierLines: a token logged before the ring filled is masked too.
func TestMaskEarlierLines(t *testing.T) {
	r := New(10)
	log := slog.New(r.Handler(slog.DiscardHandler, slog.LevelInfo))
	log.Info("x", "auth_token", "abc", "claim_code", "gw_1", "token_prefix", "ab")
	l, _ := r.Since(0, Filter{}, 0)
	if l[0].Attrs != "auth_token=[masked] claim_code=[masked] token_prefix=ab" {
		t.Errorf("attrs %q", l[0].Attrs)
	}
}
