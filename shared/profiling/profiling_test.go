package profiling

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Start with a directory leaves a CPU and an allocation profile there,
// each a pprof file (gzipped protobuf); with none it writes nothing.
func TestStartWritesBothProfiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sub   string // "": profiling off
		files []string
	}{
		{name: "off", sub: "", files: nil},
		{name: "on", sub: "profiles", files: []string{".allocs.pprof", ".cpu.pprof"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := ""
			if tc.sub != "" {
				dir = filepath.Join(root, tc.sub)
			}
			stop, err := Start(dir, "svc")
			if err != nil {
				t.Fatal(err)
			}
			burn := make([][]byte, 0, 64)
			for i := range 64 {
				burn = append(burn, bytes.Repeat([]byte{byte(i)}, 64<<10))
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			got, _ := filepath.Glob(filepath.Join(root, "*", "svc-*.pprof"))
			if len(got) != len(tc.files) {
				t.Fatalf("profiles %v, want %d: %v", got, len(tc.files), tc.files)
			}
			for i, path := range got {
				if filepath.Ext(path) != ".pprof" || !bytes.HasSuffix([]byte(path), []byte(tc.files[i])) {
					t.Errorf("profile %s, want one ending %s", path, tc.files[i])
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
					t.Errorf("%s: %d bytes, not a gzipped pprof profile", path, len(b))
				}
			}
			_ = burn
		})
	}
}
