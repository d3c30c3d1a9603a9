// Package deviceapi serves Blynk's device HTTP API (PROTOCOL.md §3, §7.9)
// under /external/api/ (the installer API lives in
// gateway/internal/installer). Every request is turned into the same hub calls the
// other transports make, so validation, clamping and delivery to connected
// devices are identical. A write is answered only once the store has
// committed it: a 200 means the write survives a crash.
package deviceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"outpost/gateway/internal/deviceapi/batchjson"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/loginlog"
	"outpost/shared/datastream"
)

// Hub is what the device API needs of the routing core (satisfied by *hub.Hub).
type Hub interface {
	Authenticate(token string) (hub.Device, error)
	Template(id string) (datastream.Template, bool)
	Datastream(deviceID int64, pin int) (datastream.Datastream, bool)
	Online(deviceID int64) bool
	ControlWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	DeviceWrite(deviceID int64, pin int, items [][]byte, ts int64, source string) (string, error)
	Value(deviceID int64, pin int) (hub.PinValue, bool)
	Values(deviceID int64) []hub.PinValue
	LogEvent(deviceID int64, code, description string, ts int64, source string) error
	SetProperty(deviceID int64, pin int, name string, items [][]byte, source string) error
	SetMeta(deviceID int64, name, value, source string) error
	Meta(deviceID int64, name string) (string, error)
	Flush(ctx context.Context) error
}

// Options configure the device API handler.
type Options struct {
	Hub    Hub
	Logger *slog.Logger
	Now    func() time.Time // nil → time.Now (batch timestamp window)
	// MaxBatch is the largest POST batch/update, in points (default 10,000).
	MaxBatch int
	// MaxBody bounds a request body (default 2 MB, Blynk's limit).
	MaxBody int64
}

// Source is the hub source of everything written over HTTP.
const Source = "http"

// Prefix is where the device API is mounted.
const Prefix = "/external/api/"

// maxBatchAge bounds POSTed timestamps (PROTOCOL.md §3: at most a month old).
const maxBatchAge = 31 * 24 * time.Hour

type api struct {
	hub      Hub
	log      *slog.Logger
	now      func() time.Time
	maxBatch int
	maxBody  int64
	logins   *loginlog.Log
}

// New returns the handler of /external/api/….
func New(opts Options) http.Handler {
	a := &api{hub: opts.Hub, log: opts.Logger, now: opts.Now, maxBatch: opts.MaxBatch, maxBody: opts.MaxBody}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "deviceapi")
	if a.now == nil {
		a.now = time.Now
	}
	a.logins = loginlog.New(a.log, a.now)
	if a.maxBatch <= 0 {
		a.maxBatch = 10000
	}
	if a.maxBody <= 0 {
		a.maxBody = 2 << 20
	}
	return a
}

// refusal is the logged reason a token was refused (never the token).
func refusal(token string) string {
	switch {
	case token == "":
		return loginlog.ReasonNoToken
	case !hub.ValidToken(token):
		return loginlog.ReasonMalformedToken
	}
	return loginlog.ReasonUnknownToken
}

// apiError is a 400 answer with Blynk's message.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) *apiError { return &apiError{http.StatusBadRequest, msg} }

// The messages of Blynk's device HTTP API (PROTOCOL.md §3).
var (
	errInvalidToken   = badRequest("Invalid token.")
	errWrongPin       = badRequest("Wrong pin format.")
	errWrongType      = badRequest("Value doesn't match the Datastream data type")
	errNoDatastream   = badRequest("No datastream setup for that pin.")
	errContentType    = badRequest("Unknown content type.")
	errNoEventCode    = badRequest("Event code is not provided.")
	errNoEvent        = badRequest("Can't find Event with this code in Product template")
	errMetaFormat     = badRequest("Wrong metaField format.")
	errNoMeta         = badRequest("MetaField doesn't exist.")
	errWrongValue     = badRequest("Wrong value")
	errWrongProperty  = badRequest("Wrong property.")
	errBadBatch       = badRequest("Wrong batch format.")
	errBatchTimestamp = badRequest("Timestamp is outside the allowed range (one month).")
	errNoValue        = badRequest("Requested pin doesn't exist in the app.")
	// Blynk's docs give no message for a string over the length limit.
	errTooLong   = badRequest(fmt.Sprintf("Value is too long: a datastream value holds at most %d bytes.", datastream.MaxString))
	errNotFound  = &apiError{http.StatusNotFound, "Not found."}
	errNotStored = &apiError{http.StatusServiceUnavailable, "The gateway is stopping: the write may not be stored."}
	errMethod    = &apiError{http.StatusMethodNotAllowed, "Method not allowed."}
)

func errBatchTooLarge(max int) *apiError {
	return badRequest(fmt.Sprintf("Too much data in batch. Maximum batch size is %d points.", max))
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			a.log.Error("device api", "path", r.URL.Path, "error", err)
			ae = &apiError{http.StatusInternalServerError, "Internal error."}
		}
		writeError(w, ae.status, ae.msg)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}{Error: struct {
		Message string `json:"message"`
	}{msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) error {
	endpoint, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		return errNotFound
	}
	post := r.Method == http.MethodPost
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !(post && endpoint == "batch/update") {
		return errMethod
	}
	var psBuf [8]param // typical queries fit: no allocation
	ps := appendQuery(psBuf[:0], r.URL.RawQuery)
	token, _ := first(ps, "token")
	dev, err := a.hub.Authenticate(token)
	if err != nil {
		a.logins.Refused("http", refusal(token), r.RemoteAddr)
		return errInvalidToken
	}
	a.logins.Login("http", dev.ID, r.RemoteAddr)
	switch endpoint {
	case "get":
		return a.get(w, dev, ps)
	case "getAll":
		return a.getAll(w, dev)
	case "isHardwareConnected":
		return writeText(w, strconv.FormatBool(a.hub.Online(dev.ID)))
	case "device/meta":
		return a.meta(w, dev, ps)
	}
	// The writes: a success answer goes out only once the write is
	// committed (durable), see durable.
	switch endpoint {
	case "update":
		err = a.update(dev, ps)
	case "batch/update":
		if post {
			err = a.batchPost(w, r, dev, ps)
		} else {
			err = a.update(dev, ps)
		}
	case "update/property":
		err = a.property(dev, ps)
	case "logEvent":
		err = a.logEvent(dev, ps)
	case "device/meta/update":
		err = a.metaUpdate(dev, ps)
	default:
		return errNotFound
	}
	if err != nil {
		return err
	}
	return a.durable(r.Context())
}

// durable waits until the writes of the request are committed by the
// store, so that a 200 means the write survives a crash (README
// "Durability of writes"). Concurrent requests share commits. A client
// that goes away stops the wait (its write is still committed); a store
// that closes first gets a 503: the write may be lost, the device should
// send it again.
func (a *api) durable(ctx context.Context) error {
	err := a.hub.Flush(ctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &apiError{http.StatusServiceUnavailable, "Request cancelled before the write was stored."}
	}
	a.log.Warn("write not confirmed durable", "error", err)
	return errNotStored
}

func writeText(w http.ResponseWriter, s string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, s)
	return err
}

func writeJSON(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(b)
	return err
}

// pinParam recognises a pin key: `v1`/`V1`, or anything else (nil, false).
func pinKey(key string) (int, bool, error) {
	if len(key) < 2 || (key[0] != 'v' && key[0] != 'V') || key[1] < '0' || key[1] > '9' {
		return 0, false, nil
	}
	pin, err := datastream.ParsePinName(key)
	if err != nil {
		return 0, true, errWrongPin
	}
	return pin, true, nil
}

// datastreamFor resolves a pin of the device's template.
func (a *api) datastreamFor(dev hub.Device, pin int) (datastream.Datastream, error) {
	ds, ok := a.hub.Datastream(dev.ID, pin)
	if !ok {
		return ds, errNoDatastream
	}
	return ds, nil
}

// dataStreamID parses dataStreamId=<n> (Outpost's datastream ids are pins).
func (a *api) dataStreamID(dev hub.Device, s string) (int, error) {
	pin, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || pin < 0 || pin > datastream.MaxPin {
		return 0, errWrongPin
	}
	if _, ok := a.hub.Datastream(dev.ID, pin); !ok {
		name := dev.TemplateID
		if t, ok := a.hub.Template(dev.TemplateID); ok && t.Name != "" {
			name = t.Name
		}
		return 0, badRequest("Requested dataStream doesn't exist in the product " + name)
	}
	return pin, nil
}

// get answers one pin as plain text, several as a JSON object. Pins are
// named by a bare key (`v1`, `V1`), `pin=V1` / `pin=v1` (as /update takes
// them) or `dataStreamId=<id>`. Decisions where Blynk's docs are silent:
//   - a single pin with neither a value nor a default answers 400
//     "Requested pin doesn't exist in the app." (Blynk's server message for
//     a pin without a stored value);
//   - in a multi-pin answer such a pin is left out, as /getAll leaves out
//     pins without a value;
//   - the shape follows the number of pins asked: one → plain value,
//     several → JSON object; a pin asked twice (`v1&V1&pin=v1`) gives one
//     key, in the order first asked;
//   - Boolean values read back as the numbers 1 and 0 everywhere (plain,
//     multi-pin and /getAll), as Blynk's examples show, not true/false.
func (a *api) get(w http.ResponseWriter, dev hub.Device, ps []param) error {
	var pbuf [8]int
	pins := pbuf[:0] // distinct, in the order first asked
	asked := 0
	for _, p := range ps {
		var pin int
		switch {
		case p.key == "token":
			continue
		case p.key == "dataStreamId":
			n, err := a.dataStreamID(dev, p.value)
			if err != nil {
				return err
			}
			pin = n
		case p.key == "pin":
			n, err := datastream.ParsePinName(p.value)
			if err != nil {
				return errWrongPin
			}
			pin = n
		default:
			n, isPin, err := pinKey(p.key)
			if err != nil {
				return err
			}
			if !isPin {
				continue
			}
			pin = n
		}
		asked++
		if !slices.Contains(pins, pin) {
			pins = append(pins, pin)
		}
	}
	if asked == 0 {
		return errWrongPin
	}
	if asked == 1 {
		ds, err := a.datastreamFor(dev, pins[0])
		if err != nil {
			return err
		}
		v, ok := a.hub.Value(dev.ID, pins[0])
		if !ok {
			return errNoValue
		}
		if strings.IndexByte(v.Value, 0) >= 0 {
			return writeJSON(w, ds.AppendJSON(nil, v.Value))
		}
		return writeText(w, v.Value)
	}
	buf := []byte{'{'}
	for _, pin := range pins {
		ds, err := a.datastreamFor(dev, pin)
		if err != nil {
			return err
		}
		v, ok := a.hub.Value(dev.ID, pin)
		if !ok {
			continue
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, `"v`...)
		buf = strconv.AppendInt(buf, int64(pin), 10)
		buf = append(buf, `":`...)
		buf = appendJSONValue(buf, ds, v.Value)
	}
	return writeJSON(w, append(buf, '}'))
}

// appendJSONValue appends a canonical value as JSON; Booleans as the
// numbers 1 and 0 (see get).
func appendJSONValue(buf []byte, ds datastream.Datastream, v string) []byte {
	if ds.Type == datastream.Boolean && (v == "0" || v == "1") {
		return append(buf, v...)
	}
	return ds.AppendJSON(buf, v)
}

// getAll answers every pin that has a value.
func (a *api) getAll(w http.ResponseWriter, dev hub.Device) error {
	buf := []byte{'{'}
	for i, v := range a.hub.Values(dev.ID) {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `"v`...)
		buf = strconv.AppendInt(buf, int64(v.Pin), 10)
		buf = append(buf, `":`...)
		ds, ok := a.hub.Datastream(dev.ID, v.Pin)
		if !ok {
			ds = datastream.Datastream{Type: datastream.String}
		}
		buf = appendJSONValue(buf, ds, v.Value)
	}
	return writeJSON(w, append(buf, '}'))
}

// update writes `v1=100` (repeat the key for several values), or
// `dataStreamId=<id>|pin=V1` with `value=…` repeated; several pins may be
// written at once (batch/update), all with the same timestamp.
func (a *api) update(dev hub.Device, ps []param) error {
	// Every value item, in query order, with its pin; the items of a pin
	// are then written together, pins in order of first appearance. The
	// refs live on the stack for typical queries, so the common one-pin
	// update allocates only the items handed to the hub.
	type ref struct {
		pin  int
		text string
	}
	var rbuf [8]ref
	refs := rbuf[:0]
	var values []string // value=… of the pin=/dataStreamId= form, read once
	for _, p := range ps {
		switch p.key {
		case "token", "value":
		case "dataStreamId", "pin":
			var pin int
			var err error
			if p.key == "pin" {
				if pin, err = datastream.ParsePinName(p.value); err != nil {
					return errWrongPin
				}
			} else if pin, err = a.dataStreamID(dev, p.value); err != nil {
				return err
			}
			if values == nil {
				values = all(ps, "value")
			}
			if len(values) == 0 {
				return errWrongValue
			}
			for _, v := range values {
				refs = append(refs, ref{pin, v})
			}
		default:
			pin, isPin, err := pinKey(p.key)
			if err != nil {
				return err
			}
			if isPin {
				refs = append(refs, ref{pin, p.value})
			}
		}
	}
	if len(refs) == 0 {
		return errWrongPin
	}
	ts := a.now().UnixMilli()
	for i, r := range refs {
		if slices.ContainsFunc(refs[:i], func(q ref) bool { return q.pin == r.pin }) {
			continue // written with the pin's first item
		}
		// One allocation for the items' bytes and one for the slice.
		n, size := 0, 0
		for _, q := range refs[i:] {
			if q.pin == r.pin {
				n++
				size += len(q.text)
			}
		}
		buf := make([]byte, 0, size)
		items := make([][]byte, 0, n)
		for _, q := range refs[i:] {
			if q.pin == r.pin {
				start := len(buf)
				buf = append(buf, q.text...)
				items = append(items, buf[start:len(buf):len(buf)])
			}
		}
		if _, err := a.hub.ControlWrite(dev.ID, r.pin, items, ts, Source); err != nil {
			return writeErr(err)
		}
	}
	return nil
}

// writeErr maps a hub write error to the Blynk answer.
func writeErr(err error) error {
	switch {
	case errors.Is(err, datastream.ErrNoDatastream):
		return errNoDatastream
	case errors.Is(err, datastream.ErrBadPin):
		return errWrongPin
	case errors.Is(err, datastream.ErrTooLong):
		return errTooLong
	case errors.Is(err, datastream.ErrWrongType), errors.Is(err, datastream.ErrArity):
		return errWrongType
	case errors.Is(err, hub.ErrNoDevice):
		return errInvalidToken
	}
	return err
}

// batchPost stores `[[ts_ms, value], …]` for one pin (`pin=v1` or
// `dataStreamId=`): JSON types must match the datastream type; timestamps
// at most a month away from now. The batch is checked whole before
// anything is stored.
func (a *api) batchPost(w http.ResponseWriter, r *http.Request, dev hub.Device, ps []param) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return errContentType
	}
	pin := -1
	if s, ok := first(ps, "pin"); ok {
		p, err := datastream.ParsePinName(s)
		if err != nil {
			return errWrongPin
		}
		pin = p
	} else if s, ok := first(ps, "dataStreamId"); ok {
		p, err := a.dataStreamID(dev, s)
		if err != nil {
			return err
		}
		pin = p
	} else {
		for _, p := range ps {
			if n, isPin, err := pinKey(p.key); err != nil {
				return err
			} else if isPin {
				pin = n
				break
			}
		}
	}
	if pin < 0 {
		return errWrongPin
	}
	ds, err := a.datastreamFor(dev, pin)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{http.StatusRequestEntityTooLarge, "Request is too large."}
		}
		return fmt.Errorf("deviceapi: read body: %w", err)
	}
	points, err := batchjson.ParseTimestamped(body, a.maxBatch)
	switch {
	case errors.Is(err, batchjson.ErrTooLarge):
		return errBatchTooLarge(a.maxBatch)
	case err != nil:
		return errBadBatch
	}
	now := a.now().UnixMilli()
	window := maxBatchAge.Milliseconds()
	values := make([]string, len(points))
	for i, p := range points {
		if p.TS < now-window || p.TS > now+window {
			return errBatchTimestamp
		}
		if values[i], err = ds.NormalizeJSON(p.Value); err != nil {
			if errors.Is(err, datastream.ErrTooLong) {
				return errTooLong
			}
			return errWrongType
		}
	}
	for i, p := range points {
		// Historical data from the device's side: stored, not sent to it.
		if _, err := a.hub.DeviceWrite(dev.ID, pin, splitNUL(values[i]), p.TS, Source); err != nil {
			return writeErr(err)
		}
	}
	return nil
}

func splitNUL(s string) [][]byte {
	parts := strings.Split(s, "\x00")
	out := make([][]byte, len(parts))
	for i, p := range parts {
		out[i] = []byte(p)
	}
	return out
}

// property sets `pin=v1&<property>=<value>` (repeat for several values).
func (a *api) property(dev hub.Device, ps []param) error {
	s, ok := first(ps, "pin")
	if !ok {
		return errWrongPin
	}
	pin, err := datastream.ParsePinName(s)
	if err != nil {
		return errWrongPin
	}
	if _, err := a.datastreamFor(dev, pin); err != nil {
		return err
	}
	props := map[string][][]byte{}
	var order []string
	for _, p := range ps {
		if p.key == "token" || p.key == "pin" {
			continue
		}
		if _, seen := props[p.key]; !seen {
			order = append(order, p.key)
		}
		props[p.key] = append(props[p.key], []byte(p.value))
	}
	if len(order) == 0 {
		return errWrongProperty
	}
	for _, name := range order {
		if err := a.hub.SetProperty(dev.ID, pin, name, props[name], Source); err != nil {
			if errors.Is(err, hub.ErrBadProperty) || errors.Is(err, datastream.ErrTooLong) {
				return errWrongProperty
			}
			return writeErr(err)
		}
	}
	return nil
}

func (a *api) logEvent(dev hub.Device, ps []param) error {
	code, _ := first(ps, "code")
	if code == "" {
		return errNoEventCode
	}
	desc, _ := first(ps, "description")
	if err := a.hub.LogEvent(dev.ID, code, desc, 0, Source); err != nil {
		if errors.Is(err, hub.ErrNoEvent) {
			return errNoEvent
		}
		return writeErr(err)
	}
	return nil
}

// metaField resolves metaFieldId=<id> or metaFieldName=<name> to a name.
func (a *api) metaField(dev hub.Device, ps []param) (string, error) {
	t, _ := a.hub.Template(dev.TemplateID)
	if s, ok := first(ps, "metaFieldId"); ok {
		id, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return "", errMetaFormat
		}
		for _, f := range t.MetaFields {
			if f.ID == id {
				return f.Name, nil
			}
		}
		return "", errNoMeta
	}
	if s, ok := first(ps, "metaFieldName"); ok && s != "" {
		for _, f := range t.MetaFields {
			if f.Name == s {
				return f.Name, nil
			}
		}
		return "", errNoMeta
	}
	return "", errMetaFormat
}

func (a *api) meta(w http.ResponseWriter, dev hub.Device, ps []param) error {
	name, err := a.metaField(dev, ps)
	if err != nil {
		return err
	}
	v, err := a.hub.Meta(dev.ID, name)
	if err != nil {
		if errors.Is(err, hub.ErrNoMeta) {
			return errNoMeta
		}
		return writeErr(err)
	}
	return writeText(w, v)
}

func (a *api) metaUpdate(dev hub.Device, ps []param) error {
	name, err := a.metaField(dev, ps)
	if err != nil {
		return err
	}
	v, ok := first(ps, "value")
	if !ok {
		return errWrongValue
	}
	if err := a.hub.SetMeta(dev.ID, name, v, Source); err != nil {
		if errors.Is(err, hub.ErrNoMeta) {
			return errNoMeta
		}
		return writeErr(err)
	}
	return nil
}
