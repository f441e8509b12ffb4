package infracheck

import "path/filepath"

// cleanJoin joins a module source path to the directory of its caller.
func cleanJoin(dir, source string) string { return filepath.Clean(filepath.Join(dir, source)) }
