package platformapi

import (
	"errors"
	"fmt"
	"testing"

	"outpost/cloud/internal/tenancy"
)

func TestErrorTable(t *testing.T) {
	secret := errors.New("disk /var/lib/x: I/O error")
	tests := []struct {
		err     error
		status  int
		message string
	}{
		{tenancy.Errorf(tenancy.NotFound, "device not found or you don't have access to it"), 404, "device not found or you don't have access to it"},
		{tenancy.Errorf(tenancy.Forbidden, "no"), 403, "no"},
		{tenancy.Errorf(tenancy.Invalid, "bad"), 400, "bad"},
		{tenancy.Errorf(tenancy.Conflict, "email x is already in use"), 400, "email x is already in use"},
		{tenancy.Errorf(tenancy.LimitReached, "at most 9 roles"), 400, "at most 9 roles"},
		{tenancy.Errorf(tenancy.Unauthenticated, "wrong email or password"), 401, "wrong email or password"},
		{tenancy.Errorf(tenancy.RateLimited, "slow down"), 429, "slow down"},
		{&tenancy.Error{Code: tenancy.Internal, Message: "internal error", Err: secret}, 500, "internal error"},
		{fmt.Errorf("wrapped: %w", tenancy.Errorf(tenancy.NotFound, "user not found")), 404, "user not found"},
		{secret, 500, "internal error"}, // uncoded: never shown
		{&tenancy.Error{Code: "something new"}, 500, "internal error"},
	}
	for _, tt := range tests {
		if got := httpStatus(tt.err); got != tt.status {
			t.Errorf("httpStatus(%v) = %d, want %d", tt.err, got, tt.status)
		}
		if got := publicMessage(tt.err); got != tt.message {
			t.Errorf("publicMessage(%v) = %q, want %q", tt.err, got, tt.message)
		}
	}
}
