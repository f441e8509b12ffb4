package grid

import (
	"encoding/json"
	"io"
)

// JSON writes g as indented JSON: the schema of Grid's json tags.
func JSON(w io.Writer, g Grid) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}
