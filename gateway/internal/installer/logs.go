package installer

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"outpost/gateway/internal/logring"
)

// Logs is the gateway's recent log lines (a logring.Ring).
type Logs interface {
	Since(seq uint64, f logring.Filter, limit int) ([]logring.Line, <-chan struct{})
	Components() []string
}

// logsShown bounds the lines the page shows.
const logsShown = 500

type logsData struct {
	Lines      []logring.Line // newest first
	Components []string
	Level      string
	Component  string
	Text       string
	Last       uint64
	Live       string // the live stream's URL with the filter
}

func levelOf(s string) (slog.Level, string) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, "debug"
	case "warn":
		return slog.LevelWarn, "warn"
	case "error":
		return slog.LevelError, "error"
	}
	return slog.LevelInfo, "info"
}

func (in *Installer) logFilter(r *http.Request) (logring.Filter, logsData) {
	q := r.URL.Query()
	lv, name := levelOf(q.Get("level"))
	d := logsData{Level: name, Component: q.Get("component"), Text: strings.TrimSpace(q.Get("q"))}
	return logring.Filter{Level: lv, Component: d.Component, Text: d.Text}, d
}

func (in *Installer) logsPage(w http.ResponseWriter, r *http.Request) {
	if in.o.Logs == nil {
		in.errorPage(w, r, http.StatusNotFound, "No logs", "This gateway keeps no log lines in memory.")
		return
	}
	f, d := in.logFilter(r)
	lines, _ := in.o.Logs.Since(0, f, logsShown)
	for i := len(lines) - 1; i >= 0; i-- {
		d.Lines = append(d.Lines, lines[i])
	}
	if len(lines) > 0 {
		d.Last = lines[len(lines)-1].Seq
	}
	d.Components = in.o.Logs.Components()
	q := r.URL.Query()
	q.Set("after", strconv.FormatUint(d.Last, 10))
	d.Live = "/logs/live?" + q.Encode()
	in.render(w, r, http.StatusOK, "logs", view{Title: "Logs", Nav: "logs", Scripts: []string{"installer.js"}, Data: d})
}

// logsLive is GET /logs/live?level=&component=&q=&after=: new matching
// lines as server-sent events, as they are logged.
func (in *Installer) logsLive(w http.ResponseWriter, r *http.Request) {
	if in.o.Logs == nil {
		http.NotFound(w, r)
		return
	}
	f, _ := in.logFilter(r)
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		after, _ = strconv.ParseUint(id, 10, 64)
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		lines, changed := in.o.Logs.Since(after, f, logsShown)
		for _, l := range lines {
			b, _ := json.Marshal(map[string]any{"seq": l.Seq, "time": l.Time.UTC().Format("2006-01-02 15:04:05"),
				"level": l.Level.String(), "component": l.Component, "message": l.Message, "attrs": l.Attrs})
			fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", l.Seq, b)
			after = l.Seq
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-in.done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-changed:
			// A burst of lines is sent together.
			select {
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
}
