package syncproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Errors of Decode and Encode; each returned error wraps exactly one.
var (
	ErrTooLarge           = errors.New("syncproto: message too large")
	ErrMalformed          = errors.New("syncproto: malformed message")
	ErrUnsupportedVersion = errors.New("syncproto: unsupported protocol version")
	ErrInvalid            = errors.New("syncproto: invalid message")
)

// Encode validates m and returns its JSON encoding. V is set to
// ProtocolVersion when zero.
func Encode(m *Message) ([]byte, error) {
	if m.V == 0 {
		m.V = ProtocolVersion
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

// Decode parses one message and validates it. Unknown fields, trailing data,
// another protocol version and anything Validate refuses are errors; a
// message is never partly accepted.
func Decode(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	m := new(Message)
	err := dec.Decode(m)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data")
		}
	}
	if err != nil || m.V != ProtocolVersion {
		// A peer speaking another version gets ErrUnsupportedVersion, not
		// a complaint about fields its version may have added.
		var probe struct {
			V int `json:"v"`
		}
		if perr := json.Unmarshal(data, &probe); perr == nil && probe.V != ProtocolVersion {
			return nil, fmt.Errorf("%w: %d (want %d)", ErrUnsupportedVersion, probe.V, ProtocolVersion)
		}
		if err == nil {
			err = fmt.Errorf("version %d", m.V)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}
