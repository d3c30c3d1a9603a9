// Package ota is the gateway's side of firmware over the air (issue 18):
// it runs the shipments the cloud sends (syncproto.Shipments), fetches each
// image once into a bounded on-disk cache, serves it to the site's devices
// over the LAN, offers it to them (Blynk INTERNAL "ota\0<url>", MQTT
// downlink/ota/json), follows each device through Blynk's statuses from
// what it reports, and writes every status change to the outbox
// (hub.RecordOTA) for the cloud. Everything it needs to go on is kept in a
// state file next to the cache, so a site that holds the image keeps
// shipping with the cloud unreachable and across restarts.
package ota

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"outpost/gateway/internal/blynktime"
	"outpost/gateway/internal/hub"
	"outpost/shared/blnkinf"
	"outpost/shared/syncproto"
)

// Hub is what delivery needs of the gateway's hub (*hub.Hub).
type Hub interface {
	Devices() []hub.Device
	Device(id int64) (hub.Device, bool)
	DeviceByUID(uid string) (hub.Device, bool)
	Info(id int64) []string
	Online(id int64) bool
	Meta(id int64, name string) (string, error)
	Offer(id int64, d hub.Delivery) int
	RecordOTA(id int64, shipment, value string)
	Subscribe(fn func(hub.Update)) (cancel func())
}

// Statuses (the cloud's ota.Status values, on the wire as strings).
const (
	StAwaitingUser    = "awaiting_user"
	StRequestSent     = "request_sent"
	StRequested       = "firmware_requested"
	StDownloaded      = "downloaded"
	StSuccess         = "success"
	StUploadFailure   = "upload_failure"
	StRollback        = "rollback"
	StTypeMismatch    = "type_mismatch"
	StVersionMismatch = "version_mismatch"
	StDownloadLimit   = "download_limit"
	StUpToDate        = "up_to_date"
)

// Options configure a Delivery. Hub, Dir and URL are required.
type Options struct {
	Hub Hub
	// Dir holds the image cache and the state file.
	Dir string
	// CacheBytes bounds the image cache (0: unbounded).
	CacheBytes int64
	// URL is how devices reach the gateway's HTTP port, e.g.
	// http://192.168.1.10:8080; images are served under /ota/.
	URL    string
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
	// ResendAfter is how long an offer to an online device that did not
	// download waits before it is sent again (default 10 min).
	ResendAfter time.Duration
	// Tick re-evaluates every device this often (preferred-time windows
	// open, attempts age out); default 30 s.
	Tick time.Duration
	// RetryFetch is the wait before a failed image fetch is tried again
	// (resuming where it stopped); default 5 s.
	RetryFetch time.Duration
}

// Delivery runs the site's shipments.
type Delivery struct {
	opts  Options
	log   *slog.Logger
	cache *Cache
	wake  chan struct{}

	infoMu   sync.Mutex
	lastInfo map[int64]lastReport // device id → its last info report (never held with mu)
	reported map[int64][]info     // device id → infos reported since the last step, in order

	mu     sync.Mutex
	dirty  bool // progress changed by a download, not saved yet (step saves it)
	src    Source
	st     state
	byTick map[string]ticketRef // download ticket → device and shipment
	// failedAt is when the last fetch of an image failed.
	failedAt map[string]time.Time
}

type ticketRef struct {
	shipment string
	uid      string
}

// state is what the state file holds.
type state struct {
	Shipments []syncproto.Shipment `json:"shipments"`
	// Devices: shipment id → device UID → progress.
	Devices map[string]map[string]*progress `json:"devices"`
}

// progress is one device's progress in one shipment.
type progress struct {
	Status    string  `json:"status,omitempty"`
	Ticket    string  `json:"ticket"`              // the download URL's token
	Downloads []int64 `json:"downloads,omitempty"` // ms of each full download started, last 24 h
	SentAt    int64   `json:"sentAt,omitempty"`    // ms of the last offer
	// DownloadedAt is when the last full download ended.
	DownloadedAt int64 `json:"downloadedAt,omitempty"`
	// WasNew: the device reported the shipped build once (success), so
	// reporting the old one again is a rollback.
	WasNew  bool   `json:"wasNew,omitempty"`
	Version string `json:"version,omitempty"`
	// From is the version the device ran when it was last offered the update.
	From string `json:"from,omitempty"`
}

// New loads the state file (if any).
func New(o Options) (*Delivery, error) {
	if o.Hub == nil || o.Dir == "" || o.URL == "" {
		return nil, errors.New("ota: Hub, Dir and URL are required")
	}
	if _, err := url.Parse(o.URL); err != nil {
		return nil, fmt.Errorf("ota: URL: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ResendAfter <= 0 {
		o.ResendAfter = 10 * time.Minute
	}
	if o.Tick <= 0 {
		o.Tick = 30 * time.Second
	}
	if o.RetryFetch <= 0 {
		o.RetryFetch = 5 * time.Second
	}
	d := &Delivery{opts: o, log: o.Logger.With("component", "ota"), cache: &Cache{Dir: filepath.Join(o.Dir, "images"), MaxBytes: o.CacheBytes},
		wake: make(chan struct{}, 1), byTick: map[string]ticketRef{}, failedAt: map[string]time.Time{}, lastInfo: map[int64]lastReport{}, reported: map[int64][]info{}}
	b, err := os.ReadFile(d.statePath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("ota: %w", err)
	default:
		if err := json.Unmarshal(b, &d.st); err != nil {
			return nil, fmt.Errorf("ota: state %s: %w", d.statePath(), err)
		}
	}
	if d.st.Devices == nil {
		d.st.Devices = map[string]map[string]*progress{}
	}
	for sh, devs := range d.st.Devices {
		for uid, p := range devs {
			d.byTick[p.Ticket] = ticketRef{sh, uid}
		}
	}
	return d, nil
}

func (d *Delivery) statePath() string { return filepath.Join(d.opts.Dir, "ota-state.json") }

// saveLocked writes the state file atomically.
func (d *Delivery) saveLocked() error {
	b, err := json.Marshal(&d.st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.opts.Dir, 0o750); err != nil {
		return fmt.Errorf("ota: %w", err)
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("ota: %w", err)
	}
	return os.Rename(tmp, d.statePath())
}

// SetSource tells where images come from (set once the gateway has a
// cloud identity).
func (d *Delivery) SetSource(s Source) {
	d.mu.Lock()
	d.src = s
	d.mu.Unlock()
	d.poke()
}

// ApplyShipments implements cloudlink.Shipments: the list replaces the
// one held; progress of shipments no longer listed is forgotten.
func (d *Delivery) ApplyShipments(ctx context.Context, l syncproto.Shipments) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st.Shipments = slices.Clone(l.Items)
	keep := map[string]bool{}
	for _, sh := range l.Items {
		keep[sh.ID] = true
	}
	for id, devs := range d.st.Devices {
		if !keep[id] {
			for _, p := range devs {
				delete(d.byTick, p.Ticket)
			}
			delete(d.st.Devices, id)
		}
	}
	err := d.saveLocked()
	d.poke()
	return err
}

func (d *Delivery) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run evaluates the shipments whenever a device reports its info (both
// protocols send it on every connection) and every Tick, until ctx ends.
func (d *Delivery) Run(ctx context.Context) error {
	cancel := d.opts.Hub.Subscribe(func(u hub.Update) {
		switch u.Record.Kind {
		case hub.KindInfo:
			in, known := deviceInfo(strings.Split(u.Record.Value, "\x00"))
			d.infoMu.Lock()
			d.lastInfo[u.Record.DeviceID] = lastReport{at: d.opts.Now().UnixMilli(), in: in, known: known}
			if l := d.reported[u.Record.DeviceID]; len(l) < 8 {
				// Every report counts: a device may come back with the new
				// build and roll back before the next step runs.
				d.reported[u.Record.DeviceID] = append(l, in)
			}
			d.infoMu.Unlock()
			d.poke()
		}
	})
	defer cancel()
	// Devices that reported before Run subscribed have their info in the
	// hub only (time 0: no report since). Read after subscribing, so a
	// report arriving meanwhile is either kept here or replaces this.
	for _, dev := range d.opts.Hub.Devices() {
		in, known := deviceInfo(d.opts.Hub.Info(dev.ID))
		d.infoMu.Lock()
		if _, ok := d.lastInfo[dev.ID]; !ok && known {
			d.lastInfo[dev.ID] = lastReport{in: in, known: known}
		}
		d.infoMu.Unlock()
	}
	t := time.NewTicker(d.opts.Tick)
	defer t.Stop()
	for {
		d.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-t.C:
		}
	}
}

// Fetched reports whether the image of every shipment held is cached.
func (d *Delivery) Fetched() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, sh := range d.st.Shipments {
		if !d.cache.Has(sh.Firmware.SHA256) {
			return false
		}
	}
	return true
}

// fetchAll starts fetching every image not cached yet; a failed fetch is
// retried at the next step.
func (d *Delivery) fetchAll(ctx context.Context) {
	d.mu.Lock()
	src := d.src
	inUse := map[string]bool{}
	var todo []syncproto.Firmware
	now := d.opts.Now()
	for _, sh := range d.st.Shipments {
		inUse[sh.Firmware.SHA256] = true
		if d.cache.Has(sh.Firmware.SHA256) || slices.ContainsFunc(todo, func(f syncproto.Firmware) bool { return f.SHA256 == sh.Firmware.SHA256 }) {
			continue
		}
		// After a failure, wait RetryFetch before the next attempt (info
		// reports wake the loop often; the cloud must not be hammered).
		if at, ok := d.failedAt[sh.Firmware.SHA256]; ok && now.Sub(at) < d.opts.RetryFetch {
			continue
		}
		todo = append(todo, sh.Firmware)
	}
	d.mu.Unlock()
	for _, fw := range todo {
		go func() {
			if err := d.cache.Fetch(ctx, src, fw, inUse); err != nil {
				d.mu.Lock()
				d.failedAt[fw.SHA256] = d.opts.Now()
				d.mu.Unlock()
				if ctx.Err() == nil {
					d.log.Warn("firmware fetch failed; retried later", "sha256", fw.SHA256[:12], "err", err)
					time.AfterFunc(d.opts.RetryFetch, d.poke)
				}
				return
			}
			d.log.Info("firmware cached", "sha256", fw.SHA256[:12], "version", fw.Version, "bytes", fw.Size)
			d.poke()
		}()
	}
}

// info is what a device says about its firmware.
type info struct{ version, typ, build string }

// lastReport is a device's latest info report and when it came. A step
// reads the info and its time from one snapshot: judged from a newer
// info than its time, an offer would look older than the report it
// answered, and go out again.
type lastReport struct {
	at    int64 // ms
	in    info
	known bool
}

// deviceInfo reads the version, type and build from the device's info
// pairs: the binary protocol's mcu (or fw) / fw-type / build, MQTT
// info/mcu's ver / type (or tmpl) / build.
func deviceInfo(pairs []string) (info, bool) {
	var in info
	rank := 0 // mcu over fw over ver
	for i := 0; i+1 < len(pairs); i += 2 {
		k, v := pairs[i], pairs[i+1]
		switch k {
		case "mcu":
			in.version, rank = v, 3
		case "fw":
			if rank < 2 {
				in.version, rank = v, 2
			}
		case "ver": // MQTT's firmware version; the binary protocol's library version
			if rank < 1 {
				in.version, rank = v, 1
			}
		case "fw-type", "type":
			in.typ = v
		case "tmpl":
			if in.typ == "" {
				in.typ = v
			}
		case "build":
			in.build = v
		}
	}
	return in, in.version != "" || in.build != ""
}

// targets reports whether the shipment covers the device.
func targets(sh *syncproto.Shipment, dev hub.Device) bool {
	return dev.TemplateID == sh.TemplateID && (len(sh.Devices) == 0 || slices.Contains(sh.Devices, dev.UID))
}

// windowOpen reports whether now, in the device's zone, is in w.
func windowOpen(w string, now time.Time, loc *time.Location) bool {
	h := now.In(loc).Hour()
	switch w {
	case "night":
		return h < 6
	case "morning":
		return h >= 6 && h < 12
	case "afternoon":
		return h >= 12 && h < 18
	case "evening":
		return h >= 18
	}
	return true
}

func newTicket() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

// step evaluates every targeted device of every shipment.
func (d *Delivery) step(ctx context.Context) {
	d.fetchAll(ctx)
	devs := d.opts.Hub.Devices()
	d.infoMu.Lock()
	last := maps.Clone(d.lastInfo)
	reported := d.reported
	d.reported = map[int64][]info{}
	d.infoMu.Unlock()
	// After the snapshot, so that no report in it is later than now.
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := false
	for i := range d.st.Shipments {
		sh := &d.st.Shipments[i]
		cached := d.cache.Has(sh.Firmware.SHA256)
		for _, dev := range devs {
			if !targets(sh, dev) {
				continue
			}
			if d.evaluate(sh, dev, cached, now, last[dev.ID], reported[dev.ID]) {
				changed = true
			}
		}
	}
	if changed || d.dirty {
		d.dirty = false
		if err := d.saveLocked(); err != nil {
			d.log.Error("ota state not saved", "err", err)
		}
	}
}

// progressLocked returns (creating) a device's progress in a shipment.
func (d *Delivery) progressLocked(shID, uid string) *progress {
	devs := d.st.Devices[shID]
	if devs == nil {
		devs = map[string]*progress{}
		d.st.Devices[shID] = devs
	}
	p := devs[uid]
	if p == nil {
		p = &progress{Ticket: newTicket()}
		devs[uid] = p
		d.byTick[p.Ticket] = ticketRef{shID, uid}
	}
	return p
}

// setLocked changes a device's status and reports it up; it returns
// whether anything changed.
func (d *Delivery) setLocked(sh *syncproto.Shipment, dev hub.Device, p *progress, status, detail string) bool {
	if p.Status == status {
		return false
	}
	p.Status = status
	d.opts.Hub.RecordOTA(dev.ID, sh.ID, syncproto.EncodeOTA(syncproto.OTAStatus{Status: status,
		Attempts: len(p.Downloads), Version: p.Version, Detail: detail}))
	return true
}

// evaluate moves one device on; it reports whether its progress changed.
func (d *Delivery) evaluate(sh *syncproto.Shipment, dev hub.Device, cached bool, now time.Time, last lastReport, reported []info) bool {
	in, known, infoAt := last.in, last.known, last.at
	p := d.progressLocked(sh.ID, dev.UID)
	changed := false
	// Downloads older than 24 h no longer count against the limit.
	cut := now.Add(-24 * time.Hour).UnixMilli()
	if i := slices.IndexFunc(p.Downloads, func(t int64) bool { return t >= cut }); i != 0 {
		if i < 0 {
			i = len(p.Downloads)
		}
		p.Downloads = p.Downloads[i:]
		changed = true
	}
	if known && in.version != p.Version {
		p.Version, changed = in.version, true
	}
	runsNew := func(in info) bool {
		return in.version == sh.Firmware.Version && (in.build == "" || in.build == sh.Firmware.Build)
	}
	isNew := known && runsNew(in)
	// A report of the new build since the last step is a success even if
	// the device already reports something else (Old → New → Old).
	if !isNew && slices.ContainsFunc(reported, runsNew) && !p.WasNew &&
		(p.Status == StRequestSent || p.Status == StRequested || p.Status == StDownloaded || p.Status == StUploadFailure) {
		p.WasNew = true
		changed = d.setLocked(sh, dev, p, StSuccess, "") || changed
	}
	switch p.Status {
	case StRollback, StTypeMismatch, StVersionMismatch:
		return changed // final
	case StSuccess:
		if known && !isNew {
			return d.setLocked(sh, dev, p, StRollback, "reported "+in.version+" after "+sh.Firmware.Version) || changed
		}
		return changed
	case StUpToDate:
		if known && !isNew {
			p.Status = "" // the device went back: evaluate it again
			changed = true
		} else {
			return changed
		}
	}
	if !known {
		return changed // wait for the device to say what it runs
	}
	if isNew {
		p.WasNew = true
		if p.Status == "" || p.Status == StAwaitingUser {
			return d.setLocked(sh, dev, p, StUpToDate, "") || changed
		}
		return d.setLocked(sh, dev, p, StSuccess, "") || changed
	}
	if p.WasNew {
		return d.setLocked(sh, dev, p, StRollback, "reported "+in.version+" after "+sh.Firmware.Version) || changed
	}
	if in.typ != "" && in.typ != sh.Firmware.Type {
		return d.setLocked(sh, dev, p, StTypeMismatch, "device runs "+in.typ) || changed
	}
	// A device that downloaded and came back with the old build failed to
	// apply the image; it may be offered again within its attempts.
	// (A device that started a download and announces itself again with
	// the old build failed to download or to flash it.)
	// A device that comes back with a version that is neither the one it
	// was offered the update on nor the shipped one runs something else:
	// a firmware version mismatch (final, as a type mismatch).
	if (p.Status == StRequested || p.Status == StDownloaded) && len(p.Downloads) > 0 && infoAt > p.Downloads[len(p.Downloads)-1] {
		if p.From != "" && in.version != p.From {
			return d.setLocked(sh, dev, p, StVersionMismatch, "reported "+in.version) || changed
		}
		changed = d.setLocked(sh, dev, p, StUploadFailure, "reconnected with "+in.version) || changed
	}
	switch sh.Rule {
	case "other_build":
		if in.build == sh.Firmware.Build {
			return d.setLocked(sh, dev, p, StUpToDate, "") || changed
		}
	default:
		if blnkinf.CompareVersions(in.version, sh.Firmware.Version) >= 0 {
			return d.setLocked(sh, dev, p, StUpToDate, "") || changed
		}
	}
	if sh.Paused || !cached || !d.opts.Hub.Online(dev.ID) {
		return changed
	}
	approved := slices.Contains(sh.Approved, dev.UID)
	if sh.UserControlled && !approved {
		return d.setLocked(sh, dev, p, StAwaitingUser, "") || changed
	}
	if len(p.Downloads) >= sh.Attempts {
		return d.setLocked(sh, dev, p, StDownloadLimit, "") || changed
	}
	if !approved {
		tz, _ := d.opts.Hub.Meta(dev.ID, blynktime.MetaTimeZone)
		if !windowOpen(sh.Window, now, blynktime.Zone(tz, nil)) {
			return changed
		}
	}
	// An offer is repeated when the device announced itself again since
	// (it reconnected: an MQTT device may not have subscribed yet when the
	// first one went out), or after ResendAfter.
	if (p.Status == StRequested || p.Status == StDownloaded) && len(p.Downloads) > 0 &&
		now.UnixMilli()-p.Downloads[len(p.Downloads)-1] < d.opts.ResendAfter.Milliseconds() {
		return changed // downloading: wait for the device to come back
	}
	if p.Status == StRequestSent && infoAt <= p.SentAt &&
		now.UnixMilli()-p.SentAt < d.opts.ResendAfter.Milliseconds() {
		return changed
	}
	return d.offerLocked(sh, dev, p, now) || changed
}

// URL is the LAN address of a shipment's image for one device.
func (d *Delivery) urlFor(sh *syncproto.Shipment, p *progress) string {
	return d.opts.URL + "/ota/" + sh.Firmware.SHA256 + ".bin?token=" + p.Ticket
}

// offerLocked sends the update to the device's connections.
func (d *Delivery) offerLocked(sh *syncproto.Shipment, dev hub.Device, p *progress, now time.Time) bool {
	u := d.urlFor(sh, p)
	payload, _ := json.Marshal(struct {
		URL   string `json:"url"`
		Size  int64  `json:"size"`
		Type  string `json:"type,omitempty"`
		Ver   string `json:"ver,omitempty"`
		Build string `json:"build,omitempty"`
	}{u, sh.Firmware.Size, sh.Firmware.Type, sh.Firmware.Version, sh.Firmware.Build})
	if d.opts.Hub.Offer(dev.ID, hub.Delivery{Kind: hub.DeliverOTA, Name: u, Value: string(payload), TS: now.UnixMilli()}) == 0 {
		return false
	}
	p.SentAt, p.From = now.UnixMilli(), p.Version
	if p.Status == StRequestSent {
		return true
	}
	d.setLocked(sh, dev, p, StRequestSent, "")
	return true
}

// Status returns a device's status in a shipment ("" if none yet).
func (d *Delivery) Status(shipment, uid string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.st.Devices[shipment][uid]; p != nil {
		return p.Status
	}
	return ""
}
