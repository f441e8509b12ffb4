package infracheck

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// builtinRoots are the names Terraform itself defines in expressions.
var builtinRoots = map[string]bool{"each": true, "count": true, "path": true, "self": true, "terraform": true}

// TestReferences fails on a reference to a variable, local, resource, data
// source or module the module does not declare, on a module call that
// passes an argument its source does not declare or misses a required one,
// and on a reference to an output the called module does not have.
func TestReferences(t *testing.T) {
	for _, dir := range moduleDirs {
		t.Run(dir, func(t *testing.T) {
			m := loadModule(t, dir)
			iterators := map[string]bool{}
			for _, b := range m.blocks {
				collectIterators(b.Body, iterators)
			}
			check := func(expr hclsyntax.Expression) {
				for _, tr := range hclsyntax.Variables(expr) {
					if msg := m.undeclared(tr, iterators); msg != "" {
						t.Errorf("%s: %s", tr.SourceRange(), msg)
					}
				}
			}
			for _, b := range m.blocks {
				if b.Type == "variable" {
					// Its type is a type expression, not references;
					// its default and validations are checked.
					for name, a := range b.Body.Attributes {
						if name != "type" {
							check(a.Expr)
						}
					}
					for _, vb := range b.Body.Blocks {
						walkExprs(vb.Body, check)
					}
					continue
				}
				walkExprs(b.Body, check)
			}
			for name, call := range m.modules {
				m.checkModuleCall(t, name, call)
			}
		})
	}
}

// collectIterators adds the iterator names of every dynamic block in body.
func collectIterators(body *hclsyntax.Body, into map[string]bool) {
	for _, b := range body.Blocks {
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			into[b.Labels[0]] = true
			if it, ok := b.Body.Attributes["iterator"]; ok {
				into[hcl.ExprAsKeyword(it.Expr)] = true
			}
		}
		collectIterators(b.Body, into)
	}
}

// walkExprs calls f on every attribute expression of body, nested blocks
// included (locals are attributes of their block, so they are covered).
func walkExprs(body *hclsyntax.Body, f func(hclsyntax.Expression)) {
	for _, a := range body.Attributes {
		f(a.Expr)
	}
	for _, b := range body.Blocks {
		walkExprs(b.Body, f)
	}
}

// undeclared says what is wrong with reference tr, or "".
func (m *module) undeclared(tr hcl.Traversal, iterators map[string]bool) string {
	root := tr.RootName()
	attr := func(i int) string {
		if len(tr) <= i {
			return ""
		}
		if a, ok := tr[i].(hcl.TraverseAttr); ok {
			return a.Name
		}
		return ""
	}
	switch {
	case builtinRoots[root] || iterators[root]:
		return ""
	case root == "var":
		if _, ok := m.variables[attr(1)]; !ok {
			return "undeclared variable var." + attr(1)
		}
	case root == "local":
		if _, ok := m.locals[attr(1)]; !ok {
			return "undeclared local." + attr(1)
		}
	case root == "module":
		if _, ok := m.modules[attr(1)]; !ok {
			return "undeclared module." + attr(1)
		}
	case root == "data":
		if _, ok := m.data[attr(1)+"."+attr(2)]; !ok {
			return "undeclared data." + attr(1) + "." + attr(2)
		}
	default:
		if _, ok := m.resources[root+"."+attr(1)]; !ok {
			return "undeclared resource " + root + "." + attr(1)
		}
	}
	return ""
}

// metaArguments of a module block, which are not the module's variables.
var metaArguments = map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}

func (m *module) checkModuleCall(t *testing.T, name string, call *hclsyntax.Block) {
	t.Helper()
	src, diags := attr(t, call.Body, "source").Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("module %s: source: %s", name, diags.Error())
	}
	callee := loadModule(t, cleanJoin(m.dir, src.AsString()))
	for arg, a := range call.Body.Attributes {
		if _, ok := callee.variables[arg]; !ok && !metaArguments[arg] {
			t.Errorf("%s: module %s has no variable %q", a.SrcRange, name, arg)
		}
	}
	for v, b := range callee.variables {
		if _, hasDefault := b.Body.Attributes["default"]; !hasDefault {
			if _, passed := call.Body.Attributes[v]; !passed {
				t.Errorf("%s: module %s: required variable %q not passed", call.DefRange(), name, v)
			}
		}
	}
	// Every module.<name>.<output> used here must exist in the callee.
	for _, b := range m.blocks {
		walkExprs(b.Body, func(expr hclsyntax.Expression) {
			for _, tr := range hclsyntax.Variables(expr) {
				if tr.RootName() != "module" || len(tr) < 3 {
					continue
				}
				if a, ok := tr[1].(hcl.TraverseAttr); !ok || a.Name != name {
					continue
				}
				out, ok := tr[2].(hcl.TraverseAttr)
				if !ok {
					continue
				}
				if _, declared := callee.outputs[out.Name]; !declared {
					t.Errorf("%s: module %s has no output %q", tr.SourceRange(), name, out.Name)
				}
			}
		})
	}
}

// cleanJoin joins a module source path to the directory of its caller.
func cleanJoin(dir, source string) string { return filepath.Clean(filepath.Join(dir, source)) }
