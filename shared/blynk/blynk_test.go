package blynk

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// decodeAll reads every frame of r, copying bodies (they alias the reader's
// buffer), and returns them with the error that ended the stream.
func decodeAll(r io.Reader, limit int) ([]Message, error) {
	rd := NewReader(r, limit)
	var out []Message
	for {
		m, err := rd.Next()
		if err != nil {
			return out, err
		}
		if m.Body != nil {
			m.Body = bytes.Clone(m.Body)
		}
		out = append(out, m)
	}
}

func sameMessages(a, b []Message) bool {
	return slices.EqualFunc(a, b, func(x, y Message) bool {
		return x.Cmd == y.Cmd && x.ID == y.ID && x.Status == y.Status && bytes.Equal(x.Body, y.Body)
	})
}

func wantErr(c frameCase) error {
	if c.err == nil {
		return io.EOF
	}
	return c.err
}

func TestReaderTable(t *testing.T) {
	for _, c := range frameTable {
		t.Run(c.name, func(t *testing.T) {
			raw := c.rawBytes(t)
			got, err := decodeAll(bytes.NewReader(raw), c.limit)
			if !sameMessages(got, c.want) {
				t.Errorf("frames:\n got %v\nwant %v", got, c.want)
			}
			if !errors.Is(err, wantErr(c)) {
				t.Errorf("final error = %v, want %v", err, wantErr(c))
			}
			// Encoding the frames gives back the bytes they came from.
			var enc []byte
			for _, m := range got {
				if enc, err = AppendMessage(enc, m); err != nil {
					t.Fatalf("AppendMessage(%v): %v", m, err)
				}
			}
			if c.err == nil && !bytes.Equal(enc, raw) {
				t.Errorf("re-encoded\n got %x\nwant %x", enc, raw)
			}
			if c.err != nil && !bytes.HasPrefix(raw, enc) {
				t.Errorf("re-encoded %x is not a prefix of %x", enc, raw)
			}
		})
	}
}

// TestReaderWholeTable feeds every clean case back to back on one stream,
// one byte at a time, as a slow link would deliver them.
func TestReaderWholeTable(t *testing.T) {
	var raw []byte
	var want []Message
	for _, c := range frameTable {
		if c.err == nil && c.limit == 0 {
			raw = append(raw, c.rawBytes(t)...)
			want = append(want, c.want...)
		}
	}
	got, err := decodeAll(&chunkReader{data: raw, rng: rand.New(rand.NewPCG(1, 2)), max: 1}, 0)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("final error = %v", err)
	}
	if !sameMessages(got, want) {
		t.Fatalf("got %d frames, want %d (or they differ)", len(got), len(want))
	}
}

func TestHardwareTable(t *testing.T) {
	for _, c := range frameTable {
		if c.hw == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			h, err := ParseHardware(nil, c.want[0].Body)
			if !errors.Is(err, c.hw.err) || (err == nil) != (c.hw.err == nil) {
				t.Fatalf("err = %v, want %v", err, c.hw.err)
			}
			if h.Op != c.hw.op || h.Pin != c.hw.pin {
				t.Errorf("op, pin = %v, %d; want %v, %d", h.Op, h.Pin, c.hw.op, c.hw.pin)
			}
			if err != nil {
				var st Status
				if !errors.As(err, &st) || st != StatusIllegalCommand {
					t.Errorf("errors.As status = %v, want ILLEGAL_COMMAND", st)
				}
				return
			}
			if got := strs(h.Values); !slices.Equal(got, c.hw.values) {
				t.Errorf("values = %q, want %q", got, c.hw.values)
			}
			// Built from its parts, the body comes back byte for byte.
			if b := AppendHardware(nil, h.Op, h.Pin, h.Values...); !bytes.Equal(b, c.want[0].Body) {
				t.Errorf("AppendHardware = %q, want %q", b, c.want[0].Body)
			}
		})
	}
}

func TestInfoAndFieldsTable(t *testing.T) {
	for _, c := range frameTable {
		if c.info == nil && c.fields == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			body := c.want[0].Body
			if c.info != nil {
				if !IsInfo(body) {
					t.Errorf("IsInfo = false")
				}
				if got := InfoPairs(body); !slices.Equal(got, c.info) {
					t.Errorf("InfoPairs = %q, want %q", got, c.info)
				}
			}
			if c.fields != nil {
				if got := strs(Fields(nil, body)); !slices.Equal(got, c.fields) {
					t.Errorf("Fields = %q, want %q", got, c.fields)
				}
			}
		})
	}
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

func TestInfoValue(t *testing.T) {
	pairs := InfoPairs([]byte("ver\x001.4.0\x00h-beat\x0010\x00buff-in\x004096\x00dangling"))
	if v, ok := InfoValue(pairs, "h-beat"); !ok || v != "10" {
		t.Errorf("h-beat = %q, %v", v, ok)
	}
	if _, ok := InfoValue(pairs, "dangling"); ok {
		t.Errorf("a key without a value was kept: %q", pairs)
	}
	for _, body := range []string{"utc\x00time", "meta\x00get\x00x", "rtc\x00sync", "acon", "", "ver"} {
		if IsInfo([]byte(body)) {
			t.Errorf("IsInfo(%q) = true", body)
		}
	}
	if !IsInfo([]byte("mcu\x001.0\x00fw-type\x00T")) {
		t.Errorf("IsInfo(mcu…) = false; lib ≥1.3 starts info with mcu")
	}
}

func TestParseSync(t *testing.T) {
	cases := []struct {
		body string
		all  bool
		pins []int
		err  bool
	}{
		{"", true, []int{}, false},
		{"vr\x001\x002", false, []int{1, 2}, false},
		{"vr\x00255\x00", false, []int{255}, false},
		{"vr", false, []int{}, true},
		{"vr\x00x", false, []int{}, true},
		{"vw\x001", false, []int{}, true},
		{"vr\x001\x00256", false, []int{1}, true},
	}
	for _, c := range cases {
		all, pins, err := ParseSync(nil, []byte(c.body))
		if all != c.all || !slices.Equal(pins, c.pins) || (err != nil) != c.err {
			t.Errorf("ParseSync(%q) = %v, %v, %v", c.body, all, pins, err)
		}
		if err != nil && !errors.Is(err, StatusIllegalCommand) {
			t.Errorf("ParseSync(%q) error %v does not match ILLEGAL_COMMAND", c.body, err)
		}
	}
	if b := AppendSyncVirtual(nil, 1, 2); string(b) != "vr\x001\x002" {
		t.Errorf("AppendSyncVirtual = %q", b)
	}
	if b := AppendSyncVirtual(nil); len(b) != 0 {
		t.Errorf("AppendSyncVirtual() = %q, want empty (syncAll)", b)
	}
}

func TestParseProperty(t *testing.T) {
	p, err := ParseProperty(nil, []byte("4\x00labels\x00a\x00b\x00c"))
	if err != nil || p.Pin != 4 || string(p.Name) != "labels" || !slices.Equal(strs(p.Values), []string{"a", "b", "c"}) {
		t.Errorf("ParseProperty = %+v, %v", p, err)
	}
	for _, body := range []string{"", "4", "4\x00label", "x\x00label\x00v", "4\x00\x00v", "300\x00label\x00v"} {
		if _, err := ParseProperty(nil, []byte(body)); !errors.Is(err, StatusIllegalCommandBody) {
			t.Errorf("ParseProperty(%q) err = %v, want ILLEGAL_COMMAND_BODY", body, err)
		}
	}
}

func TestGroup(t *testing.T) {
	cases := []struct {
		body string
		want Group
		err  bool
	}{
		{"b", Group{Begin: true}, false},
		{"e", Group{}, false},
		{"t\x001700000000000", Group{Begin: true, TS: 1700000000000}, false},
		{"t\x00x", Group{}, true},
		{"t", Group{}, true},
		{"", Group{}, true},
		{"x", Group{}, true},
	}
	for _, c := range cases {
		g, err := ParseGroup([]byte(c.body))
		if g != c.want || (err != nil) != c.err {
			t.Errorf("ParseGroup(%q) = %+v, %v", c.body, g, err)
		}
		if err != nil && !errors.Is(err, ErrBadGroup) {
			t.Errorf("ParseGroup(%q) err %v is not ErrBadGroup", c.body, err)
		}
	}
	if b := AppendGroupBegin(nil, 1700000000000); string(b) != "t\x001700000000000" {
		t.Errorf("AppendGroupBegin = %q", b)
	}
	if b := AppendGroupBegin(nil, 0); string(b) != "b" {
		t.Errorf("AppendGroupBegin(0) = %q", b)
	}
}

func TestSniff(t *testing.T) {
	cases := []struct {
		first      string
		login, web bool
	}{
		{"\x1d\x00\x01\x00\x20", true, false},
		{"\x02\x00\x01\x00\x20", true, false},
		{"\x1d\x00\x01\x00\x1f", true, false}, // short token: still login, answered 9
		{"\x1d\x00\x00\x00\x20", false, false},
		{"\x1d\x00\x01\x00\x00", false, false},
		{"\x14\x00\x01\x00\x20", false, false},
		{"\x1d\x00\x01", false, false},
		{"GET /", false, true}, {"POST ", false, true}, {"PUT /", false, true}, {"HEAD ", false, true},
		{"OPTIO", false, true}, {"PATCH", false, true}, {"DELET", false, true}, {"TRACE", false, true},
		{"CONNE", false, true}, {"get /", false, false}, {"GET", false, false},
	}
	for _, c := range cases {
		if got := LooksLikeLogin([]byte(c.first)); got != c.login {
			t.Errorf("LooksLikeLogin(%q) = %v", c.first, got)
		}
		if got := LooksLikeHTTP([]byte(c.first)); got != c.web {
			t.Errorf("LooksLikeHTTP(%q) = %v", c.first, got)
		}
	}
}

func TestIDsWrapSkippingZero(t *testing.T) {
	var ids IDs
	if id := ids.Next(); id != 1 {
		t.Fatalf("first id = %d, want 1", id)
	}
	for range 65533 {
		ids.Next()
	}
	if id := ids.Next(); id != 65535 {
		t.Fatalf("id = %d, want 65535", id)
	}
	if id := ids.Next(); id != 1 {
		t.Fatalf("after 65535 got %d, want 1", id)
	}
}

func TestNames(t *testing.T) {
	if s := CmdHWLogin.String(); s != "HW_LOGIN" {
		t.Errorf("String = %q", s)
	}
	if Command(99).Known() || !CmdEventClear.Known() {
		t.Errorf("Known is wrong")
	}
	if s := Command(99).String(); s != "CMD(99)" {
		t.Errorf("String = %q", s)
	}
	var err error = StatusInvalidToken
	if err.Error() != "blynk: INVALID_TOKEN (9)" {
		t.Errorf("Error = %q", err.Error())
	}
	if s := Status(99).String(); s != "STATUS(99)" || Status(99).Known() {
		t.Errorf("unknown status = %q", s)
	}
	for _, c := range frameTable {
		if len(c.want) == 1 && c.want[0].Cmd == CmdResponse && c.want[0].Status != 0xffff && !c.want[0].Status.Known() {
			t.Errorf("%s: status %d has no name", c.name, c.want[0].Status)
		}
	}
}

func TestAppendMessageErrors(t *testing.T) {
	dst := []byte("keep")
	if out, err := AppendMessage(dst, Message{Cmd: CmdHardware, Body: make([]byte, MaxBody+1)}); !errors.Is(err, ErrTooLarge) || string(out) != "keep" {
		t.Errorf("oversized body: %v, %q", err, out)
	}
	if _, err := AppendMessage(nil, Message{Cmd: CmdResponse, ID: 1, Status: 200, Body: []byte("x")}); !errors.Is(err, ErrResponseBody) {
		t.Errorf("response with body: %v", err)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write(Message{Cmd: CmdHardware, ID: 3, Body: AppendVirtualWrite(nil, 0, "10")}); err != nil {
		t.Fatal(err)
	}
	if want := "\x14\x00\x03\x00\x07vw\x000\x0010"; buf.String() != want {
		t.Errorf("Writer wrote %q, want %q", buf.String(), want)
	}
}

// timeoutReader fails once with a timeout after delivering part of a frame,
// as a net.Conn with a read deadline does.
type timeoutReader struct {
	parts [][]byte
	fail  int // index of the part before which to fail once
}

var errTimeout = errors.New("i/o timeout")

func (r *timeoutReader) Read(p []byte) (int, error) {
	if r.fail == 0 {
		r.fail = -1
		return 0, errTimeout
	}
	r.fail--
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	if len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	return n, nil
}

func TestReaderKeepsPartialFrameAcrossTimeout(t *testing.T) {
	for fail := range 3 {
		r := NewReader(&timeoutReader{parts: [][]byte{[]byte("\x14\x00"), []byte("\x03\x00\x07vw"), []byte("\x000\x0010")}, fail: fail}, 0)
		if _, err := r.Next(); !errors.Is(err, errTimeout) {
			t.Fatalf("fail=%d: first Next err = %v, want timeout", fail, err)
		}
		m, err := r.Next()
		if err != nil || m.Cmd != CmdHardware || m.ID != 3 || string(m.Body) != "vw\x000\x0010" {
			t.Fatalf("fail=%d: after timeout got %v, %v", fail, m, err)
		}
	}
}

func TestReaderSetLimit(t *testing.T) {
	raw := []byte("\x14\x00\x01\x00\x03abc\x14\x00\x02\x00\x03abc")
	r := NewReader(bytes.NewReader(raw), 0)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.SetLimit(2)
	if _, err := r.Next(); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
}

// chunkReader delivers data in pieces of 1..max bytes (sometimes none), the
// last one together with io.EOF, as a TCP stream may.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 0
	if c.rng.IntN(8) != 0 { // an empty read now and then
		n = 1 + c.rng.IntN(c.max)
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	if len(c.data) == 0 && c.rng.IntN(2) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func TestSplitDeliveryTable(t *testing.T) {
	for _, c := range frameTable {
		raw := c.rawBytes(t)
		for seed := range uint64(20) {
			checkSplit(t, c.name, raw, c.limit, seed, 1+int(seed)*3)
		}
	}
}

// checkSplit decodes raw whole and in random pieces and requires the same
// frames and the same kind of final error.
func checkSplit(t *testing.T, name string, raw []byte, limit int, seed uint64, maxChunk int) {
	t.Helper()
	whole, werr := decodeAll(bytes.NewReader(raw), limit)
	split, serr := decodeAll(&chunkReader{data: raw, rng: rand.New(rand.NewPCG(seed, 7)), max: maxChunk}, limit)
	if !sameMessages(whole, split) {
		t.Fatalf("%s seed %d: whole %d frames, split %d frames (or they differ)", name, seed, len(whole), len(split))
	}
	if errKind(werr) != errKind(serr) {
		t.Fatalf("%s seed %d: whole err %v, split err %v", name, seed, werr, serr)
	}
}

func errKind(err error) string {
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, ErrBodyTooLarge} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + strconv.Quote(err.Error())
}
