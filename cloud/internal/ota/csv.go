package ota

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// WriteCSV writes a shipment's status table as CSV (the "Download
// Report" of a shipment): one header line, one line per device.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"device_id", "device_name", "status", "approved", "attempts", "version", "detail", "updated_at"})
	for _, r := range rows {
		at := ""
		if !r.UpdatedAt.IsZero() {
			at = r.UpdatedAt.UTC().Format(time.RFC3339)
		}
		cw.Write([]string{strconv.FormatInt(int64(r.Device.ID), 10), safeCell(r.Device.Name), string(r.Status),
			strconv.FormatBool(r.Approved), strconv.Itoa(r.Attempts), safeCell(r.Version), safeCell(r.Detail), at})
	}
	cw.Flush()
	return cw.Error()
}

// safeCell keeps a spreadsheet from reading a cell as a formula (a device
// name is user input).
func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
