// Package logconfig is the log section every Outpost config file has
// (gateway, cloud, outpost-bridge): a level and a format, their one
// validation, and the slog logger they describe.
package logconfig

import (
	"fmt"
	"io"
	"log/slog"
)

// Config selects the log level and format.
type Config struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

var levels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

// Validate reports each invalid setting under its key (log.level,
// log.format).
func (c Config) Validate() []error {
	var errs []error
	if _, ok := levels[c.Level]; !ok {
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Level))
	}
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", c.Format))
	}
	return errs
}

// Logger is the logger c describes, writing to w; an invalid level logs
// at info, an invalid format as text (Validate refuses both).
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: levels[c.Level]}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
