package pipeline

import (
	"github.com/sluice-data/sluice/shared/fault"
)

// Lookup returns the source a message names and the window of that
// source's partition keyed window. An unknown source, or a key that is not
// one of the source's windows, is a permanent error: no redelivery of the
// same message can succeed.
func (c *Config) Lookup(source, window string) (*Source, Window, error) {
	src, ok := c.Source(source)
	if !ok {
		return nil, Window{}, fault.Permanent(unknownSource(source))
	}
	w, err := src.Partition.ParseKey(window)
	if err != nil {
		return nil, Window{}, fault.Permanentf("source %s: %w", source, err)
	}
	return src, w, nil
}
