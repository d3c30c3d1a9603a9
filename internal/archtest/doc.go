// Package archtest holds no code: its test enforces the import rules of
// docs/architecture.md ("Who may import whom") over the whole module with
// `go list`.
package archtest
