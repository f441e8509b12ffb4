package infracheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// modulePrefix is the import path prefix of the repository's modules; the
// rest of an import path under it is a directory of the repository.
const modulePrefix = "github.com/sluice-data/sluice/"

// serviceReads returns the environment variables the Lambda entry point of
// services/<service> reads: the `env` tags of its main package's `config`
// struct and, as caarlos0/env does, of every struct it embeds or holds as
// a field, followed into the repository's own packages (service.Config,
// consumer.Config, service.RunsEnv, ...).
func serviceReads(t *testing.T, service string) map[string]envSetting {
	t.Helper()
	r := &readsResolver{t: t, fset: token.NewFileSet(), pkgs: map[string]*parsedPkg{}, out: map[string]envSetting{}}
	pkg := r.pkg("services/" + service)
	spec, ok := pkg.types["config"]
	if !ok {
		t.Fatalf("services/%s: no `type config struct` in its main package; update serviceReads to what main.go parses the environment into", service)
	}
	r.walk(pkg, pkg.imports[spec], spec.Type, spec.Name.Name)
	return r.out
}

type parsedPkg struct {
	dir     string
	types   map[string]*ast.TypeSpec
	imports map[*ast.TypeSpec]map[string]string // per declaring file: local name → import path
}

type readsResolver struct {
	t    *testing.T
	fset *token.FileSet
	pkgs map[string]*parsedPkg
	out  map[string]envSetting
}

// pkg parses the non-test files of dir (relative to the repository root).
func (r *readsResolver) pkg(dir string) *parsedPkg {
	if p, ok := r.pkgs[dir]; ok {
		return p
	}
	p := &parsedPkg{dir: dir, types: map[string]*ast.TypeSpec{}, imports: map[*ast.TypeSpec]map[string]string{}}
	r.pkgs[dir] = p
	paths, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
	if err != nil || len(paths) == 0 {
		r.t.Fatalf("%s: no Go files (%v)", dir, err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(r.fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			r.t.Fatal(err)
		}
		imports := map[string]string{}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			name := filepath.Base(ip)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			imports[name] = ip
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				p.types[ts.Name.Name] = ts
				p.imports[ts] = imports
			}
		}
	}
	return p
}

// walk adds the env tags of the struct type expr (declared in pkg, in a
// file with imports) and of the repository's struct types it reaches.
func (r *readsResolver) walk(pkg *parsedPkg, imports map[string]string, expr ast.Expr, via string) {
	st, ok := expr.(*ast.StructType)
	if !ok {
		return
	}
	for _, field := range st.Fields.List {
		if field.Tag != nil {
			tag, _ := strconv.Unquote(field.Tag.Value)
			if env, ok := reflect.StructTag(tag).Lookup("env"); ok && env != "" {
				name, opts, _ := strings.Cut(env, ",")
				def, _ := reflect.StructTag(tag).Lookup("envDefault")
				r.out[name] = envSetting{
					Name:     name,
					Required: strings.Contains(","+opts+",", ",required,"),
					Default:  def,
					At:       r.fset.Position(field.Pos()).String() + " (" + via + ")",
				}
				continue
			}
		}
		r.follow(pkg, imports, field.Type, via)
	}
}

// follow resolves a field's type to a struct type of the repository, if it
// is one, and walks it.
func (r *readsResolver) follow(pkg *parsedPkg, imports map[string]string, typ ast.Expr, via string) {
	switch x := typ.(type) {
	case *ast.StarExpr:
		r.follow(pkg, imports, x.X, via)
	case *ast.StructType:
		r.walk(pkg, imports, x, via)
	case *ast.Ident:
		if ts, ok := pkg.types[x.Name]; ok {
			r.walk(pkg, pkg.imports[ts], ts.Type, via+" > "+x.Name)
		}
	case *ast.SelectorExpr:
		local, ok := x.X.(*ast.Ident)
		if !ok {
			return
		}
		dir, ok := strings.CutPrefix(imports[local.Name], modulePrefix)
		if !ok {
			return // a type of another module (time.Duration, ...): no tags of ours
		}
		other := r.pkg(dir)
		if ts, ok := other.types[x.Sel.Name]; ok {
			r.walk(other, other.imports[ts], ts.Type, via+" > "+local.Name+"."+x.Sel.Name)
		}
	}
}

// TestServiceReads pins what serviceReads finds for one service, so that
// a resolver that stops following embedded or nested configs fails here
// rather than making the plan checks vacuous.
func TestServiceReads(t *testing.T) {
	reads := serviceReads(t, "writer")
	for _, tc := range []struct {
		name     string
		required bool
		from     string
	}{
		{"SLUICE_BUCKET", true, "services/writer/main.go"},            // the main package's own field
		{"SLUICE_S3_PREFIX", false, "services/writer/main.go"},        // optional
		{"SLUICE_PIPELINE_FILE", true, "shared/service/service.go"},   // embedded service.Config
		{"SLUICE_DLQ_URL", false, "shared/consumer/config.go"},        // embedded twice over
		{"SLUICE_RUNS_TABLE", true, "shared/service/runsenv.go"},      // a named field of another package's type
		{"SLUICE_RUN_RETENTION", false, "shared/service/runsenv.go"},  // ditto, optional
		{"SLUICE_MAX_RECEIVE", false, "shared/consumer/config.go"},    // consumer.Config
		{"SLUICE_TRANSPORT", false, "shared/service/service.go"},      // service.Config
		{"SLUICE_LOG_LEVEL", false, "shared/service/service.go"},      // with an envDefault
		{"SLUICE_WORKERS", false, "shared/consumer/config.go"},        // consumer.Config
		{"SLUICE_BATCHES_QUEUE_URL", true, "services/writer/main.go"}, // its queue
		{"SLUICE_LEASE", false, "shared/service/runsenv.go"},          // RunsEnv
		{"SLUICE_HEARTBEAT", false, "shared/service/runsenv.go"},      // RunsEnv
		{"SLUICE_OWNER", false, "shared/service/runsenv.go"},          // RunsEnv
		{"SLUICE_SHUTDOWN_GRACE", false, "shared/consumer/config.go"}, // consumer.Config
		{"SLUICE_VISIBILITY", false, "shared/consumer/config.go"},     // consumer.Config
		{"SLUICE_POLL_WAIT", false, "shared/consumer/config.go"},      // consumer.Config
		{"SLUICE_RETRY_BASE", false, "shared/consumer/config.go"},     // consumer.Config
		{"SLUICE_RETRY_MAX", false, "shared/consumer/config.go"},      // consumer.Config
	} {
		got, ok := reads[tc.name]
		if !ok {
			t.Errorf("the writer reads %s (%s), serviceReads does not find it", tc.name, tc.from)
			continue
		}
		if got.Required != tc.required || !strings.Contains(got.At, tc.from) {
			t.Errorf("%s: got required=%v at %s, want required=%v in %s", tc.name, got.Required, got.At, tc.required, tc.from)
		}
	}
	for _, name := range []string{"SLUICE_FETCH_QUEUE_URL", "SLUICE_MAX_MESSAGE_BYTES", "SLUICE_TRIGGERS_QUEUE_URL"} {
		if _, ok := reads[name]; ok {
			t.Errorf("serviceReads says the writer reads %s, which only other services read", name)
		}
	}
	if fetcher := serviceReads(t, "fetcher"); fetcher["SLUICE_MAX_MESSAGE_BYTES"].Name == "" || fetcher["SLUICE_BUCKET"].Name != "" {
		t.Errorf("fetcher reads: %v", keysOfSettings(fetcher))
	}
}

func keysOfSettings(m map[string]envSetting) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
