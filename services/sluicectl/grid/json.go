package grid

import (
	"encoding/json"
	"io"
)

// JSON writes g as indented JSON: the schema of Grid's json tags (a
// Cell's is cellJSON's).
func JSON(w io.Writer, g Grid) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}

// cellJSON is a Cell's JSON form.
type cellJSON struct {
	Window string `json:"window"`
	State  State  `json:"state"`
	Run    *Run   `json:"run"` // null: the window has no run
}

// MarshalJSON writes c with its run under "run", null when it has none.
func (c Cell) MarshalJSON() ([]byte, error) {
	w := cellJSON{Window: c.Window, State: c.State}
	if c.Status != "" {
		w.Run = &c.Run
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Cell) UnmarshalJSON(b []byte) error {
	var w cellJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Cell{Window: w.Window, State: w.State}
	if w.Run != nil {
		c.Run = *w.Run
	}
	return nil
}
