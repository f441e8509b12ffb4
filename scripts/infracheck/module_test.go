package infracheck

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

// Module directories the checks cover; every .tf file under infra/ must be
// in one of them (TestEveryTerraformFileIsChecked).
var moduleDirs = []string{"infra/modules/sluice", "infra/envs/example"}

// module is one Terraform module directory, parsed.
type module struct {
	dir       string
	src       map[string][]byte // file name → bytes
	blocks    []*hclsyntax.Block
	variables map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*hclsyntax.Block // "<type>.<name>"
	data      map[string]*hclsyntax.Block // "<type>.<name>"
	modules   map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
}

// loadModule parses every .tf file of dir (relative to the repository
// root) and fails the test on any parse error or duplicate declaration.
func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	m := &module{
		dir:       dir,
		src:       map[string][]byte{},
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		modules:   map[string]*hclsyntax.Block{},
		outputs:   map[string]*hclsyntax.Block{},
	}
	paths, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no .tf files (%v)", dir, err)
	}
	sort.Strings(paths)
	declare := func(into map[string]*hclsyntax.Block, key string, b *hclsyntax.Block) {
		if prev, ok := into[key]; ok {
			t.Errorf("%s: %s declared twice (also at %s)", b.DefRange(), key, prev.DefRange())
		}
		into[key] = b
	}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		m.src[name] = src
		f, diags := hclsyntax.ParseConfig(src, filepath.Join(dir, name), hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", p, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.blocks = append(m.blocks, b)
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				declare(m.variables, b.Labels[0], b)
			case b.Type == "resource" && len(b.Labels) == 2:
				declare(m.resources, b.Labels[0]+"."+b.Labels[1], b)
			case b.Type == "data" && len(b.Labels) == 2:
				declare(m.data, b.Labels[0]+"."+b.Labels[1], b)
			case b.Type == "module" && len(b.Labels) == 1:
				declare(m.modules, b.Labels[0], b)
			case b.Type == "output" && len(b.Labels) == 1:
				declare(m.outputs, b.Labels[0], b)
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					if prev, ok := m.locals[name]; ok {
						t.Errorf("%s: local.%s declared twice (also at %s)", a.SrcRange, name, prev.SrcRange)
					}
					m.locals[name] = a
				}
			}
		}
	}
	return m
}

// sluiceModule loads the Sluice module, which most checks are about.
func sluiceModule(t *testing.T) *module { return loadModule(t, "infra/modules/sluice") }

// resource returns resource "<typ>.<name>" or fails the test.
func (m *module) resource(t *testing.T, key string) *hclsyntax.Block {
	t.Helper()
	b, ok := m.resources[key]
	if !ok {
		t.Fatalf("%s: no resource %s", m.dir, key)
	}
	return b
}

// resourcesOf returns the resources of type typ, by name.
func (m *module) resourcesOf(typ string) map[string]*hclsyntax.Block {
	out := map[string]*hclsyntax.Block{}
	for key, b := range m.resources {
		if b.Labels[0] == typ {
			out[strings.TrimPrefix(key, typ+".")] = b
		}
	}
	return out
}

// attr returns the attribute name of body, or fails the test.
func attr(t *testing.T, b *hclsyntax.Body, name string) *hclsyntax.Attribute {
	t.Helper()
	a, ok := b.Attributes[name]
	if !ok {
		t.Fatalf("%s: no attribute %q", b.SrcRange, name)
	}
	return a
}

// blocksOf returns the nested blocks of type typ.
func blocksOf(b *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, nb := range b.Blocks {
		if nb.Type == typ {
			out = append(out, nb)
		}
	}
	return out
}

// text returns the source text of rng.
func (m *module) text(rng hcl.Range) string {
	return string(rng.SliceBytes(m.src[filepath.Base(rng.Filename)]))
}

// refersTo reports whether expr references name (a traversal prefix such
// as "var.max_receive_count" or "aws_sqs_queue.dlq").
func refersTo(expr hclsyntax.Expression, name string) bool {
	for _, tr := range hclsyntax.Variables(expr) {
		if strings.HasPrefix(traversalString(tr)+".", name+".") {
			return true
		}
	}
	return false
}

// traversalString renders the attribute steps of tr: "var.x", "aws_sqs_queue.main.arn".
func traversalString(tr hcl.Traversal) string {
	var parts []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return strings.Join(parts, ".")
		}
	}
	return strings.Join(parts, ".")
}

// hclDiags is what hclsyntax.VisitAll callbacks return.
type hclDiags = hcl.Diagnostics

// keyName returns the literal key of an object item, "" for a computed one.
func keyName(expr hclsyntax.Expression) string {
	if k, ok := expr.(*hclsyntax.ObjectConsKeyExpr); ok {
		if name := hcl.ExprAsKeyword(k.Wrapped); name != "" {
			return name
		}
		if v, diags := k.Wrapped.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
			return v.AsString()
		}
	}
	return ""
}

// objectItems returns the items of an object constructor by literal key,
// or fails the test.
func objectItems(t *testing.T, expr hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	obj, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s: not an object constructor {...}", expr.Range())
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		out[keyName(item.KeyExpr)] = item.ValueExpr
	}
	return out
}

func fileBase(name string) string { return filepath.Base(name) }
