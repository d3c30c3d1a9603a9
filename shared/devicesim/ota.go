package devicesim

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"outpost/shared/blnkinf"
	"outpost/shared/blynk"
)

// Firmware is what a simulated device runs and reports: the binary
// protocol's fw / fw-type / build info keys, MQTT info/mcu's ver / type /
// build.
type Firmware struct{ Version, Type, Build string }

// Download does what Blynk.Edgent's OTA does with an offered URL: a plain
// GET that must answer 200 with a Content-Length, the body checked against
// x-md5 when that header holds 32 hex digits; the image's blnkinf tag is
// what the device runs after the "reboot".
func Download(ctx context.Context, client *http.Client, url string) (Firmware, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Firmware{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Firmware{}, fmt.Errorf("devicesim: ota download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		return Firmware{}, fmt.Errorf("devicesim: ota download: %s, length %d", resp.Status, resp.ContentLength)
	}
	h := md5.New()
	var img bytes.Buffer
	if _, err := io.Copy(io.MultiWriter(h, &img), resp.Body); err != nil {
		return Firmware{}, fmt.Errorf("devicesim: ota download: %w", err)
	}
	if int64(img.Len()) != resp.ContentLength {
		return Firmware{}, fmt.Errorf("devicesim: ota download: %d of %d bytes", img.Len(), resp.ContentLength)
	}
	if want := resp.Header.Get("x-md5"); len(want) == 32 && !strings.EqualFold(want, hex.EncodeToString(h.Sum(nil))) {
		return Firmware{}, errors.New("devicesim: ota download: MD5 mismatch")
	}
	tag, err := blnkinf.Find(img.Bytes())
	if err != nil {
		return Firmware{}, fmt.Errorf("devicesim: ota image: %w", err)
	}
	return Firmware{Version: tag.Version, Type: tag.Type, Build: tag.Build}, nil
}

// UpdatableOptions configure an Updatable device.
type UpdatableOptions struct {
	// Transport is "tcp" (Blynk binary protocol; Addr is the Blynk port)
	// or "mqtt" (Blynk MQTT API; Addr is the broker's TCP address).
	Transport string
	Addr      string
	Token     string
	Firmware  Firmware
	// FailFlash makes the device download and verify the image, then come
	// back with its old firmware (a failed flash).
	FailFlash bool
	Client    *http.Client // for downloads; nil: http.DefaultClient
	// Device passes other options to the TCP device (Token and the info
	// fields are set from the fields above).
	Device Options
}

// Updatable is a simulated device that takes firmware updates like
// Blynk.Edgent: on an offer (INTERNAL "ota\0<url>", or MQTT
// downlink/ota/json) it disconnects, downloads and verifies the image,
// "reboots" into it and reconnects reporting the new firmware. Rollback
// reboots it into the previous one on command.
type Updatable struct {
	o      UpdatableOptions
	offers chan string

	mu       sync.Mutex
	fw, prev Firmware
	tcp      *Device
	mq       paho.Client
	err      error

	updates atomic.Int32
	stop    context.CancelFunc
	done    chan struct{}
}

// StartUpdatable connects the device and serves offers until Close.
func StartUpdatable(ctx context.Context, o UpdatableOptions) (*Updatable, error) {
	if o.Transport != "tcp" && o.Transport != "mqtt" {
		return nil, fmt.Errorf("devicesim: transport %q (want tcp or mqtt)", o.Transport)
	}
	u := &Updatable{o: o, offers: make(chan string, 4), fw: o.Firmware, done: make(chan struct{})}
	if err := u.connect(ctx); err != nil {
		return nil, err
	}
	ctx, u.stop = context.WithCancel(context.Background())
	go u.run(ctx)
	return u, nil
}

func (u *Updatable) offer(url string) {
	select {
	case u.offers <- url:
	default: // an update is under way; Edgent keeps the last URL too
	}
}

func (u *Updatable) connect(ctx context.Context) error {
	u.mu.Lock()
	fw := u.fw
	u.mu.Unlock()
	switch u.o.Transport {
	case "tcp":
		opts := u.o.Device
		opts.Token, opts.Template, opts.Firmware, opts.Build = u.o.Token, fw.Type, fw.Version, fw.Build
		opts.Handler = func(in Incoming) {
			if in.Msg.Cmd == blynk.CmdInternal {
				if url, ok := strings.CutPrefix(string(in.Msg.Body), "ota\x00"); ok {
					u.offer(url)
				}
			}
		}
		d, err := Dial(ctx, u.o.Addr, opts)
		if err != nil {
			return err
		}
		u.mu.Lock()
		u.tcp = d
		u.mu.Unlock()
	case "mqtt":
		opts := paho.NewClientOptions().AddBroker("tcp://" + u.o.Addr).SetUsername("device").SetPassword(u.o.Token).
			SetClientID("").SetCleanSession(true).SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(10 * time.Second).
			SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
				if m.Topic() == "downlink/ota/json" {
					var o struct{ URL string }
					if json.Unmarshal(m.Payload(), &o) == nil && o.URL != "" {
						u.offer(o.URL)
					}
				}
			})
		c := paho.NewClient(opts)
		if err := wait(ctx, c.Connect()); err != nil {
			return fmt.Errorf("devicesim: mqtt connect: %w", err)
		}
		// As the Blynk MQTT samples: subscribe, then announce the firmware.
		if err := wait(ctx, c.Subscribe("downlink/#", 1, nil)); err != nil {
			c.Disconnect(0)
			return fmt.Errorf("devicesim: mqtt subscribe: %w", err)
		}
		info, _ := json.Marshal(map[string]any{"tmpl": fw.Type, "ver": fw.Version, "build": fw.Build, "type": fw.Type, "rxbuff": 1024})
		if err := wait(ctx, c.Publish("info/mcu", 1, false, info)); err != nil {
			c.Disconnect(0)
			return fmt.Errorf("devicesim: mqtt info: %w", err)
		}
		u.mu.Lock()
		u.mq = c
		u.mu.Unlock()
	}
	return nil
}

func wait(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *Updatable) disconnect() {
	u.mu.Lock()
	d, c := u.tcp, u.mq
	u.tcp, u.mq = nil, nil
	u.mu.Unlock()
	if d != nil {
		d.Close()
	}
	if c != nil {
		c.Disconnect(0)
	}
}

// reconnect retries until connected or ctx ends (the gateway may be
// restarting).
func (u *Updatable) reconnect(ctx context.Context) {
	for ctx.Err() == nil {
		if err := u.connect(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (u *Updatable) run(ctx context.Context) {
	defer close(u.done)
	for {
		select {
		case <-ctx.Done():
			u.disconnect()
			return
		case url := <-u.offers:
			u.disconnect() // Edgent disconnects before it downloads
			fw, err := Download(ctx, u.o.Client, url)
			u.mu.Lock()
			switch {
			case err != nil:
				u.err = err
			case !u.o.FailFlash:
				u.prev, u.fw = u.fw, fw
				u.updates.Add(1)
			}
			u.mu.Unlock()
			u.reconnect(ctx)
		}
	}
}

// Rollback reboots the device into the firmware it ran before its last
// update (Blynk's Old → New → Old).
func (u *Updatable) Rollback(ctx context.Context) error {
	u.mu.Lock()
	if u.prev == (Firmware{}) {
		u.mu.Unlock()
		return errors.New("devicesim: nothing to roll back to")
	}
	u.fw, u.prev = u.prev, Firmware{}
	u.mu.Unlock()
	u.disconnect()
	return u.connect(ctx)
}

// Firmware is what the device runs now.
func (u *Updatable) Firmware() Firmware {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fw
}

// Updates counts the images the device flashed.
func (u *Updatable) Updates() int { return int(u.updates.Load()) }

// Err is the last download error, if any.
func (u *Updatable) Err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// Close disconnects the device and stops it.
func (u *Updatable) Close() {
	u.stop()
	<-u.done
}
