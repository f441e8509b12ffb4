package infracheck

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// terraformFiles returns every .tf and .tfvars(.example) file under infra/,
// relative to the repository root, skipping .terraform directories.
func terraformFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	root := filepath.Join(repoRoot, "infra")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "build") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".tfvars") || strings.HasSuffix(p, ".tfvars.example")) {
			rel, _ := filepath.Rel(repoRoot, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no Terraform files under infra/")
	}
	return out
}

// TestFormat fails on any Terraform file that is not in canonical form
// (what `terraform fmt` would write).
func TestFormat(t *testing.T) {
	for _, rel := range terraformFiles(t) {
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(repoRoot, rel))
			if err != nil {
				t.Fatal(err)
			}
			if _, diags := hclwrite.ParseConfig(src, rel, hcl.InitialPos); diags.HasErrors() {
				t.Fatalf("parse: %s", diags.Error())
			}
			if got := hclwrite.Format(src); !bytes.Equal(got, src) {
				t.Errorf("not canonically formatted; run `terraform fmt -recursive infra` (first differing line %d)", firstDiff(src, got))
			}
		})
	}
}

// TestEveryTerraformFileIsChecked keeps moduleDirs complete: a new module
// directory must be added there to be checked.
func TestEveryTerraformFileIsChecked(t *testing.T) {
	for _, rel := range terraformFiles(t) {
		if strings.HasSuffix(rel, ".tf") && !slices.Contains(moduleDirs, filepath.Dir(rel)) {
			t.Errorf("%s: its directory is not in moduleDirs, so the reference and policy checks skip it", rel)
		}
	}
}

func firstDiff(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
