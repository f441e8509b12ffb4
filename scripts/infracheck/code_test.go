package infracheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// envSetting is one environment variable a Go config struct reads.
type envSetting struct {
	Name     string
	Required bool
	Default  string // envDefault, "" if none
	At       string // file:line
}

// envSettings returns the environment variables read through `env:"..."`
// struct tags in the non-test Go files under dirs (relative to the
// repository root), by name.
func envSettings(t *testing.T, dirs ...string) map[string]envSetting {
	t.Helper()
	out := map[string]envSetting{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		for _, path := range goFiles(t, dir) {
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				field, ok := n.(*ast.Field)
				if !ok || field.Tag == nil {
					return true
				}
				tag, err := strconv.Unquote(field.Tag.Value)
				if err != nil {
					return true
				}
				env, ok := reflect.StructTag(tag).Lookup("env")
				if !ok || env == "" {
					return true
				}
				name, opts, _ := strings.Cut(env, ",")
				def, _ := reflect.StructTag(tag).Lookup("envDefault")
				out[name] = envSetting{
					Name:     name,
					Required: strings.Contains(","+opts+",", ",required,"),
					Default:  def,
					At:       fset.Position(field.Pos()).String(),
				}
				return true
			})
		}
	}
	return out
}

// goFiles returns the non-test .go files under dir, recursively.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasSuffix(d.Name(), "test")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files under %s", dir)
	}
	return out
}

// sluiceLiterals returns every SLUICE_* string literal in the non-test Go
// files under dir.
func sluiceLiterals(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, path := range goFiles(t, dir) {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
				out[s] = fset.Position(lit.Pos()).String()
			}
			return true
		})
	}
	return out
}

var envName = regexp.MustCompile(`^SLUICE_[A-Z0-9_]+$`)

// fetcherMinMessageBytes reads the smallest SLUICE_MAX_MESSAGE_BYTES the
// fetcher accepts from its validation message ("want 32768..").
func fetcherMinMessageBytes(t *testing.T) int64 {
	t.Helper()
	re := regexp.MustCompile(`SLUICE_MAX_MESSAGE_BYTES[^"]*want (\d+)\.\.`)
	for _, path := range goFiles(t, "services/fetcher") {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindSubmatch(src); m != nil {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			return n
		}
	}
	t.Fatal(`services/fetcher: no validation message "SLUICE_MAX_MESSAGE_BYTES: ..., want <min>..<max>"; update fetcherMinMessageBytes to where the fetcher checks its minimum`)
	return 0
}
