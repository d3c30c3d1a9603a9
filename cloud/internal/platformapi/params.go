package platformapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"outpost/cloud/internal/tenancy"
)

func badRequest(format string, args ...any) error {
	return tenancy.Errorf(tenancy.Invalid, format, args...)
}

// query returns a query parameter, trimmed.
func (c *call) query(name string) string {
	return strings.TrimSpace(c.r.URL.Query().Get(name))
}

// id parses a required positive integer query parameter.
func (c *call) id(name string) (int64, error) {
	s := c.query(name)
	if s == "" {
		return 0, badRequest("%s is required", name)
	}
	return parseID(name, s)
}

// optID parses an optional positive integer query parameter (0 if absent).
func (c *call) optID(name string) (int64, error) {
	s := c.query(name)
	if s == "" {
		return 0, nil
	}
	return parseID(name, s)
}

func parseID(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest("%s must be a positive integer", name)
	}
	return n, nil
}

// boolean parses an optional boolean query parameter.
func (c *call) boolean(name string) (bool, error) {
	s := c.query(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("%s must be true or false", name)
	}
	return b, nil
}

// search reads the query= of the search routes (required, at most 255
// characters) and the page.
func (c *call) search() (string, tenancy.Page, error) {
	q := c.query("query")
	if q == "" || utf8.RuneCountInString(q) > 255 {
		return "", tenancy.Page{}, badRequest("query is required (at most 255 characters)")
	}
	p, err := c.page()
	return q, p, err
}

// page parses page (0-based) and size (1..1000, default 50); a size over
// the maximum is refused rather than clamped, so callers learn the limit.
func (c *call) page() (tenancy.Page, error) {
	var p tenancy.Page
	if s := c.query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, badRequest("page must be a non-negative integer")
		}
		p.Number = n
	}
	p.Size = tenancy.DefaultPageSize
	if s := c.query("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > tenancy.MaxPageSize {
			return p, badRequest("size must be between 1 and %d", tenancy.MaxPageSize)
		}
		p.Size = n
	}
	// Offset arithmetic must not overflow on absurd page numbers.
	if p.Number > math.MaxInt32/p.Size {
		return p, badRequest("page is too large")
	}
	return p, nil
}

// body decodes a JSON object into v: unknown fields, trailing data and
// wrong types are 400; an oversized body is 413.
func (c *call) body(v any) error {
	data, err := io.ReadAll(c.r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("cannot read request body")
	}
	return decodeJSON(data, v)
}

func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("a JSON body is required")
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD: a name would
	// be stored other than sent. Refuse it instead.
	if !utf8.Valid(data) {
		return badRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return badRequest("field %s has the wrong type", te.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return badRequest("invalid JSON body")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("invalid JSON body: trailing data")
	}
	return nil
}

// list is Blynk's list envelope.
type list[T any] struct {
	Content       []T `json:"content"`
	TotalElements int `json:"totalElements"`
}

func mapList[S, T any](l tenancy.List[S], f func(S) T) list[T] {
	out := list[T]{Content: make([]T, 0, len(l.Items)), TotalElements: l.Total}
	for _, x := range l.Items {
		out.Content = append(out.Content, f(x))
	}
	return out
}

func mapSlice[S, T any](in []S, f func(S) T) []T {
	out := make([]T, 0, len(in))
	for _, x := range in {
		out = append(out, f(x))
	}
	return out
}
