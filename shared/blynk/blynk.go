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

// name returns the PROTOCOL.md §1.3 name of c, or "" for an unknown code.
func (c Command) name() string {
	switch c {
	case CmdResponse:
		return "RESPONSE"
	case CmdLogin:
		return "LOGIN"
	case CmdPing:
		return "PING"
	case CmdTweet:
		return "TWEET"
	case CmdEmail:
		return "EMAIL"
	case CmdNotify:
		return "NOTIFY"
	case CmdBridge:
		return "BRIDGE"
	case CmdHardwareSync:
		return "HARDWARE_SYNC"
	case CmdInternal:
		return "INTERNAL"
	case CmdSMS:
		return "SMS"
	case CmdProperty:
		return "PROPERTY"
	case CmdHardware:
		return "HARDWARE"
	case CmdGroup:
		return "GROUP"
	case CmdHWLogin:
		return "HW_LOGIN"
	case CmdRedirect:
		return "REDIRECT"
	case CmdDebugPrint:
		return "DEBUG_PRINT"
	case CmdEventLog:
		return "EVENT_LOG"
	case CmdEventClear:
		return "EVENT_CLEAR"
	}
	return ""
}

// Known reports whether c is a command of PROTOCOL.md §1.3.
func (c Command) Known() bool { return c.name() != "" }

func (c Command) String() string {
	if n := c.name(); n != "" {
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

// name returns the PROTOCOL.md §1.4 name of s, or "" for an unknown code.
func (s Status) name() string {
	switch s {
	case StatusSuccess:
		return "SUCCESS"
	case StatusQuotaLimit:
		return "QUOTA_LIMIT"
	case StatusIllegalCommand:
		return "ILLEGAL_COMMAND"
	case StatusNotRegistered:
		return "NOT_REGISTERED"
	case StatusAlreadyRegistered:
		return "ALREADY_REGISTERED"
	case StatusNotAuthenticated:
		return "NOT_AUTHENTICATED"
	case StatusNotAllowed:
		return "NOT_ALLOWED"
	case StatusDeviceNotInNetwork:
		return "DEVICE_NOT_IN_NETWORK"
	case StatusNoActiveDashboard:
		return "NO_ACTIVE_DASHBOARD"
	case StatusInvalidToken:
		return "INVALID_TOKEN"
	case StatusIllegalCommandBody:
		return "ILLEGAL_COMMAND_BODY"
	case StatusGetGraphData:
		return "GET_GRAPH_DATA_EXCEPTION"
	case StatusNtfInvalidBody:
		return "NTF_INVALID_BODY"
	case StatusNtfNotAuthorized:
		return "NTF_NOT_AUTHORIZED"
	case StatusNtfException:
		return "NTF_EXCEPTION"
	case StatusTimeout:
		return "TIMEOUT"
	case StatusNoData:
		return "NO_DATA"
	case StatusDeviceWentOffline:
		return "DEVICE_WENT_OFFLINE"
	case StatusServerException:
		return "SERVER_EXCEPTION"
	case StatusNotSupportedVer:
		return "NOT_SUPPORTED_VERSION"
	case StatusEnergyLimit:
		return "ENERGY_LIMIT"
	case StatusFacebookUserLogin:
		return "FACEBOOK_USER_LOGIN_WITH_PASS"
	case StatusOperationAccept:
		return "OPERATION_ACCEPT"
	case StatusOperationDecline:
		return "OPERATION_DECLINE"
	}
	return ""
}

// Known reports whether s is a status code of PROTOCOL.md §1.4.
func (s Status) Known() bool { return s.name() != "" }

func (s Status) String() string {
	if n := s.name(); n != "" {
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
	// ErrResponseBody: a RESPONSE to be written has a body, which the wire
	// cannot carry (its length field holds the status).
	ErrResponseBody = errors.New("blynk: RESPONSE cannot carry a body")
)

// AppendMessage appends m's wire form to dst. On error dst is returned
// unchanged.
func AppendMessage(dst []byte, m Message) ([]byte, error) {
	if m.Cmd == CmdResponse {
		if len(m.Body) > 0 {
			return dst, ErrResponseBody
		}
		return append(dst, byte(m.Cmd), byte(m.ID>>8), byte(m.ID), byte(m.Status>>8), byte(m.Status)), nil
	}
	if len(m.Body) > MaxBody {
		return dst, ErrTooLarge
	}
	n := len(m.Body)
	dst = append(dst, byte(m.Cmd), byte(m.ID>>8), byte(m.ID), byte(n>>8), byte(n))
	return append(dst, m.Body...), nil
}

// ParseHeader decodes the first HeaderSize bytes of h; h must be at least
// that long (like binary.BigEndian, it panics otherwise). For CmdResponse the
// third value is the status code and the body length is 0.
func ParseHeader(h []byte) (cmd Command, id uint16, lenOrStatus uint16) {
	_ = h[4]
	return Command(h[0]), binary.BigEndian.Uint16(h[1:3]), binary.BigEndian.Uint16(h[3:5])
}

// Reader reads frames from a stream. It buffers: one Read on the
// underlying reader usually brings in several frames, so a busy connection
// costs one system call per batch rather than two per frame. It may therefore
// read past the frame it returns; do not read from the underlying reader
// directly once a Reader is in use.
//
// The Body of a returned Message aliases the reader's buffer and is valid
// only until the next call to Next. Not safe for concurrent use.
type Reader struct {
	r       io.Reader
	maxBody int
	buf     []byte // buffered bytes are buf[start:end]
	start   int
	end     int
}

// readSize is the initial buffer: a few typical frames, and every body a
// device with the common 1024-byte buff-in can receive.
const readSize = 4096

// NewReader returns a Reader that refuses bodies longer than maxBody
// (0 means MaxBody).
func NewReader(r io.Reader, maxBody int) *Reader {
	rd := &Reader{r: r}
	rd.SetLimit(maxBody)
	return rd
}

// SetLimit changes the body limit for following frames.
func (r *Reader) SetLimit(maxBody int) {
	if maxBody <= 0 || maxBody > MaxBody {
		maxBody = MaxBody
	}
	r.maxBody = maxBody
}

// Next reads one frame. It returns io.EOF only on a clean end between frames
// and io.ErrUnexpectedEOF for a stream cut inside a frame. Any other read
// error (such as a deadline on a net.Conn) is returned as is and keeps the
// bytes received so far, so Next may be called again after a timeout
// without losing the frame boundary. ErrBodyTooLarge is final: the stream
// cannot be resynchronised and should be closed.
func (r *Reader) Next() (Message, error) {
	if err := r.fill(HeaderSize); err != nil {
		return Message{}, err
	}
	cmd, id, n := ParseHeader(r.buf[r.start:])
	if cmd == CmdResponse {
		r.start += HeaderSize
		return Message{Cmd: cmd, ID: id, Status: Status(n)}, nil
	}
	if int(n) > r.maxBody {
		return Message{Cmd: cmd, ID: id}, fmt.Errorf("%w: %s announces %d bytes, limit %d", ErrBodyTooLarge, cmd, n, r.maxBody)
	}
	size := HeaderSize + int(n)
	if err := r.fill(size); err != nil {
		return Message{}, err
	}
	body := r.buf[r.start+HeaderSize : r.start+size : r.start+size]
	r.start += size
	return Message{Cmd: cmd, ID: id, Body: body}, nil
}

// fill makes at least need bytes available in buf[start:end].
func (r *Reader) fill(need int) error {
	if r.end-r.start >= need {
		return nil
	}
	if r.buf == nil {
		r.buf = make([]byte, max(readSize, need))
	}
	if len(r.buf)-r.start < need {
		// Not enough room after start: move the partial frame to the front,
		// growing the buffer only for a frame bigger than it.
		if len(r.buf) < need {
			nb := make([]byte, need)
			copy(nb, r.buf[r.start:r.end])
			r.buf = nb
		} else {
			copy(r.buf, r.buf[r.start:r.end])
		}
		r.end -= r.start
		r.start = 0
	}
	empty := 0
	for r.end-r.start < need {
		k, err := r.r.Read(r.buf[r.end:])
		r.end += k
		if r.end-r.start >= need {
			return nil // a reader may return data and io.EOF together
		}
		switch {
		case err == io.EOF && r.end == r.start:
			return io.EOF
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		case k > 0:
			empty = 0
		default:
			if empty++; empty > 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// Fields splits a body on NUL into dst (reused, so the steady state does not
// allocate) and returns it. One trailing NUL is tolerated and dropped, as the
// Linux library sends one (PROTOCOL.md §1.5). An empty body has no fields.
// The fields alias body.
//
// Fields suits bodies whose last item is never legitimately empty (info,
// events, sync). HARDWARE values may be: virtualWrite(pin, "") is sent as
// "vw\x00pin\x00", so use ParseHardware for those, which keeps it.
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
