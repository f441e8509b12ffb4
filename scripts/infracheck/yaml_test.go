package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"go.yaml.in/yaml/v3"
)

// fileFunc is Terraform's file: the text of a file, a relative path taken
// from the repository root (where the tests evaluate paths from).
var fileFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p := args[0].AsString()
		if !filepath.IsAbs(p) {
			p = filepath.Join(repoRoot, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(b)), nil
	},
})

// yamldecodeFunc is Terraform's yamldecode for the documents the module
// reads: mappings become objects, sequences tuples, timestamps their
// RFC 3339 text (as Terraform's does).
var yamldecodeFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "src", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		b, err := yamlJSON(args[0].AsString())
		if err != nil {
			return cty.NilType, err
		}
		return ctyjson.ImpliedType(b)
	},
	Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
		b, err := yamlJSON(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return ctyjson.Unmarshal(b, ty)
	},
})

func yamlJSON(src string) ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, fmt.Errorf("yamldecode: %w", err)
	}
	return json.Marshal(jsonable(doc))
}

func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return v
}
