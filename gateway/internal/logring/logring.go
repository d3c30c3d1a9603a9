// Package logring keeps the gateway's recent log lines in memory for the
// installer page: a slog.Handler that passes every record on to the real
// handler and keeps the last N in a ring, with values of secret-looking
// keys masked. Readers filter the ring and wait for new lines.
package logring

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Line is one kept log line.
type Line struct {
	Seq       uint64
	Time      time.Time
	Level     slog.Level
	Component string
	Message   string
	Attrs     string // key=value pairs, secrets masked
}

// Ring holds the last lines. Create with New.
type Ring struct {
	mu      sync.Mutex
	lines   []Line // circular, len == cap once full
	next    int
	seq     uint64
	changed chan struct{} // closed and replaced on every line
}

// New keeps the last n lines.
func New(n int) *Ring {
	return &Ring{lines: make([]Line, 0, max(n, 1)), changed: make(chan struct{})}
}

func (r *Ring) add(l Line) {
	r.mu.Lock()
	r.seq++
	l.Seq = r.seq
	if len(r.lines) < cap(r.lines) {
		r.lines = append(r.lines, l)
	} else {
		r.lines[r.next] = l
		r.next = (r.next + 1) % len(r.lines)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Filter selects lines: at least Level, of Component ("" any), containing
// Text ("" any; in the message or attributes, case-insensitive).
type Filter struct {
	Level     slog.Level
	Component string
	Text      string
}

func (f Filter) match(l Line) bool {
	if l.Level < f.Level || (f.Component != "" && l.Component != f.Component) {
		return false
	}
	if f.Text == "" {
		return true
	}
	t := strings.ToLower(f.Text)
	return strings.Contains(strings.ToLower(l.Message), t) || strings.Contains(strings.ToLower(l.Attrs), t)
}

// Since returns the matching lines after seq, oldest first, at most limit
// (the newest ones), and a channel closed when a line arrives.
func (r *Ring) Since(seq uint64, f Filter, limit int) ([]Line, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Line
	n := len(r.lines)
	for i := range n {
		l := r.lines[(r.next+i)%n]
		if l.Seq > seq && f.match(l) {
			out = append(out, l)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, r.changed
}

// Components lists the components seen in the ring, sorted.
func (r *Ring) Components() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if l.Component != "" && !slices.Contains(out, l.Component) {
			out = append(out, l.Component)
		}
	}
	slices.Sort(out)
	return out
}

// Handler returns a handler that passes records to next and keeps those at
// or above min in the ring.
func (r *Ring) Handler(next slog.Handler, min slog.Level) slog.Handler {
	return &handler{ring: r, next: next, min: min}
}

type handler struct {
	ring   *Ring
	next   slog.Handler
	min    slog.Level
	prefix string // groups, "a.b."
	attrs  []slog.Attr
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	var err error
	if h.next.Enabled(ctx, rec.Level) {
		err = h.next.Handle(ctx, rec)
	}
	if rec.Level < h.min {
		return err
	}
	l := Line{Time: rec.Time, Level: rec.Level, Message: rec.Message}
	var b strings.Builder
	add := func(prefix string, a slog.Attr) {
		if a.Key == "component" && prefix == "" {
			l.Component = a.Value.String()
			return
		}
		writeAttr(&b, prefix, a)
	}
	for _, a := range h.attrs {
		add("", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		add(h.prefix, a)
		return true
	})
	l.Attrs = strings.TrimSpace(b.String())
	h.ring.add(l)
	return err
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	c.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		if h.prefix != "" {
			a.Key = h.prefix + a.Key
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// secretKey tells whether an attribute's value must not be kept: tokens,
// passwords, credentials, keys — but not their logged prefixes.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	if strings.HasSuffix(k, "_prefix") || strings.HasSuffix(k, "prefix") {
		return false
	}
	for _, s := range []string{"token", "password", "passwd", "secret", "credential", "auth", "key", "claim_code"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	v := a.Value.String()
	if secretKey(a.Key) {
		v = "[masked]"
	}
	if strings.ContainsAny(v, " \t\n\"=") {
		v = fmt.Sprintf("%q", v)
	}
	b.WriteString(prefix + a.Key + "=" + v + " ")
}
