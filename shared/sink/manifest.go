package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

// Manifest describes one complete attempt; it is the body of the
// attempt's _SUCCESS object.
type Manifest struct {
	V           int       `json:"v"`
	Source      string    `json:"source"`
	Window      string    `json:"window"`
	RunID       string    `json:"run_id"`
	Attempt     int       `json:"attempt"`
	Records     int64     `json:"records"`
	RawBytes    int64     `json:"raw_bytes"`
	CommittedAt time.Time `json:"committed_at"`
	Parts       []Part    `json:"parts"`
}

// WriteManifest stores m as the attempt's _SUCCESS object, once: a
// manifest that is there already is kept (the attempt's parts cannot
// change after it is complete).
func (s *Sink) WriteManifest(ctx context.Context, p Partition, m Manifest) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode manifest: %w", err))
	}
	err = s.putOnce(ctx, s.SuccessKey(p, m.Attempt), body, "application/json", nil)
	if errors.Is(err, errExists) {
		return nil
	}
	return err
}
