package hostdrivers

import "testing"

// On any machine: serial ports are always offered, and GPIO either works
// (both functions set) or says why not, never half of each.
func TestHost(t *testing.T) {
	hw := Host()
	if hw.OpenSerial == nil || hw.ListSerial == nil {
		t.Error("no serial functions")
	}
	gpio := hw.OpenGPIO != nil && hw.ListGPIO != nil
	if gpio == (hw.NoGPIO != nil) || (hw.OpenGPIO == nil) != (hw.ListGPIO == nil) {
		t.Errorf("GPIO: open %v, list %v, NoGPIO %v", hw.OpenGPIO != nil, hw.ListGPIO != nil, hw.NoGPIO)
	}
}
