package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// plan is the part of `terraform show -json <planfile>` the plan checks
// read: root variable values, every resource instance as planned (managed
// resources and data sources, read at plan time or deferred to apply), and
// each resource's references from the configuration, which is how
// instances whose links are still unknown (a new queue's ARN) are tied to
// each other.
type plan struct {
	vars      map[string]any
	instances []*instance
	refs      map[string]map[string][]string        // "module.sluice.aws_sqs_queue.main" → attribute → references
	exprs     map[string]map[string]json.RawMessage // the same, undecoded (nested blocks are lists of objects)
	outputs   map[string]outputChange               // root outputs
}

// outputChange is a root output as planned: its known parts, and true
// where a part is known only after apply.
type outputChange struct {
	After        any `json:"after"`
	AfterUnknown any `json:"after_unknown"`
}

// instance is one resource instance of a plan.
type instance struct {
	Address string // module.sluice.aws_sqs_queue.main["fetch"]
	Module  string // module.sluice ("" at the root)
	Mode    string // managed or data
	Type    string
	Name    string
	Key     string         // the for_each key (or count index); "" for a single instance
	Values  map[string]any // planned values; unknown ones are null
	Unknown map[string]any // after_unknown: true where a value is known only after apply
}

func (i *instance) resource() string {
	prefix := ""
	if i.Module != "" {
		prefix = i.Module + "."
	}
	if i.Mode == "data" {
		prefix += "data."
	}
	return prefix + i.Type + "." + i.Name
}

// unknown reports whether attribute name of i is known only after apply.
func (i *instance) unknown(name string) bool {
	b, _ := i.Unknown[name].(bool)
	return b
}

type planFile struct {
	Variables       map[string]struct{ Value any } `json:"variables"`
	ResourceChanges []struct {
		Address       string `json:"address"`
		ModuleAddress string `json:"module_address"`
		Mode          string `json:"mode"`
		Type          string `json:"type"`
		Name          string `json:"name"`
		Index         any    `json:"index"`
		Change        struct {
			Actions      []string       `json:"actions"`
			After        map[string]any `json:"after"`
			AfterUnknown map[string]any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
	PriorState struct {
		Values struct {
			RootModule stateModule `json:"root_module"`
		} `json:"values"`
	} `json:"prior_state"`
	OutputChanges map[string]outputChange `json:"output_changes"`
	Configuration struct {
		RootModule configModule `json:"root_module"`
	} `json:"configuration"`
}

type stateModule struct {
	Address   string `json:"address"`
	Resources []struct {
		Address string         `json:"address"`
		Mode    string         `json:"mode"`
		Type    string         `json:"type"`
		Name    string         `json:"name"`
		Index   any            `json:"index"`
		Values  map[string]any `json:"values"`
	} `json:"resources"`
	ChildModules []stateModule `json:"child_modules"`
}

type configModule struct {
	Resources []struct {
		Address     string                     `json:"address"`
		Expressions map[string]json.RawMessage `json:"expressions"`
	} `json:"resources"`
	ModuleCalls map[string]struct {
		Module configModule `json:"module"`
	} `json:"module_calls"`
}

// parsePlan decodes the JSON of `terraform show -json` of a plan.
func parsePlan(data []byte) (*plan, error) {
	var f planFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if len(f.ResourceChanges) == 0 {
		return nil, fmt.Errorf("no resource_changes: not the JSON of a plan")
	}
	p := &plan{vars: map[string]any{}, refs: map[string]map[string][]string{}, exprs: map[string]map[string]json.RawMessage{}, outputs: f.OutputChanges}
	for name, v := range f.Variables {
		p.vars[name] = v.Value
	}
	seen := map[string]bool{}
	for _, rc := range f.ResourceChanges {
		if len(rc.Change.Actions) == 1 && rc.Change.Actions[0] == "delete" {
			continue
		}
		seen[rc.Address] = true
		p.instances = append(p.instances, &instance{
			Address: rc.Address, Module: rc.ModuleAddress, Mode: rc.Mode, Type: rc.Type, Name: rc.Name,
			Key: indexKey(rc.Index), Values: rc.Change.After, Unknown: rc.Change.AfterUnknown,
		})
	}
	// Data sources read while planning appear in the prior state only.
	var state func(m stateModule)
	state = func(m stateModule) {
		for _, r := range m.Resources {
			if r.Mode == "data" && !seen[r.Address] {
				p.instances = append(p.instances, &instance{
					Address: r.Address, Module: m.Address, Mode: r.Mode, Type: r.Type, Name: r.Name,
					Key: indexKey(r.Index), Values: r.Values, Unknown: map[string]any{},
				})
			}
		}
		for _, c := range m.ChildModules {
			state(c)
		}
	}
	state(f.PriorState.Values.RootModule)
	var config func(prefix string, m configModule)
	config = func(prefix string, m configModule) {
		for _, r := range m.Resources {
			attrs := map[string][]string{}
			for name, raw := range r.Expressions {
				var e struct{ References []string }
				if json.Unmarshal(raw, &e) == nil {
					attrs[name] = e.References
				}
			}
			p.refs[prefix+r.Address] = attrs
			p.exprs[prefix+r.Address] = r.Expressions
		}
		for name, call := range m.ModuleCalls {
			config(prefix+"module."+name+".", call.Module)
		}
	}
	config("", f.Configuration.RootModule)
	return p, nil
}

func indexKey(index any) string {
	switch v := index.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// all returns the planned instances of resource type typ (mode managed,
// or data for "data.<type>"), in address order.
func (p *plan) all(typ string) []*instance {
	mode := "managed"
	if t, ok := strings.CutPrefix(typ, "data."); ok {
		mode, typ = "data", t
	}
	var out []*instance
	for _, i := range p.instances {
		if i.Mode == mode && i.Type == typ {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Address < out[b].Address })
	return out
}

// find returns the instance of resource <module>.<typ>.<name> with key, or nil.
func (p *plan) find(module, typ, name, key string) *instance {
	for _, i := range p.instances {
		if i.Mode == "managed" && i.Module == module && i.Type == typ && i.Name == name && i.Key == key {
			return i
		}
	}
	return nil
}

// linked follows attribute attr of from to the instance of type typ it
// refers to, in the same module. Terraform's JSON names a reference with a
// computed index by its resource alone ("aws_sqs_queue.dlq", "each.key"),
// so the instance is the one with from's key when the references include
// each.key, or with key value when they include each.value (via says
// which); a literal index (aws_sqs_queue.main["fetch"]) is followed as it
// is. It returns nil and what is wrong when there is no such reference or
// instance.
func (p *plan) linked(from *instance, attr, typ, via, value string) (*instance, string) {
	refs := p.refs[from.resource()][attr]
	for _, ref := range refs {
		rest, ok := strings.CutPrefix(ref, typ+".")
		if !ok {
			continue
		}
		name, index, indexed := strings.Cut(rest, "[")
		name, _, _ = strings.Cut(name, ".")
		var key string
		switch {
		case indexed:
			index, _, _ = strings.Cut(index, "]")
			k, err := unquoteKey(index)
			if err != nil {
				continue
			}
			key = k
		case !slices.Contains(refs, via):
			return nil, fmt.Sprintf("%s.%s refers to %s without %s: cannot tell which instance", from.Address, attr, ref, via)
		case via == "each.key":
			key = from.Key
		default:
			key = value
		}
		if to := p.find(from.Module, typ, name, key); to != nil {
			return to, ""
		}
		return nil, fmt.Sprintf("%s.%s refers to %s.%s, which has no instance %q in the plan", from.Address, attr, typ, name, key)
	}
	return nil, fmt.Sprintf("%s.%s refers to no %s (references %v)", from.Address, attr, typ, refs)
}

// blockRefs returns the references of attribute attr of the first nested
// block of type block in the configuration of resource (an address as in
// refs).
func (p *plan) blockRefs(resource, block, attr string) []string {
	var blocks []map[string]struct{ References []string }
	if json.Unmarshal(p.exprs[resource][block], &blocks) != nil || len(blocks) == 0 {
		return nil
	}
	return blocks[0][attr].References
}

func unquoteKey(index string) (string, error) {
	var s string
	err := json.Unmarshal([]byte(index), &s)
	return s, err
}

// loadPlanFile reads and parses a plan JSON file or fails the test.
func loadPlanFile(t *testing.T, path string) *plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePlan(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}
