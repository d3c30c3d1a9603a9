package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// drainSample is the last reading of the outbox's acknowledged sequence,
// from which the drain rate is computed.
type drainSample struct {
	at    time.Time
	acked int64
	rate  float64 // entries per second over the last interval
}

// drainEvery is the shortest interval the drain rate is measured over.
const drainEvery = 5 * time.Second

// statusData is the status page: the gateway's Status and what the
// installer derives from it.
type statusData struct {
	Status
	Uptime    string
	Devices   int
	Online    int
	State     string  // none, registering, waiting, connected, unreachable
	DrainRate float64 // outbox entries acknowledged per second
	DownSince time.Time
	LastSync  time.Time
}

// Banner tells whether the page shows "the cloud is unreachable".
func (s statusData) Banner() bool { return s.State == "unreachable" }

// status reads the gateway's state; it also keeps the drain rate and the
// time the cloud was first seen unreachable.
func (in *Installer) status(ctx context.Context) statusData {
	s := in.o.Site.Status(ctx)
	now := in.o.Now()
	d := statusData{Status: s, Uptime: duration(now.Sub(s.Started))}
	for _, dev := range in.o.Hub.Devices() {
		d.Devices++
		if in.o.Hub.Online(dev.ID) {
			d.Online++
		}
	}
	c := s.Cloud
	switch {
	case !c.Configured:
		d.State = "none"
	case c.Connected:
		d.State = "connected"
	case !c.Claimed && c.ClaimCode != "":
		d.State = "waiting"
	default:
		d.State = "unreachable"
	}
	in.drainMu.Lock()
	defer in.drainMu.Unlock()
	if in.drain.at.IsZero() {
		in.drain = drainSample{at: now, acked: c.Acked}
	} else if dt := now.Sub(in.drain.at); dt >= drainEvery {
		in.drain = drainSample{at: now, acked: c.Acked, rate: float64(c.Acked-in.drain.acked) / dt.Seconds()}
	}
	d.DrainRate = max(in.drain.rate, 0)
	// Since the link went down, as the link tells; before it ran, since
	// this page first saw it so.
	if d.State == "unreachable" {
		if in.down.IsZero() {
			in.down = now
		}
		d.DownSince = in.down
		if !c.Since.IsZero() {
			d.DownSince = c.Since
		}
	} else {
		in.down = time.Time{}
	}
	d.LastSync = c.LastAck
	return d
}

func (in *Installer) statusPage(w http.ResponseWriter, r *http.Request) {
	d := in.status(r.Context())
	in.render(w, r, http.StatusOK, "status", view{Title: "Status", Nav: "status", Banner: d.Banner(),
		Scripts: []string{"installer.js"}, Data: d})
}

// statusJSON is what the status page's live stream sends.
type statusJSON struct {
	Devices   int    `json:"devices"`
	Online    int    `json:"online"`
	State     string `json:"state"`
	Backlog   int64  `json:"backlog"`
	DrainRate string `json:"drainRate"`
	DownSince string `json:"downSince,omitempty"`
	ClaimCode string `json:"claimCode,omitempty"`
	Uptime    string `json:"uptime"`
	DBBytes   string `json:"db"`
}

// statusLive is GET /status/live: the status as server-sent events, read
// every few seconds while a page is open (nothing runs when none is).
func (in *Installer) statusLive(w http.ResponseWriter, r *http.Request) {
	in.stream(w, r, 2*time.Second, func() (string, any) {
		d := in.status(r.Context())
		out := statusJSON{Devices: d.Devices, Online: d.Online, State: d.State, Backlog: d.Cloud.Backlog,
			DrainRate: fmt.Sprintf("%.1f/s", d.DrainRate), Uptime: d.Uptime, DBBytes: humanBytes(d.DBBytes)}
		if !d.DownSince.IsZero() {
			out.DownSince = d.DownSince.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		if d.State == "waiting" {
			out.ClaimCode = d.Cloud.ClaimCode
		}
		return "status", out
	})
}

// stream serves server-sent events: next is called every interval and
// its event is sent when it differs from the last one sent.
func (in *Installer) stream(w http.ResponseWriter, r *http.Request, every time.Duration, next func() (string, any)) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	t := time.NewTicker(every)
	defer t.Stop()
	var last []byte
	for {
		typ, v := next()
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		if string(b) != string(last) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
			last = b
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-in.done:
			return
		case <-t.C:
		}
	}
}
