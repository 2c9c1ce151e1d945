package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// Shared reads shared/<rel>, the team's research folder that sits beside a
// clone and that no package provides, found by walking up from the package
// directory. Without it the test is skipped, saying what it did not compare,
// or fails under CI=true, so that CI never skips the comparison.
func Shared(t testing.TB, rel string) []byte {
	t.Helper()
	rel = filepath.Join("shared", rel)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err == nil {
			return data
		}
		if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no %s in %s or any folder above it; under CI=true the comparison must run: place shared/ beside the repository", rel, wd)
	}
	t.Skipf("no %s in %s or any folder above it; not compared with it", rel, wd)
	return nil
}
