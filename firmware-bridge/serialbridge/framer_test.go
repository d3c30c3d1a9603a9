package serialbridge

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"outpost/shared/blynk"
)

func frame(cmd blynk.Command, id uint16, body string) []byte {
	b, _ := blynk.AppendMessage(nil, blynk.Message{Cmd: cmd, ID: id, Body: []byte(body)})
	return b
}

func response(id uint16, st blynk.Status) []byte {
	b, _ := blynk.AppendMessage(nil, blynk.Message{Cmd: blynk.CmdResponse, ID: id, Status: st})
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

const token = "0123456789abcdef0123456789abcdef"

var (
	login   = frame(blynk.CmdHWLogin, 1, token)
	vw      = frame(blynk.CmdHardware, 2, "vw\x001\x0042")
	ping    = frame(blynk.CmdPing, 3, "")
	pong    = response(0x65, blynk.StatusSuccess)
	info    = frame(blynk.CmdInternal, 4, "ver\x001.4.0\x00h-beat\x0010\x00")
	espBoot = []byte("ets Jul 29 2019 12:21:46\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\n\x00\xff\x14\x00")
	// fakeHW looks like a HARDWARE header announcing 256 bytes.
	fakeHW = []byte{0x14, 0x00, 0x05, 0x01, 0x00}
)

// framerCases feed the table test and seed the fuzzer. want lists the
// frames cut in mode "anyFrame once a login was seen" (as the bridge does).
var framerCases = []struct {
	name  string
	in    []byte
	want  [][]byte
	noise int
}{
	{"login", login, [][]byte{login}, 0},
	{"login then frames", cat(login, vw, ping, pong, info), [][]byte{login, vw, ping, pong, info}, 0},
	{"boot noise before login", cat(espBoot, login, vw), [][]byte{login, vw}, len(espBoot)},
	{"fake header in noise", cat(fakeHW, login, vw), [][]byte{login, vw}, len(fakeHW)},
	{"frames before login are skipped", cat(vw, login), [][]byte{login}, len(vw)},
	{"login id 0 is noise", cat(frame(blynk.CmdHWLogin, 0, token), login), [][]byte{login}, 37},
	{"login too long is noise", cat(frame(blynk.CmdHWLogin, 1, string(make([]byte, 65))), login), [][]byte{login}, 70},
	{"legacy LOGIN", frame(blynk.CmdLogin, 1, token), [][]byte{frame(blynk.CmdLogin, 1, token)}, 0},
	{"garbage between frames", cat(login, []byte{0xff, 0xee}, vw), [][]byte{login, vw}, 2},
	{"ping with body is noise", cat(login, frame(blynk.CmdPing, 5, "x"), vw), [][]byte{login, vw}, 6},
	{"unknown status is noise", cat(login, response(9, 999), vw), [][]byte{login, vw}, 5},
	{"fresh login mid-stream", cat(login, vw, login, vw), [][]byte{login, vw, login, vw}, 0},
	{"partial frame waits", cat(login, vw[:7]), [][]byte{login}, 0},
}

// cut runs a framer over chunks the way the bridge does: login only until a
// login has been seen.
func cut(chunks [][]byte) (frames [][]byte, noise int, f *framer) {
	f = newFramer(4096)
	seen := false
	for _, c := range chunks {
		f.push(c)
		for {
			m := loginOnly
			if seen {
				m = anyFrame
			}
			fr := f.next(m)
			if fr == nil {
				break
			}
			if isLogin(fr[0]) {
				seen = true
			}
			frames = append(frames, bytes.Clone(fr))
		}
		noise += f.takeNoise()
	}
	return frames, noise, f
}

func TestFramer(t *testing.T) {
	for _, tc := range framerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, noise, _ := cut([][]byte{tc.in})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if noise != tc.noise {
				t.Errorf("noise = %d, want %d", noise, tc.noise)
			}
			// Byte by byte gives the same frames.
			var bytewise [][]byte
			for i := range tc.in {
				bytewise = append(bytewise, tc.in[i:i+1])
			}
			got2, _, _ := cut(bytewise)
			if diff := cmp.Diff(tc.want, got2); diff != "" {
				t.Errorf("byte by byte (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFramerExpire(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		dropped   int
		afterward [][]byte
	}{
		{"cut frame is dropped", cat(vw[:7]), 7, nil},
		{"login right after a cut frame survives", cat(fakeHW, login), len(fakeHW), [][]byte{login}},
		{"cut header", vw[:3], 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFramer(4096)
			f.push(tc.in)
			if fr := f.next(anyFrame); fr != nil {
				t.Fatalf("unexpected frame %x before expiry", fr)
			}
			if got := f.expire(); got != tc.dropped {
				t.Errorf("expire dropped %d, want %d", got, tc.dropped)
			}
			var after [][]byte
			for fr := f.next(anyFrame); fr != nil; fr = f.next(anyFrame) {
				after = append(after, bytes.Clone(fr))
			}
			if diff := cmp.Diff(tc.afterward, after); diff != "" {
				t.Errorf("frames after expiry (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzFramer checks that however the line splits the bytes, the framer cuts
// the same frames, every frame is plausible and no byte is lost or invented.
func FuzzFramer(f *testing.F) {
	for _, tc := range framerCases {
		f.Add(tc.in, []byte{1, 3, 7})
	}
	f.Fuzz(func(t *testing.T, in []byte, splits []byte) {
		whole, wholeNoise, wf := cut([][]byte{in})
		var chunks [][]byte
		rest := in
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(splits) > 0 {
				n = min(int(splits[i%len(splits)])%17+1, len(rest))
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		split, splitNoise, sf := cut(chunks)
		if diff := cmp.Diff(whole, split); diff != "" {
			t.Fatalf("split delivery changed the frames (-whole +split):\n%s", diff)
		}
		total := wholeNoise + wf.pending()
		for _, fr := range whole {
			if frameSize(fr, anyFrame, 4096) != len(fr) {
				t.Fatalf("implausible frame %x", fr)
			}
			if !bytes.Contains(in, fr) {
				t.Fatalf("frame %x not in input", fr)
			}
			total += len(fr)
		}
		if total != len(in) || splitNoise != wholeNoise || sf.pending() != wf.pending() {
			t.Fatalf("bytes accounted %d of %d (noise %d/%d, pending %d/%d)",
				total, len(in), wholeNoise, splitNoise, wf.pending(), sf.pending())
		}
		wf.expire() // must not panic on any leftover
	})
}
