package serialbridge

import (
	"encoding/binary"

	"outpost/shared/blynk"
)

// A serial line has no framing beyond the Blynk header, no sync bytes and no
// checksum, and an MCU that resets prints boot noise before its login
// (PROTOCOL.md §1.13). The framer finds frames in that byte stream by
// plausibility: a known device command byte, a non-zero message id (every
// Blynk library treats id 0 as fatal, so none sends it) and a sane length.
// A byte that cannot start a plausible frame is skipped as noise.

// mode selects which frames the framer accepts.
type mode uint8

const (
	// loginOnly: only LOGIN/HW_LOGIN. Used while no session exists and none
	// can be resumed, so boot noise that happens to look like a long
	// HARDWARE header cannot swallow the login that follows it.
	loginOnly mode = iota
	// anyFrame: every command a device sends.
	anyFrame
)

// maxToken bounds a login body. Blynk tokens are 32 characters; leave room
// for other token schemes without letting noise claim a long body.
const maxToken = 64

// deviceCommands are the commands a device may send (PROTOCOL.md §1.3).
var deviceCommands = [256]bool{
	blynk.CmdResponse: true, blynk.CmdLogin: true, blynk.CmdPing: true,
	blynk.CmdTweet: true, blynk.CmdEmail: true, blynk.CmdNotify: true,
	blynk.CmdBridge: true, blynk.CmdHardwareSync: true, blynk.CmdInternal: true,
	blynk.CmdSMS: true, blynk.CmdProperty: true, blynk.CmdHardware: true,
	blynk.CmdGroup: true, blynk.CmdHWLogin: true, blynk.CmdEventLog: true,
	blynk.CmdEventClear: true,
}

// knownStatus: status codes of PROTOCOL.md §1.4 (1..24 and 200).
func knownStatus(s uint16) bool { return s == 200 || (s >= 1 && s <= 24) }

func isLogin(cmd byte) bool {
	return cmd == byte(blynk.CmdHWLogin) || cmd == byte(blynk.CmdLogin)
}

// startOK reports whether b can be the first byte of a frame in mode m.
func startOK(b byte, m mode) bool {
	if m == loginOnly {
		return isLogin(b)
	}
	return deviceCommands[b]
}

// frameSize checks a complete header and returns the frame size, or 0 when
// the header is not plausible in mode m.
func frameSize(h []byte, m mode, maxBody int) int {
	cmd := h[0]
	id := binary.BigEndian.Uint16(h[1:3])
	n := int(binary.BigEndian.Uint16(h[3:5]))
	if id == 0 || !startOK(cmd, m) {
		return 0
	}
	switch {
	case isLogin(cmd):
		if n < 1 || n > maxToken {
			return 0
		}
	case cmd == byte(blynk.CmdResponse):
		if !knownStatus(uint16(n)) {
			return 0
		}
		return blynk.HeaderSize
	case cmd == byte(blynk.CmdPing):
		if n != 0 {
			return 0
		}
	case n > maxBody:
		return 0
	}
	return blynk.HeaderSize + n
}

// framer accumulates bytes from the serial line and cuts frames out of
// them. Not safe for concurrent use.
type framer struct {
	buf     []byte // unconsumed bytes are buf[start:]
	start   int
	maxBody int
	noise   int // bytes skipped since the last call to takeNoise
}

func newFramer(maxBody int) *framer {
	return &framer{maxBody: maxBody, buf: make([]byte, 0, 4096)}
}

// push appends bytes read from the line.
func (f *framer) push(p []byte) {
	if f.start > 0 && f.start == len(f.buf) {
		f.buf, f.start = f.buf[:0], 0
	} else if f.start > 4096 && f.start > len(f.buf)/2 {
		n := copy(f.buf, f.buf[f.start:])
		f.buf, f.start = f.buf[:n], 0
	}
	f.buf = append(f.buf, p...)
}

// pending is the number of buffered bytes (a partial frame).
func (f *framer) pending() int { return len(f.buf) - f.start }

// takeNoise returns and resets the count of skipped bytes.
func (f *framer) takeNoise() int { n := f.noise; f.noise = 0; return n }

// next returns the next plausible frame, header included, or nil when more
// bytes are needed. The frame aliases the buffer and is valid until the next
// call to push or next.
func (f *framer) next(m mode) []byte {
	for f.start < len(f.buf) {
		rest := f.buf[f.start:]
		if !startOK(rest[0], m) {
			f.start++
			f.noise++
			continue
		}
		if len(rest) < blynk.HeaderSize {
			return nil
		}
		size := frameSize(rest, m, f.maxBody)
		if size == 0 {
			f.start++
			f.noise++
			continue
		}
		if len(rest) < size {
			return nil
		}
		f.start += size
		return rest[:size:size]
	}
	return nil
}

// expire is called when a partial frame has waited too long for its rest:
// the sender was cut off (an MCU reset mid-frame). If a complete login
// follows inside the buffered bytes — a fast reboot right after the cut —
// scanning resumes at it; otherwise every buffered byte is dropped. It
// returns the number of bytes dropped.
func (f *framer) expire() int {
	rest := f.buf[f.start:]
	drop := len(rest)
	for i := 1; i+blynk.HeaderSize <= len(rest); i++ {
		if size := frameSize(rest[i:], loginOnly, f.maxBody); size > 0 && i+size <= len(rest) {
			drop = i
			break
		}
	}
	f.start += drop
	return drop
}
