// Package blynk is the Blynk binary device protocol: the 5-byte header,
// command and status codes, NUL-separated bodies, and a frame reader and
// writer. It does no I/O of its own beyond the io.Reader/io.Writer it is
// given, so the same code serves TCP, TLS, serial lines and in-process pipes.
//
// Wire facts are in PROTOCOL.md §1: every frame is
//
//	command (1 byte) | message id (uint16 BE) | length or status (uint16 BE) | body
//
// and a RESPONSE (command 0) carries a status code in the length field and
// has no body.
package blynk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// HeaderSize is the size of every frame header in bytes.
const HeaderSize = 5

// MaxBody is the largest body the length field can describe.
const MaxBody = 0xFFFF

// Command is the first header byte.
type Command uint8

// Commands a device or server may send (PROTOCOL.md §1.3).
const (
	CmdResponse     Command = 0
	CmdLogin        Command = 2
	CmdPing         Command = 6
	CmdTweet        Command = 12
	CmdEmail        Command = 13
	CmdNotify       Command = 14
	CmdBridge       Command = 15
	CmdHardwareSync Command = 16
	CmdInternal     Command = 17
	CmdSMS          Command = 18
	CmdProperty     Command = 19
	CmdHardware     Command = 20
	CmdGroup        Command = 21
	CmdHWLogin      Command = 29
	CmdRedirect     Command = 41
	CmdDebugPrint   Command = 55
	CmdEventLog     Command = 64
	CmdEventClear   Command = 65
)

var commandNames = map[Command]string{
	CmdResponse: "RESPONSE", CmdLogin: "LOGIN", CmdPing: "PING", CmdTweet: "TWEET",
	CmdEmail: "EMAIL", CmdNotify: "NOTIFY", CmdBridge: "BRIDGE", CmdHardwareSync: "HARDWARE_SYNC",
	CmdInternal: "INTERNAL", CmdSMS: "SMS", CmdProperty: "PROPERTY", CmdHardware: "HARDWARE",
	CmdGroup: "GROUP", CmdHWLogin: "HW_LOGIN", CmdRedirect: "REDIRECT", CmdDebugPrint: "DEBUG_PRINT",
	CmdEventLog: "EVENT_LOG", CmdEventClear: "EVENT_CLEAR",
}

// Known reports whether c is a command of PROTOCOL.md §1.3.
func (c Command) Known() bool { _, ok := commandNames[c]; return ok }

func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return "CMD(" + strconv.Itoa(int(c)) + ")"
}

// Status is the code a RESPONSE carries in its length field. A Status other
// than StatusSuccess is also an error value, so handlers can return it.
type Status uint16

// Status codes (PROTOCOL.md §1.4).
const (
	StatusSuccess            Status = 200
	StatusQuotaLimit         Status = 1
	StatusIllegalCommand     Status = 2
	StatusNotRegistered      Status = 3
	StatusAlreadyRegistered  Status = 4
	StatusNotAuthenticated   Status = 5
	StatusNotAllowed         Status = 6
	StatusDeviceNotInNetwork Status = 7
	StatusNoActiveDashboard  Status = 8
	StatusInvalidToken       Status = 9
	StatusIllegalCommandBody Status = 11
	StatusGetGraphData       Status = 12
	StatusNtfInvalidBody     Status = 13
	StatusNtfNotAuthorized   Status = 14
	StatusNtfException       Status = 15
	StatusTimeout            Status = 16
	StatusNoData             Status = 17
	StatusDeviceWentOffline  Status = 18
	StatusServerException    Status = 19
	StatusNotSupportedVer    Status = 20
	StatusEnergyLimit        Status = 21
	StatusFacebookUserLogin  Status = 22
	StatusOperationAccept    Status = 23
	StatusOperationDecline   Status = 24
)

var statusNames = map[Status]string{
	StatusSuccess: "SUCCESS", StatusQuotaLimit: "QUOTA_LIMIT", StatusIllegalCommand: "ILLEGAL_COMMAND",
	StatusNotRegistered: "NOT_REGISTERED", StatusAlreadyRegistered: "ALREADY_REGISTERED",
	StatusNotAuthenticated: "NOT_AUTHENTICATED", StatusNotAllowed: "NOT_ALLOWED",
	StatusDeviceNotInNetwork: "DEVICE_NOT_IN_NETWORK", StatusNoActiveDashboard: "NO_ACTIVE_DASHBOARD",
	StatusInvalidToken: "INVALID_TOKEN", StatusIllegalCommandBody: "ILLEGAL_COMMAND_BODY",
	StatusGetGraphData: "GET_GRAPH_DATA_EXCEPTION", StatusNtfInvalidBody: "NTF_INVALID_BODY",
	StatusNtfNotAuthorized: "NTF_NOT_AUTHORIZED", StatusNtfException: "NTF_EXCEPTION",
	StatusTimeout: "TIMEOUT", StatusNoData: "NO_DATA", StatusDeviceWentOffline: "DEVICE_WENT_OFFLINE",
	StatusServerException: "SERVER_EXCEPTION", StatusNotSupportedVer: "NOT_SUPPORTED_VERSION",
	StatusEnergyLimit: "ENERGY_LIMIT", StatusFacebookUserLogin: "FACEBOOK_USER_LOGIN_WITH_PASS",
	StatusOperationAccept: "OPERATION_ACCEPT", StatusOperationDecline: "OPERATION_DECLINE",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "STATUS(" + strconv.Itoa(int(s)) + ")"
}

// Error makes a Status usable as an error: "blynk: INVALID_TOKEN (9)".
func (s Status) Error() string { return "blynk: " + s.String() + " (" + strconv.Itoa(int(s)) + ")" }

// Message is one frame. For CmdResponse, Status holds the code and Body is
// empty; for every other command Body holds the payload.
type Message struct {
	Cmd    Command
	ID     uint16
	Status Status
	Body   []byte
}

func (m Message) String() string {
	if m.Cmd == CmdResponse {
		return fmt.Sprintf("RESPONSE id=%d %s", m.ID, m.Status)
	}
	return fmt.Sprintf("%s id=%d %q", m.Cmd, m.ID, m.Body)
}

// Errors returned by the reader.
var (
	// ErrBodyTooLarge: the header announces a body above the reader's limit.
	// The stream cannot be resynchronised; the caller should close it.
	ErrBodyTooLarge = errors.New("blynk: body exceeds limit")
	// ErrTooLarge: a message to be written does not fit the 16-bit length.
	ErrTooLarge = errors.New("blynk: body longer than 65535 bytes")
)

// AppendMessage appends m's wire form to dst.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	if m.Cmd == CmdResponse {
		return append(dst, byte(m.Cmd), byte(m.ID>>8), byte(m.ID), byte(m.Status>>8), byte(m.Status)), nil
	}
	if len(m.Body) > MaxBody {
		return dst, ErrTooLarge
	}
	n := len(m.Body)
	dst = append(dst, byte(m.Cmd), byte(m.ID>>8), byte(m.ID), byte(n>>8), byte(n))
	return append(dst, m.Body...), nil
}

// ParseHeader decodes a header. For CmdResponse the second value is the
// status code and the body length is 0.
func ParseHeader(h []byte) (cmd Command, id uint16, lenOrStatus uint16) {
	_ = h[4]
	return Command(h[0]), binary.BigEndian.Uint16(h[1:3]), binary.BigEndian.Uint16(h[3:5])
}

// Reader reads frames from a stream. The Body of a returned Message aliases
// the reader's buffer and is valid only until the next call to Next.
type Reader struct {
	r       io.Reader
	maxBody int
	hdr     [HeaderSize]byte
	buf     []byte
}

// NewReader returns a Reader that refuses bodies longer than maxBody
// (0 means MaxBody).
func NewReader(r io.Reader, maxBody int) *Reader {
	if maxBody <= 0 || maxBody > MaxBody {
		maxBody = MaxBody
	}
	return &Reader{r: r, maxBody: maxBody}
}

// SetLimit changes the body limit for following frames.
func (r *Reader) SetLimit(maxBody int) {
	if maxBody <= 0 || maxBody > MaxBody {
		maxBody = MaxBody
	}
	r.maxBody = maxBody
}

// Next reads one frame. It returns io.EOF only on a clean end between frames
// and io.ErrUnexpectedEOF for a stream cut inside a frame.
func (r *Reader) Next() (Message, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Message{}, err
	}
	cmd, id, n := ParseHeader(r.hdr[:])
	if cmd == CmdResponse {
		return Message{Cmd: cmd, ID: id, Status: Status(n)}, nil
	}
	if int(n) > r.maxBody {
		return Message{Cmd: cmd, ID: id}, fmt.Errorf("%w: %s announces %d bytes, limit %d", ErrBodyTooLarge, cmd, n, r.maxBody)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n, max(int(n), 256))
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	return Message{Cmd: cmd, ID: id, Body: r.buf}, nil
}

// Fields splits a body on NUL into dst (reused, so the steady state does not
// allocate) and returns it. One trailing NUL is tolerated and dropped, as the
// Linux library sends one (PROTOCOL.md §1.5). An empty body has no fields.
// The fields alias body.
func Fields(dst [][]byte, body []byte) [][]byte {
	dst = dst[:0]
	if len(body) == 0 {
		return dst
	}
	if body[len(body)-1] == 0 {
		body = body[:len(body)-1]
	}
	for {
		i := bytes.IndexByte(body, 0)
		if i < 0 {
			return append(dst, body)
		}
		dst = append(dst, body[:i])
		body = body[i+1:]
	}
}

// AppendBody appends fields joined by NUL to dst, with no trailing NUL.
func AppendBody(dst []byte, fields ...[]byte) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, f...)
	}
	return dst
}

// AppendStrings is AppendBody for string fields.
func AppendStrings(dst []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, f...)
	}
	return dst
}

// IDs hands out message ids for one connection: 1, 2, … 65535, 1, … never 0
// (PROTOCOL.md §1.6, §7.5). Not safe for concurrent use.
type IDs struct{ last uint16 }

// Next returns the next id.
func (g *IDs) Next() uint16 {
	g.last++
	if g.last == 0 {
		g.last = 1
	}
	return g.last
}

// Writer writes frames, each with a single Write call on the underlying
// writer (so frames never interleave on a stream shared by goroutines that
// serialise their calls). Not safe for concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, buf: make([]byte, 0, 256)} }

// Write encodes and writes m.
func (w *Writer) Write(m Message) error {
	b, err := AppendMessage(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = b
	_, err = w.w.Write(b)
	return err
}
