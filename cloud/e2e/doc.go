// Package e2e holds the cloud's end-to-end tests: a real cloud.Server on
// 127.0.0.1:0 with a real SQLite file, driven over HTTP through the
// Platform API. They cover every acceptance scenario of TENANCY.md §13, an
// isolation matrix of routes × org relations × roles, and fuzzing of query
// parameters, JSON bodies and CSV imports.
package e2e
