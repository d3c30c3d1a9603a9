package platformapi

import (
	"errors"
	"net/http"

	"outpost/cloud/internal/tenancy"
)

// statusOf is the one table from tenancy error codes to HTTP statuses.
// Conflicts and limits answer 400 as Blynk does ("email already in use",
// "role not allowed"); NotFound covers out-of-scope objects too (§11.7).
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

// httpStatus returns the status for err, 500 for anything unknown.
func httpStatus(err error) int {
	if s, ok := statusOf[tenancy.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// publicMessage is what the caller may read about err: the domain message
// for coded errors, a fixed text for everything else (causes are logged).
func publicMessage(err error) string {
	var e *tenancy.Error
	if errors.As(err, &e) && e.Code != tenancy.Internal && e.Message != "" {
		return e.Message
	}
	if httpStatus(err) == http.StatusInternalServerError {
		return "internal error"
	}
	return http.StatusText(httpStatus(err))
}
