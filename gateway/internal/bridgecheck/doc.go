// Package bridgecheck holds no code: its tests run the firmware bridges
// (serial over a pseudo-terminal, GPIO on periph's fake pins) against the
// real gateway session code, hub and SQLite store.
package bridgecheck
