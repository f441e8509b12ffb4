package infracheck

import (
	"slices"
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

// functions are the Terraform functions the evaluated expressions use.
var functions = map[string]function.Function{
	"alltrue":    alltrueFunc,
	"can":        tryfunc.CanFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"distinct":   stdlib.DistinctFunc,
	"file":       fileFunc,
	"floor":      stdlib.FloorFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"min":        stdlib.MinFunc,
	"regex":      stdlib.RegexFunc,
	"replace":    stdlib.ReplaceFunc,
	"sort":       stdlib.SortFunc,
	"substr":     stdlib.SubstrFunc,
	"try":        tryfunc.TryFunc,
	"yamldecode": yamldecodeFunc,
	"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
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
