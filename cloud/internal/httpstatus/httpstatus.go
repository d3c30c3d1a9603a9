// Package httpstatus is the one table from the tenancy service's error
// codes to HTTP statuses, shared by the Platform API and the console so
// that both answer the same refusal with the same status.
package httpstatus

import (
	"errors"
	"net/http"

	"outpost/cloud/internal/tenancy"
)

// statusOf maps each code. Conflicts and limits answer 400 as Blynk does
// ("email already in use", "role not allowed"); NotFound covers
// out-of-scope objects too (TENANCY.md §11.7).
var statusOf = map[tenancy.Code]int{
	tenancy.NotFound:        http.StatusNotFound,
	tenancy.Forbidden:       http.StatusForbidden,
	tenancy.Invalid:         http.StatusBadRequest,
	tenancy.Conflict:        http.StatusBadRequest,
	tenancy.LimitReached:    http.StatusBadRequest,
	tenancy.Unauthenticated: http.StatusUnauthorized,
	tenancy.RateLimited:     http.StatusTooManyRequests,
	tenancy.Internal:        http.StatusInternalServerError,
	tenancy.Unavailable:     http.StatusServiceUnavailable,
}

// Of returns the status for err, 500 for anything uncoded.
func Of(err error) int {
	if s, ok := statusOf[tenancy.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Message is what the caller may read about err: the domain message of a
// coded error, internal for a 500 (its cause goes to the log, never to the
// caller), else the status text.
func Message(err error, internal string) string {
	var e *tenancy.Error
	if errors.As(err, &e) && e.Code != tenancy.Internal && e.Message != "" {
		return e.Message
	}
	if Of(err) == http.StatusInternalServerError {
		return internal
	}
	return http.StatusText(Of(err))
}
