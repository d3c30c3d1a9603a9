package bridgecheck

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"outpost/firmware-bridge/bridge"
	"outpost/firmware-bridge/gpiobridge"
	"outpost/firmware-bridge/serialbridge"
	"outpost/gateway/internal/blynkserver"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
	"outpost/shared/blynk"
	"outpost/shared/datastream"
)

const (
	serialToken = "serialTOKEN-0123456789abcdefghij"
	gpioToken   = "gpioTOKEN-0123456789abcdefghijkl"
)

type site struct {
	hub       *hub.Hub
	store     *sqlite.Store
	srv       *blynkserver.Server
	serialDev hub.Device
	gpioDev   hub.Device
	gpioCfg   gpiobridge.Config
}

func newSite(t testing.TB) *site {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "gw.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := hub.New(hub.Options{Store: st})
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	lo, hi := 0.0, 1000.0
	if err := h.SaveTemplate(ctx, datastream.Template{ID: "TMPLuno", Name: "Uno", Datastreams: []datastream.Datastream{
		{Pin: 1, Name: "t", Type: datastream.Integer, Min: &lo, Max: &hi}, {Pin: 5, Name: "led", Type: datastream.Integer},
	}}); err != nil {
		t.Fatal(err)
	}
	gc, err := gpiobridge.Config{Token: gpioToken, Pins: []gpiobridge.PinConfig{
		{Pin: "GPIO17", VPin: 1, Pull: "down", Debounce: new(time.Duration)},
		{Pin: "GPIO27", VPin: 2, Mode: gpiobridge.ModeOutput},
	}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SaveTemplate(ctx, gc.Template("TMPLgpio", "Pins")); err != nil {
		t.Fatal(err)
	}
	sd, err := h.AddDeviceWithToken(ctx, "TMPLuno", "uno", serialToken)
	if err != nil {
		t.Fatal(err)
	}
	gd, err := h.AddDeviceWithToken(ctx, "TMPLgpio", "pins", gpioToken)
	if err != nil {
		t.Fatal(err)
	}
	// Benchmarks send far above the flood limit (100 msg/s); lift it.
	srv := blynkserver.New(blynkserver.Options{Hub: h, Logger: slog.New(slog.DiscardHandler), Rate: 1e9, Burst: 1 << 30})
	return &site{hub: h, store: st, srv: srv, serialDev: sd, gpioDev: gd, gpioCfg: gc}
}

func run(t testing.TB, r bridge.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestGPIOBridgeWithRealGateway(t *testing.T) {
	s := newSite(t)
	in := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 4)}
	out := &gpiotest.Pin{N: "GPIO27"}
	b, err := gpiobridge.New(gpiobridge.Options{Config: s.gpioCfg, Pins: map[string]gpio.PinIO{"GPIO17": in, "GPIO27": out},
		Connector: bridge.InProcess(s.srv, gpiobridge.Kind)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, b)
	poll.Until(t, "gpio device online", func() bool { return s.hub.Online(s.gpioDev.ID) })
	in.EdgesChan <- gpio.High
	poll.Until(t, "V1 = 1", func() bool { v, ok := s.hub.Value(s.gpioDev.ID, 1); return ok && v.Value == "1" })
	if _, err := s.hub.ControlWrite(s.gpioDev.ID, 2, [][]byte{[]byte("1")}, 0, "local"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "relay on", func() bool { return out.Read() == gpio.High })
	if err := s.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hist, err := s.store.History(context.Background(), s.gpioDev.ID, 1, 0, time.Now().Add(time.Hour).UnixMilli(), 10)
	if err != nil || len(hist) == 0 {
		t.Fatalf("history %v %v", hist, err)
	}
}

func TestSerialBridgeWithRealGateway(t *testing.T) {
	s := newSite(t)
	master, slave, err := pty.Open()
	if err != nil {
		t.Skip(err)
	}
	tio, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio)
	defer master.Close()
	defer slave.Close()
	b := serialbridge.New(serialbridge.Options{Name: "uno", Port: slave.Name(),
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			return os.OpenFile(slave.Name(), os.O_RDWR|unix.O_NOCTTY, 0)
		},
		Connector: bridge.InProcess(s.srv, serialbridge.Kind)})
	run(t, b)
	poll.Until(t, "port open", func() bool { return b.Status().State == bridge.StateWaiting })
	w := blynk.NewWriter(master)
	rd := blynk.NewReader(master, 0)
	master.Write([]byte("boot noise\r\n\x14\x00"))
	w.Write(blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte(serialToken)})
	m, err := rd.Next()
	if err != nil || m.Cmd != blynk.CmdResponse || m.Status != blynk.StatusSuccess {
		t.Fatalf("login answer %v %v", m, err)
	}
	if !s.hub.Online(s.serialDev.ID) {
		t.Error("not online")
	}
	w.Write(blynk.Message{Cmd: blynk.CmdHardware, ID: 2, Body: []byte("vw\x001\x00421")})
	poll.Until(t, "V1 = 421", func() bool { v, ok := s.hub.Value(s.serialDev.ID, 1); return ok && v.Value == "421" })
	if _, err := s.hub.ControlWrite(s.serialDev.ID, 5, [][]byte{[]byte("7")}, 0, "local"); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Cmd == blynk.CmdHardware && bytes.Equal(m.Body, []byte("vw\x005\x007")) {
			break
		}
	}
}

// BenchmarkEdgeToHub: an input edge on a fake pin until the hub has
// accepted the write (queued for the store's group commit).
func BenchmarkEdgeToHub(b *testing.B) {
	s := newSite(b)
	in := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 4)}
	gb, err := gpiobridge.New(gpiobridge.Options{Config: s.gpioCfg, Pins: map[string]gpio.PinIO{"GPIO17": in, "GPIO27": &gpiotest.Pin{N: "GPIO27"}},
		Connector: bridge.InProcess(s.srv, gpiobridge.Kind)})
	if err != nil {
		b.Fatal(err)
	}
	run(b, gb)
	poll.Until(b, "online", func() bool { return s.hub.Online(s.gpioDev.ID) })
	got := make(chan struct{}, 1)
	cancel := s.hub.Subscribe(func(u hub.Update) {
		if u.Record.Kind == hub.KindWrite && u.Record.DeviceID == s.gpioDev.ID && u.Record.Pin == 1 {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	level := gpio.Low
	var lat []time.Duration
	for b.Loop() {
		level = !level
		t0 := time.Now()
		in.EdgesChan <- level
		<-got
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkEdgeToCommit: an edge until the value is committed in SQLite
// (includes the store's group-commit window, default 10ms).
func BenchmarkEdgeToCommit(b *testing.B) {
	s := newSite(b)
	in := &gpiotest.Pin{N: "GPIO17", EdgesChan: make(chan gpio.Level, 4)}
	gb, _ := gpiobridge.New(gpiobridge.Options{Config: s.gpioCfg, Pins: map[string]gpio.PinIO{"GPIO17": in, "GPIO27": &gpiotest.Pin{N: "GPIO27"}},
		Connector: bridge.InProcess(s.srv, gpiobridge.Kind)})
	run(b, gb)
	poll.Until(b, "online", func() bool { return s.hub.Online(s.gpioDev.ID) })
	got := make(chan struct{}, 1)
	cancel := s.hub.Subscribe(func(u hub.Update) {
		if u.Record.Kind == hub.KindWrite && u.Record.Pin == 1 {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	level := gpio.Low
	for b.Loop() {
		level = !level
		in.EdgesChan <- level
		<-got
		if err := s.store.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSerialWriteToHub: a vw frame written by the MCU on the pty until
// the hub accepted it.
func BenchmarkSerialWriteToHub(b *testing.B) {
	s := newSite(b)
	master, slave, err := pty.Open()
	if err != nil {
		b.Skip(err)
	}
	tio, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	tio.Iflag &^= unix.ICRNL | unix.IXON | unix.INLCR | unix.IGNCR
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio)
	defer master.Close()
	defer slave.Close()
	sb := serialbridge.New(serialbridge.Options{Port: slave.Name(),
		Open: func(context.Context) (io.ReadWriteCloser, error) {
			return os.OpenFile(slave.Name(), os.O_RDWR|unix.O_NOCTTY, 0)
		},
		Connector: bridge.InProcess(s.srv, serialbridge.Kind)})
	run(b, sb)
	poll.Until(b, "port open", func() bool { return sb.Status().State == bridge.StateWaiting })
	w := blynk.NewWriter(master)
	w.Write(blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte(serialToken)})
	poll.Until(b, "online", func() bool { return s.hub.Online(s.serialDev.ID) })
	go io.Copy(io.Discard, master)
	got := make(chan struct{}, 1)
	cancel := s.hub.Subscribe(func(u hub.Update) {
		if u.Record.Kind == hub.KindWrite && u.Record.DeviceID == s.serialDev.ID {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	var ids blynk.IDs
	ids.Next()
	for b.Loop() {
		w.Write(blynk.Message{Cmd: blynk.CmdHardware, ID: ids.Next(), Body: []byte("vw\x001\x0042")})
		<-got
	}
}
