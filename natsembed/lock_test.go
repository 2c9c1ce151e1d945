package natsembed

import (
	"errors"
	"testing"
)

// A second server on a store one holds is refused (two would write the
// same files, each dropping the other's writes); once the first is shut
// down, the store is free again.
func TestOneServerPerStore(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(Options{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Start(Options{Port: -1, StoreDir: dir})
	if !errors.Is(err, ErrStoreInUse) {
		if second != nil {
			second.Shutdown()
		}
		first.Shutdown()
		t.Fatalf("a second server on the store: %v, want ErrStoreInUse", err)
	}
	first.Shutdown()
	first.WaitForShutdown()
	again, err := Start(Options{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("the store after the first server stopped: %v", err)
	}
	again.Shutdown()
}
