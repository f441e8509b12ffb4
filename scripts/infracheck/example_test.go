package infracheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestExamplePassesModuleChecks evaluates the example root the way a plan
// would before touching AWS: its variables (the defaults, or
// terraform.tfvars.example, with and without a data prefix) go through the
// module call into the module's variables, and every validation of those
// and every precondition that depends on variables alone must hold. This
// is what `terraform plan` would reject first; the provider's own checks
// are not covered.
func TestExamplePassesModuleChecks(t *testing.T) {
	example := loadModule(t, "infra/envs/example")
	mod := sluiceModule(t)
	tfvars := readTFVars(t, "infra/envs/example/terraform.tfvars.example")
	withPrefix := map[string]cty.Value{"data_key_prefix": cty.StringVal("raw/")}
	for name, v := range tfvars {
		withPrefix[name] = v
	}
	cases := []struct {
		name string
		set  map[string]cty.Value
	}{
		{"defaults", nil},
		{"terraform.tfvars.example", tfvars},
		{"terraform.tfvars.example with data_key_prefix", withPrefix},
	}
	call := example.modules["sluice"]
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := example.newScope(t, tc.set)
			ctx := es.ctx(nil)
			ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal("infra/envs/example"), "module": cty.StringVal("infra/envs/example")})
			args := map[string]cty.Value{}
			for name, a := range call.Body.Attributes {
				if metaArguments[name] {
					continue
				}
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					t.Fatalf("module argument %s: %s", name, diags.Error())
				}
				args[name] = v
			}
			ms := mod.newScope(t, args)
			for name := range args {
				for _, vb := range blocksOf(mod.variables[name].Body, "validation") {
					if ok := ms.eval(t, attr(t, vb.Body, "condition").Expr, "", cty.NilVal); !ok.True() {
						msg, _ := attr(t, vb.Body, "error_message").Expr.Value(nil)
						t.Errorf("var.%s = %s fails validation: %s", name, args[name].GoString(), msg.AsString())
					}
				}
			}
			mod.checkPreconditions(t, ms)
		})
	}
}

// checkPreconditions evaluates, for every instance key, each lifecycle
// precondition of a for_each resource whose condition needs only
// variables and locals.
func (m *module) checkPreconditions(t *testing.T, s *scope) {
	t.Helper()
	checked := 0
	for key, b := range m.resources {
		forEach, ok := b.Body.Attributes["for_each"]
		for _, lc := range blocksOf(b.Body, "lifecycle") {
			for _, p := range blocksOf(lc.Body, "precondition") {
				cond := attr(t, p.Body, "condition").Expr
				instances := map[string]cty.Value{"": cty.NilVal}
				if ok {
					v, diags := forEach.Expr.Value(s.ctx(nil))
					if diags.HasErrors() {
						continue // keyed by something only a plan knows
					}
					instances = map[string]cty.Value{}
					for it := v.ElementIterator(); it.Next(); {
						k, val := it.Element()
						instances[k.AsString()] = val
					}
				}
				for k, val := range instances {
					var each map[string]cty.Value
					if k != "" {
						each = map[string]cty.Value{"key": cty.StringVal(k), "value": val}
					}
					v, diags := cond.Value(s.ctx(each))
					if diags.HasErrors() {
						continue // needs a resource attribute
					}
					checked++
					if !v.True() {
						t.Errorf("%s[%q]: precondition at %s fails", key, k, cond.Range())
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no precondition could be evaluated; the check is not looking where the preconditions are")
	}
}

// readTFVars parses a .tfvars file of literal values.
func readTFVars(t *testing.T, rel string) map[string]cty.Value {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", rel, diags.Error())
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatalf("%s: %s", rel, diags.Error())
	}
	out := map[string]cty.Value{}
	for name, a := range attrs {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %s: %s", rel, name, diags.Error())
		}
		out[name] = v
	}
	return out
}
