package infracheck

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
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

var sluiceModule = func(t *testing.T) *module { return loadModule(t, "infra/modules/sluice") }

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

// functions are the Terraform functions the evaluated expressions use.
var functions = map[string]function.Function{
	"alltrue":    alltrueFunc,
	"can":        tryfunc.CanFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"floor":      stdlib.FloorFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"min":        stdlib.MinFunc,
	"regex":      stdlib.RegexFunc,
	"tostring":   stdlib.MakeToFunc(cty.String),
	"upper":      stdlib.UpperFunc,
	"startswith": prefixFunc(strings.HasPrefix),
	"endswith":   prefixFunc(strings.HasSuffix),
}

var alltrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			if _, v := it.Element(); v.IsNull() || v.False() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})

func prefixFunc(f func(s, affix string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "affix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// scope evaluates the module's expressions the way Terraform would for
// given variable values: variables take their defaults (type defaults
// applied) unless set, and every local that needs only variables and other
// such locals is evaluated. Anything that depends on a resource stays out.
type scope struct {
	vars   map[string]cty.Value
	locals map[string]cty.Value
}

// newScope returns the scope of m with set overriding variable defaults.
// Each value of set is converted to the variable's type with its defaults.
func (m *module) newScope(t *testing.T, set map[string]cty.Value) *scope {
	t.Helper()
	s := &scope{vars: map[string]cty.Value{}, locals: map[string]cty.Value{}}
	for name, b := range m.variables {
		v, ok := set[name]
		if !ok {
			if d, has := b.Body.Attributes["default"]; has {
				var diags hcl.Diagnostics
				if v, diags = d.Expr.Value(nil); diags.HasErrors() {
					t.Fatalf("var.%s default: %s", name, diags.Error())
				}
			} else {
				v = cty.DynamicVal // required, unknown
			}
		}
		s.vars[name] = m.typed(t, name, v)
	}
	for name := range set {
		if _, ok := m.variables[name]; !ok {
			t.Fatalf("no variable %q to set", name)
		}
	}
	// Locals in dependency order, by repeated passes.
	for pending := len(m.locals); pending > 0; {
		progress := false
		for name, a := range m.locals {
			if _, done := s.locals[name]; done {
				continue
			}
			v, diags := a.Expr.Value(s.ctx(nil))
			if diags.HasErrors() || !v.IsWhollyKnown() {
				continue
			}
			s.locals[name] = v
			pending--
			progress = true
		}
		if !progress {
			break
		}
	}
	return s
}

// typed converts v to the type of var.name, applying optional-attribute
// defaults as Terraform does.
func (m *module) typed(t *testing.T, name string, v cty.Value) cty.Value {
	t.Helper()
	tyAttr, ok := m.variables[name].Body.Attributes["type"]
	if !ok || !v.IsKnown() {
		return v
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(tyAttr.Expr)
	if diags.HasErrors() {
		t.Fatalf("var.%s type: %s", name, diags.Error())
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	out, err := convert.Convert(v, ty)
	if err != nil {
		t.Fatalf("var.%s: %v", name, err)
	}
	return out
}

// ctx is the evaluation context, with each set when each is not nil.
func (s *scope) ctx(each map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(s.vars),
		"local": cty.ObjectVal(s.locals),
	}
	if len(s.locals) == 0 {
		vars["local"] = cty.EmptyObjectVal
	}
	if each != nil {
		vars["each"] = cty.ObjectVal(each)
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

// eval evaluates expr, with each.key and each.value if key is not "".
func (s *scope) eval(t *testing.T, expr hclsyntax.Expression, key string, value cty.Value) cty.Value {
	t.Helper()
	var each map[string]cty.Value
	if key != "" {
		each = map[string]cty.Value{"key": cty.StringVal(key), "value": value}
	}
	v, diags := expr.Value(s.ctx(each))
	if diags.HasErrors() {
		t.Fatalf("evaluate %s: %s", expr.Range(), diags.Error())
	}
	return v
}

// local returns local.name, which must have been evaluable.
func (s *scope) local(t *testing.T, name string) cty.Value {
	t.Helper()
	v, ok := s.locals[name]
	if !ok {
		t.Fatalf("local.%s cannot be evaluated from variables alone", name)
	}
	return v
}

// validates reports whether every validation block of var.name accepts v.
func (m *module) validates(t *testing.T, name string, v cty.Value) bool {
	t.Helper()
	b, ok := m.variables[name]
	if !ok {
		t.Fatalf("no variable %q", name)
	}
	s := m.newScope(t, map[string]cty.Value{name: v})
	for _, vb := range blocksOf(b.Body, "validation") {
		ok := s.eval(t, attr(t, vb.Body, "condition").Expr, "", cty.NilVal)
		if ok.IsNull() || ok.False() {
			return false
		}
	}
	return true
}

// strings returns the elements of a known list, set or tuple of strings.
func stringsOf(t *testing.T, v cty.Value) []string {
	t.Helper()
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// keysOf returns the sorted keys of a known map or object.
func keysOf(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	slices.Sort(out)
	return out
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
