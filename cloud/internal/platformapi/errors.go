package platformapi

import (
	"outpost/cloud/internal/httpstatus"
)

// httpStatus returns the status for err (the cloud's one table).
func httpStatus(err error) int { return httpstatus.Of(err) }

// publicMessage is what the caller may read about err: the domain message
// for coded errors, a fixed text for everything else (causes are logged).
func publicMessage(err error) string { return httpstatus.Message(err, "internal error") }
