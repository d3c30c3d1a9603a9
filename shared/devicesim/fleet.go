package devicesim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"outpost/shared/blynk"
)

// FleetOptions configure a Fleet.
type FleetOptions struct {
	Addr   string
	Tokens []string
	// Device is the template for every device; the fleet sets Token and
	// Handler.
	Device Options
	// Pin is the virtual pin every device writes. Each value is the send
	// time in Unix nanoseconds, so the datastream must take an integer that
	// large, a double or a string.
	Pin int
	// Rate is writes per second per device; each device's writes are spaced
	// evenly and the devices are phase-shifted so the total is smooth too.
	Rate float64
	// Batch is the shortest wait between two socket writes of one device;
	// writes that fall due within it share one write call (and one packet),
	// which keeps high rates from being bound by system calls. Default 20ms.
	Batch time.Duration
	// DialParallel is how many devices log in at once. Default 8.
	DialParallel int
}

// Fleet is a set of simulated devices writing at a fixed rate.
type Fleet struct {
	opts    FleetOptions
	devices []*Device
	cur     atomic.Pointer[collector] // the running Run's collector, nil between runs
}

// collector gathers what devices receive during one Run.
type collector struct {
	downlinks atomic.Uint64
	mu        sync.Mutex
	responses map[blynk.Status]uint64
	latency   []time.Duration
}

// Stats are the results of one Run.
type Stats struct {
	Devices      int           // devices connected when the run started
	Elapsed      time.Duration // the run's length
	Sent         uint64        // writes sent
	Late         uint64        // writes skipped because a device fell behind schedule
	SendErrors   uint64        // devices whose socket write failed
	Disconnected int           // devices whose connection ended during the run
	// Responses counts RESPONSE frames received, by status (the server
	// answers pings with 200; 1 means writes were dropped for flooding).
	Responses map[blynk.Status]uint64
	// Downlinks counts HARDWARE writes received; Latency holds, for those
	// whose first value is a recent Unix-nanosecond time, receive − that time.
	Downlinks uint64
	Latency   []time.Duration
}

// SentPerSecond is Sent over Elapsed.
func (s Stats) SentPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// NewFleet returns an unconnected fleet.
func NewFleet(opts FleetOptions) *Fleet {
	if opts.Batch <= 0 {
		opts.Batch = 20 * time.Millisecond
	}
	if opts.DialParallel <= 0 {
		opts.DialParallel = 8
	}
	return &Fleet{opts: opts}
}

// Connect logs every token in. Devices that fail are left out; the error
// joins the first few failures and says how many there were.
func (f *Fleet) Connect(ctx context.Context) error {
	var (
		mu     sync.Mutex
		errs   []error
		failed int
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, f.opts.DialParallel)
	devices := make([]*Device, len(f.opts.Tokens))
	for i, token := range f.opts.Tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := f.opts.Device
			o.Token = token
			o.Handler = f.handle
			d, err := Dial(ctx, f.opts.Addr, o)
			if err != nil {
				mu.Lock()
				failed++
				if len(errs) < 3 {
					errs = append(errs, fmt.Errorf("device %d: %w", i, err))
				}
				mu.Unlock()
				return
			}
			devices[i] = d
		}()
	}
	wg.Wait()
	for _, d := range devices {
		if d != nil {
			f.devices = append(f.devices, d)
		}
	}
	if failed > 0 {
		return fmt.Errorf("devicesim: %d of %d devices failed to connect: %w", failed, len(f.opts.Tokens), errors.Join(errs...))
	}
	return nil
}

// Devices returns the connected devices.
func (f *Fleet) Devices() []*Device { return f.devices }

// Close closes every device.
func (f *Fleet) Close() {
	for _, d := range f.devices {
		d.Close()
	}
}

// maxStampAge bounds which received values count as send timestamps.
const maxStampAge = time.Hour

func (f *Fleet) handle(in Incoming) {
	c := f.cur.Load()
	if c == nil {
		return
	}
	switch {
	case in.Msg.Cmd == blynk.CmdResponse:
		c.mu.Lock()
		c.responses[in.Msg.Status]++
		c.mu.Unlock()
	case in.Op == blynk.OpVirtualWrite:
		c.downlinks.Add(1)
		if len(in.Values) == 0 {
			return
		}
		ns, err := strconv.ParseInt(in.Values[0], 10, 64)
		if err != nil {
			// A double datastream may hand the stamp back as 1.7e+18.
			f, ferr := strconv.ParseFloat(in.Values[0], 64)
			if ferr != nil || f < 0 || f > math.MaxInt64 {
				return
			}
			ns = int64(f)
		}
		lat := in.At.Sub(time.Unix(0, ns))
		if lat < -time.Second || lat > maxStampAge {
			return // not a timestamp of ours
		}
		c.mu.Lock()
		c.latency = append(c.latency, lat)
		c.mu.Unlock()
	}
}

// Run makes every connected device write at the fleet's rate for d (or
// until ctx ends) and returns what happened. Runs must not overlap.
func (f *Fleet) Run(ctx context.Context, d time.Duration) Stats {
	c := &collector{responses: map[blynk.Status]uint64{}}
	f.cur.Store(c)
	var sent, late, sendErrs atomic.Uint64
	var disconnected atomic.Int64
	n := len(f.devices)
	t0 := time.Now()
	end := t0.Add(d)
	var wg sync.WaitGroup
	if f.opts.Rate > 0 {
		interval := time.Duration(float64(time.Second) / f.opts.Rate)
		for i, dev := range f.devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, l, err := f.writeLoop(ctx, dev, t0.Add(interval*time.Duration(i)/time.Duration(n)), end, interval)
				sent.Add(s)
				late.Add(l)
				if err != nil {
					sendErrs.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	select {
	case <-time.After(time.Until(end)): // rate 0: just listen
	case <-ctx.Done():
	}
	elapsed := time.Since(t0)
	f.cur.Store(nil)
	for _, dev := range f.devices {
		select {
		case <-dev.Done():
			disconnected.Add(1)
		default:
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Devices:      n,
		Elapsed:      elapsed,
		Sent:         sent.Load(),
		Late:         late.Load(),
		SendErrors:   sendErrs.Load(),
		Disconnected: int(disconnected.Load()),
		Responses:    c.responses,
		Downlinks:    c.downlinks.Load(),
		Latency:      slices.Clone(c.latency),
	}
}

// writeLoop sends the writes due between start and end, spaced by interval.
func (f *Fleet) writeLoop(ctx context.Context, dev *Device, start, end time.Time, interval time.Duration) (sent, late uint64, err error) {
	// A device that fell behind sends at most a few batches' worth at once
	// and counts the rest as late, so a stalled server is not hidden by a
	// burst afterwards.
	maxBurst := max(1, int(4*f.opts.Batch/interval))
	timer := time.NewTimer(time.Until(start))
	defer timer.Stop()
	done := 0 // writes due so far that were sent or skipped
	for {
		select {
		case <-ctx.Done():
			return sent, late, nil
		case <-dev.Done():
			return sent, late, nil
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(end) {
			return sent, late, nil
		}
		due := int(now.Sub(start)/interval) + 1
		k := due - done
		if k > maxBurst {
			late += uint64(k - maxBurst)
			done += k - maxBurst
			k = maxBurst
		}
		if k > 0 {
			if err := dev.writeStamped(f.opts.Pin, k, now.UnixNano(), end.Add(5*time.Second)); err != nil {
				return sent, late, err
			}
			sent += uint64(k)
			done += k
		}
		next := time.Until(start.Add(time.Duration(done) * interval))
		timer.Reset(max(next, f.opts.Batch))
	}
}

// writeStamped sends k frames "vw pin ts" in one socket write.
func (d *Device) writeStamped(pin, k int, ts int64, deadline time.Time) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	b := d.body[:0]
	for range k {
		at := len(b)
		id := d.ids.Next()
		b = append(b, byte(blynk.CmdHardware), byte(id>>8), byte(id), 0, 0)
		b = blynk.AppendVirtualWrite(b, pin)
		b = strconv.AppendInt(append(b, 0), ts, 10)
		n := len(b) - at - blynk.HeaderSize
		b[at+3], b[at+4] = byte(n>>8), byte(n)
	}
	d.body = b
	d.conn.SetWriteDeadline(deadline) // a stalled server must not outlive the run
	_, err := d.conn.Write(b)
	d.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("devicesim: send: %w", err)
	}
	d.lastSent.Store(d.opts.Now().UnixNano())
	return nil
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100, nearest rank) of ds,
// or 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
