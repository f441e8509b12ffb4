// Package logging builds Sluice's zap JSON loggers and carries a per-message
// log scope through a context, so that every line written while handling one
// message carries the same run id, input and attempt — including the one
// line the consumer writes about the message's outcome.
package logging

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Standard field names, shared by every service so that logs can be joined.
const (
	FieldRunID     = "run_id"
	FieldInput     = "input"
	FieldAttempt   = "attempt"
	FieldMessageID = "message_id"
	FieldReceive   = "receive_count"
	FieldService   = "service"
)

// New returns a JSON logger at the given level ("debug", "info", "warn",
// "error") that names the service on every line.
func New(service, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	cfg.DisableStacktrace = true // errors carry their own context; a panic logs its stack
	log, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return log.With(zap.String(FieldService, service)), nil
}

// Scope collects the fields that identify the work a context belongs to.
// It is safe for concurrent use.
type Scope struct {
	base   *zap.Logger
	mu     sync.Mutex
	fields []zap.Field
	logger *zap.Logger
}

type scopeKey struct{}

// WithScope returns a context carrying a new scope over base, with fields.
func WithScope(ctx context.Context, base *zap.Logger, fields ...zap.Field) (context.Context, *Scope) {
	s := &Scope{base: base, fields: fields, logger: base.With(fields...)}
	return context.WithValue(ctx, scopeKey{}, s), s
}

// Annotate adds fields to the scope carried by ctx; later lines from
// From(ctx), and the consumer's outcome line, carry them. A field already
// present under the same key is replaced.
func Annotate(ctx context.Context, fields ...zap.Field) {
	s, ok := ctx.Value(scopeKey{}).(*Scope)
	if !ok {
		return
	}
	s.add(fields...)
}

func (s *Scope) add(fields ...zap.Field) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fields {
		replaced := false
		for i := range s.fields {
			if s.fields[i].Key == f.Key {
				s.fields[i] = f
				replaced = true
				break
			}
		}
		if !replaced {
			s.fields = append(s.fields, f)
		}
	}
	s.logger = s.base.With(s.fields...)
}

// Logger returns the scope's logger with all fields added so far.
func (s *Scope) Logger() *zap.Logger {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logger
}

// From returns the logger of the scope carried by ctx, or a no-op logger.
func From(ctx context.Context) *zap.Logger {
	if s, ok := ctx.Value(scopeKey{}).(*Scope); ok {
		return s.Logger()
	}
	return zap.NewNop()
}

// Truncate shortens s to at most n bytes for logs and error attributes,
// marking the cut, so that no full payload is ever logged.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && (s[cut]&0xC0) == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d bytes)", len(s))
}
