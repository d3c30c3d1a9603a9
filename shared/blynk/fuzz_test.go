package blynk

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzReader decodes arbitrary streams whole and in random pieces: both must
// give the same frames and the same kind of end, re-encoding the frames must
// give back the bytes they were read from, and the body parsers must neither
// panic nor disagree with their encoders.
func FuzzReader(f *testing.F) {
	for i, c := range frameTable {
		if c.fill > 0 {
			continue // 64 KiB seeds slow every mutation; cut frames cover the header
		}
		f.Add(c.rawBytes(f), uint64(i), uint16(c.limit))
	}
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64, limit uint16) {
		whole, werr := decodeAll(bytes.NewReader(raw), int(limit))
		split, serr := decodeAll(&chunkReader{data: raw, rng: rand.New(rand.NewPCG(seed, 7)), max: 1 + int(seed%64)}, int(limit))
		if !sameMessages(whole, split) {
			t.Fatalf("whole %v, split %v", whole, split)
		}
		if errKind(werr) != errKind(serr) {
			t.Fatalf("whole err %v, split err %v", werr, serr)
		}
		var enc []byte
		for _, m := range whole {
			var err error
			if enc, err = AppendMessage(enc, m); err != nil {
				t.Fatalf("AppendMessage(%v): %v", m, err)
			}
			checkBodies(t, m.Body)
		}
		if !bytes.HasPrefix(raw, enc) {
			t.Fatalf("re-encoded %x is not a prefix of %x", enc, raw)
		}
		if errors.Is(werr, io.EOF) && !bytes.Equal(raw, enc) {
			t.Fatalf("clean EOF but re-encoded %x != %x", enc, raw)
		}
	})
}

// FuzzBody runs the body parsers on arbitrary bodies.
func FuzzBody(f *testing.F) {
	for _, c := range frameTable {
		for _, m := range c.want {
			f.Add(m.Body)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkBodies(t, body) })
}

func checkBodies(t *testing.T, body []byte) {
	t.Helper()
	fs := Fields(nil, body)
	want := body
	if len(want) > 0 && want[len(want)-1] == 0 {
		want = want[:len(want)-1]
	}
	if got := AppendBody(nil, fs...); !bytes.Equal(got, want) {
		t.Fatalf("AppendBody(Fields(%q)) = %q", body, got)
	}
	if h, err := ParseHardware(nil, body); err == nil {
		// Re-encoding and re-parsing gives the same meaning (the pin text
		// may lose leading zeros, so compare parsed forms).
		again, err := ParseHardware(nil, AppendHardware(nil, h.Op, h.Pin, h.Values...))
		if err != nil || again.Op != h.Op || again.Pin != h.Pin || !slices.EqualFunc(again.Values, h.Values, bytes.Equal) {
			t.Fatalf("hardware %q: %+v re-parsed as %+v, %v", body, h, again, err)
		}
	} else if !errors.Is(err, StatusIllegalCommand) {
		t.Fatalf("ParseHardware(%q) error %v is not ILLEGAL_COMMAND", body, err)
	}
	if all, pins, err := ParseSync(nil, body); err == nil && !all {
		again, pins2, err := ParseSync(nil, AppendSyncVirtual(nil, pins...))
		if err != nil || again || !slices.Equal(pins, pins2) {
			t.Fatalf("sync %q: %v re-parsed as %v, %v", body, pins, pins2, err)
		}
	}
	if p, err := ParseProperty(nil, body); err == nil && (p.Pin < 0 || p.Pin > MaxPin || len(p.Name) == 0) {
		t.Fatalf("ParseProperty(%q) = %+v", body, p)
	}
	if g, err := ParseGroup(body); err == nil && !g.Begin && g.TS != 0 {
		t.Fatalf("ParseGroup(%q) = %+v", body, g)
	}
	pairs := InfoPairs(body)
	if len(pairs)%2 != 0 {
		t.Fatalf("InfoPairs(%q) has odd length", body)
	}
	_ = IsInfo(body)
	if len(body) >= HeaderSize && LooksLikeLogin(body) && LooksLikeHTTP(body) {
		t.Fatalf("%q looks like both login and HTTP", body)
	}
}
