// Package archtest holds no code: its test enforces DESIGN.md "Who may
// import whom" over the whole module with `go list`.
package archtest
