// Package batchjson decodes the structure of the JSON batches of Blynk's
// device APIs: timestamped points `[[ts_ms, value], …]` (MQTT
// ds/<name>/timestamped_batch, HTTP POST /external/api/batch/update) and
// name→value objects (MQTT batch_ds, info/mcu). Values are returned as raw
// JSON for datastream.NormalizeJSON, so every transport applies the same
// type rules.
package batchjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Errors returned by the decoders.
var (
	ErrSyntax   = errors.New("batchjson: malformed JSON batch")
	ErrTooLarge = errors.New("batchjson: too many points in batch")
)

// Point is one timestamped value.
type Point struct {
	TS    int64           // ms since epoch
	Value json.RawMessage // one JSON value (never null)
}

// Field is one entry of a name→value object.
type Field struct {
	Name  string
	Value json.RawMessage // one JSON value (never null)
}

// ParseTimestamped decodes `[[ts_ms, value], …]`. More than max points
// (max > 0) is ErrTooLarge; anything else malformed is ErrSyntax.
func ParseTimestamped(b []byte, max int) ([]Point, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("%w: not a JSON array of [ts, value] pairs", ErrSyntax)
	}
	if max > 0 && len(raw) > max {
		return nil, fmt.Errorf("%w: %d points, at most %d", ErrTooLarge, len(raw), max)
	}
	points := make([]Point, 0, len(raw))
	for i, r := range raw {
		var pair []json.RawMessage
		if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("%w: point %d is not [ts, value]", ErrSyntax, i)
		}
		ts, err := strconv.ParseInt(string(pair[0]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: point %d: timestamp is not an integer", ErrSyntax, i)
		}
		if bytes.Equal(pair[1], []byte("null")) {
			return nil, fmt.Errorf("%w: point %d: null value", ErrSyntax, i)
		}
		points = append(points, Point{TS: ts, Value: pair[1]})
	}
	return points, nil
}

// ParseObject decodes `{name: value, …}`, keeping the order of the fields
// (a repeated name appears twice).
func ParseObject(b []byte) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrSyntax)
	}
	var fields []Field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
		}
		name, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("%w: object key", ErrSyntax)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: value of %q: %w", ErrSyntax, name, err)
		}
		if bytes.Equal(raw, []byte("null")) {
			return nil, fmt.Errorf("%w: %q is null", ErrSyntax, name)
		}
		fields = append(fields, Field{Name: name, Value: raw})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, fmt.Errorf("%w: unterminated object", ErrSyntax)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrSyntax)
	}
	return fields, nil
}

// Text returns a value as plain text: a JSON string unquoted, anything else
// as its JSON text (for info/mcu pairs).
func Text(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}
