package pipeline

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads, parses and validates the pipeline config at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load pipeline config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a pipeline config; name is the file name used
// in error messages. The config comes back with defaults filled in. On
// failure the error is a *ValidationError listing every problem found.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{lines: map[string]int{}, bad: map[string]bool{}}
	root, err := document(data)
	if err != nil {
		d.problem(0, "", "%v", err)
		return nil, d.result(name)
	}
	if v, line, ok := peekVersion(root); ok && v != fmt.Sprint(Version) {
		// Another version has another schema: its fields mean nothing here.
		d.problem(line, "version", "unsupported version %s (want %d)", v, Version)
		return nil, d.result(name)
	}
	var c Config
	d.decode(root, reflect.ValueOf(&c).Elem(), "")
	d.applyDefaults(&c)
	d.validate(&c)
	if len(d.problems) > 0 {
		return nil, d.result(name)
	}
	c.File = name
	return &c, nil
}

// ValidationError lists every problem found in a config.
type ValidationError struct {
	File     string
	Problems []Problem
}

// Problem is one thing wrong with a config.
type Problem struct {
	Path   string // field path such as sources[1].pagination.type; "" for the whole file
	Line   int    // line in the file, 0 when unknown
	Reason string
}

// Error returns one line per problem: "file: path: reason".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Reason)
	}
	return b.String()
}

// document returns the single YAML document in data.
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty config")
		}
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].ShortTag() == "!!null" {
		return nil, errors.New("empty config")
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("line %d: more than one YAML document", next.Line)
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	return doc.Content[0], nil
}

// peekVersion returns the top-level version as written, if there is one.
func peekVersion(root *yaml.Node) (value string, line int, ok bool) {
	if root.Kind != yaml.MappingNode {
		return "", 0, false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k, v := root.Content[i], resolve(root.Content[i+1]); k.Value == "version" && v.Kind == yaml.ScalarNode {
			return v.Value, v.Line, true
		}
	}
	return "", 0, false
}

// decoder decodes a YAML node tree into the config structs, in the manner of
// yaml.v3 with KnownFields, but collecting every problem with its field path
// instead of stopping at the first, and remembering which fields were
// present so that defaults apply only to fields left out.
type decoder struct {
	problems []Problem
	lines    map[string]int  // path of each non-null value decoded → its line
	bad      map[string]bool // paths whose value could not be decoded
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()

	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// timeLayouts are the forms a time is written in: a window key of either
// period (see Partition.Key).
var timeLayouts = []string{dayKeyLayout, hourKeyLayout}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // as if left out
	}
	d.lines[path] = n.Line
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			d.mistyped(n, path, "a duration such as \"30s\"")
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.mistyped(n, path, "a duration such as \"30s\"")
			return
		}
		v.SetInt(int64(dur))
	case v.Type() == timeType:
		t, ok := parseTime(n)
		if !ok {
			d.mistyped(n, path, "a window key such as \"2026-01-01\" or \"2026-01-01T13\" (UTC)")
			return
		}
		v.Set(reflect.ValueOf(t))
	case v.Addr().Type().Implements(textUnmarshalerType):
		// A type with its own text form (Output's sizes and column types).
		if n.Kind != yaml.ScalarNode {
			d.mistyped(n, path, "a string")
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.problem(n.Line, path, "%v", err)
			d.bad[path] = true
		}
	case v.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.mistyped(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		d.decodeStringMap(n, v, path)
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.mistyped(n, path, "a string")
			return
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.mistyped(n, path, "an integer")
			return
		}
		v.SetInt(int64(i))
	case v.Kind() == reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			d.mistyped(n, path, "a number")
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("pipeline: no YAML decoding for %s", v.Type())) // a field added to the config structs
	}
}

// parseTime reads a scalar written in one of timeLayouts, in UTC.
func parseTime(n *yaml.Node) (time.Time, bool) {
	if n.Kind != yaml.ScalarNode {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, n.Value, time.UTC); err == nil && t.Format(layout) == n.Value {
			return t, true
		}
	}
	return time.Time{}, false
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.mistyped(n, path, "a mapping")
		return
	}
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	known := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "-" {
			continue // not part of the format
		}
		fields[name] = i
		known = append(known, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		p := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.problem(k.Line, path, "field names must be strings")
			d.bad[path] = true
			continue
		}
		if seen[k.Value] {
			d.problem(k.Line, p, "defined more than once")
			d.bad[p] = true
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			d.problem(k.Line, p, "unknown field (known: %s)", strings.Join(known, ", "))
			continue
		}
		d.decode(val, v.Field(f), p)
	}
}

func (d *decoder) decodeStringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.mistyped(n, path, "a mapping of strings")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		p := join(path, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			d.problem(k.Line, path, "keys must be strings")
			d.bad[path] = true
			continue
		case m.MapIndex(reflect.ValueOf(k.Value)).IsValid():
			d.problem(k.Line, p, "defined more than once")
			d.bad[p] = true
			continue
		case val.Kind == yaml.MappingNode && len(val.Content) == 2 && val.Content[1].ShortTag() == "!!null":
			// {date} unquoted is a YAML mapping, a common slip.
			d.problem(val.Line, p, "want a string, got a mapping (quote values that use placeholders: \"{%s}\")", val.Content[0].Value)
			d.bad[p] = true
			continue
		case val.Kind != yaml.ScalarNode || val.ShortTag() == "!!null":
			d.mistyped(val, p, "a string")
			continue
		}
		d.lines[p] = val.Line
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), reflect.ValueOf(val.Value).Convert(v.Type().Elem()))
	}
	v.Set(m)
}

func (d *decoder) mistyped(n *yaml.Node, path, want string) {
	d.problem(n.Line, path, "want %s, got %s", want, describe(n))
	d.bad[path] = true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// parent returns the path one level up: sources[1].request → sources[1] → sources → "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// has reports whether the config gave a (non-null) value at path.
func (d *decoder) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// lineOf returns the line of path or, if it was left out, of its nearest
// ancestor present in the file.
func (d *decoder) lineOf(path string) int {
	for p := path; ; p = parent(p) {
		if l, ok := d.lines[p]; ok || p == "" {
			return l
		}
	}
}

// undecodable reports whether path or one of its ancestors could not be
// decoded; checks on such a value would only repeat the decoding problem.
func (d *decoder) undecodable(path string) bool {
	for p := path; ; p = parent(p) {
		if d.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (d *decoder) problem(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Line: line, Reason: fmt.Sprintf(format, args...)})
}

// invalid records a problem found by validation, unless the value at path
// already failed to decode.
func (d *decoder) invalid(path, format string, args ...any) {
	if d.undecodable(path) {
		return
	}
	d.problem(d.lineOf(path), path, format, args...)
}

func (d *decoder) result(name string) error {
	sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
	return &ValidationError{File: name, Problems: d.problems}
}
