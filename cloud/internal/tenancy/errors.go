package tenancy

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error; the Platform API maps each code to one HTTP
// status in a single table.
type Code string

// Error codes.
const (
	// NotFound: the object does not exist OR lies outside the caller's
	// scope; the two are deliberately indistinguishable (TENANCY.md §11.7).
	NotFound        Code = "not_found"
	Forbidden       Code = "forbidden"       // visible, but the action is not permitted
	Invalid         Code = "invalid"         // bad input or a failed precondition (HTTP 400)
	Conflict        Code = "conflict"        // unique value already taken ("already in use")
	LimitReached    Code = "limit_reached"   // a count limit (roles, invites/day, depth, tags)
	Unauthenticated Code = "unauthenticated" // bad credentials, expired/revoked session or token
	RateLimited     Code = "rate_limited"    // too many requests or failed logins; see Error.RetryAfter
	Internal        Code = "internal"        // store failure and other bugs
	Unavailable     Code = "unavailable"     // a gateway needed for the action did not answer (HTTP 503)
)

// Error is a coded domain error. Message is safe to show to the caller.
type Error struct {
	Code    Code
	Message string
	Err     error // optional cause, never shown to callers
	// RetryAfter is how long a RateLimited caller should wait (0: unknown).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, &Error{Code: X}) match on the code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is; they carry only a code.
var (
	ErrNotFound        = &Error{Code: NotFound}
	ErrForbidden       = &Error{Code: Forbidden}
	ErrInvalid         = &Error{Code: Invalid}
	ErrConflict        = &Error{Code: Conflict}
	ErrLimitReached    = &Error{Code: LimitReached}
	ErrUnauthenticated = &Error{Code: Unauthenticated}
)

// Errorf builds a coded error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err, Internal for uncoded errors, "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// notFound is the one message used for missing and out-of-scope objects, so
// the two cannot be told apart.
func notFound(what string) *Error {
	return Errorf(NotFound, "%s not found or you don't have access to it", what)
}

func invalid(format string, args ...any) *Error { return Errorf(Invalid, format, args...) }

func forbidden(format string, args ...any) *Error { return Errorf(Forbidden, format, args...) }

// internal wraps a store failure; the message stays generic.
func internal(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: Internal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}
