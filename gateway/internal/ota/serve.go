package ota

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP serves GET /ota/<sha256>.bin?token=<ticket>: the cached image
// to the device the ticket was issued to, with the headers Blynk's OTA
// code reads (x-md5 hex, x-sha256 base64, x-fw-type/-ver/-build) and a
// Content-Length, never chunked, Range supported, streamed from the file.
// A request from byte 0 counts as a download attempt; a device at its
// limit is refused with 429.
func (d *Delivery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/ota/")
	sha, ok2 := strings.CutSuffix(name, ".bin")
	if !ok || !ok2 {
		http.NotFound(w, r)
		return
	}
	now := d.opts.Now()
	d.mu.Lock()
	ref, known := d.byTick[r.URL.Query().Get("token")]
	var (
		p     *progress
		found bool
	)
	for i := range d.st.Shipments {
		sh := &d.st.Shipments[i]
		if known && sh.ID == ref.shipment && sh.Firmware.SHA256 == sha {
			p = d.st.Devices[sh.ID][ref.uid]
			found = p != nil
			break
		}
	}
	if !found {
		d.mu.Unlock()
		http.Error(w, "invalid token or no such firmware", http.StatusForbidden)
		return
	}
	var shIdx int
	for i := range d.st.Shipments {
		if d.st.Shipments[i].ID == ref.shipment {
			shIdx = i
		}
	}
	sh := d.st.Shipments[shIdx]
	dev, devOK := d.opts.Hub.DeviceByUID(ref.uid)
	first := r.Method == http.MethodGet && !strings.HasPrefix(r.Header.Get("Range"), "bytes=") ||
		strings.HasPrefix(r.Header.Get("Range"), "bytes=0-")
	if first && r.Method == http.MethodGet {
		cut := now.Add(-24 * time.Hour).UnixMilli()
		n := 0
		for _, t := range p.Downloads {
			if t >= cut {
				n++
			}
		}
		if n >= sh.Attempts {
			if devOK {
				d.setLocked(&sh, dev, p, StDownloadLimit, "")
			}
			d.dirty = true
			d.mu.Unlock()
			http.Error(w, "download limit reached", http.StatusTooManyRequests)
			return
		}
		p.Downloads = append(p.Downloads, now.UnixMilli())
		if devOK {
			d.setLocked(&sh, dev, p, StRequested, "")
		}
		d.dirty = true
	}
	d.mu.Unlock()
	d.poke() // the step loop saves the progress

	f, err := d.cache.Open(sha)
	if err != nil {
		http.Error(w, "firmware not cached yet", http.StatusServiceUnavailable)
		return
	}
	defer f.Close()
	sum, _ := hex.DecodeString(sha)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-md5", sh.Firmware.MD5)
	h.Set("x-sha256", base64.StdEncoding.EncodeToString(sum))
	h.Set("x-fw-type", sh.Firmware.Type)
	h.Set("x-fw-ver", sh.Firmware.Version)
	h.Set("x-fw-build", sh.Firmware.Build)
	cw := &countWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, io.ReadSeeker(f))
	// The download is complete when the response reached the image's end
	// (a full body, or the last range of a resumed one).
	end := rangeEnd(r.Header.Get("Range"), sh.Firmware.Size)
	if r.Method == http.MethodGet && cw.status < 300 && cw.n > 0 && end == sh.Firmware.Size && cw.complete(r, sh.Firmware.Size) && devOK {
		d.mu.Lock()
		if cur := d.st.Devices[sh.ID][ref.uid]; cur != nil && cur.Status == StRequested {
			cur.DownloadedAt = d.opts.Now().UnixMilli()
			d.setLocked(&sh, dev, cur, StDownloaded, "")
			d.dirty = true
		}
		d.mu.Unlock()
		d.poke()
	}
}

// countWriter counts the body bytes written.
type countWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadFrom keeps the server's sendfile path (the file goes from the page
// cache to the socket without a copy buffer per download).
func (c *countWriter) ReadFrom(r io.Reader) (int64, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{c.ResponseWriter}, r)
	}
	c.n += n
	return n, err
}

// complete reports whether every byte promised was written.
func (c *countWriter) complete(r *http.Request, size int64) bool {
	want := c.Header().Get("Content-Length")
	return want != "" && want == strconv.FormatInt(c.n, 10)
}

// rangeEnd is the end (exclusive) of a single "bytes=a-b" range, size
// when open-ended or absent.
func rangeEnd(h string, size int64) int64 {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return size
	}
	_, b, _ := strings.Cut(spec, "-")
	if b == "" {
		return size
	}
	n, err := strconv.ParseInt(b, 10, 64)
	if err != nil || n+1 > size {
		return size
	}
	return n + 1
}
