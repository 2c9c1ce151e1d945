package natsembed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// lockWaitMax is how long Start waits for another server's lock on the
// store: one shut down in this process releases it a moment after.
const lockWaitMax = 2 * time.Second

// ErrStoreInUse is a store another server holds.
var ErrStoreInUse = errors.New("the NATS store is in use by another process")

// lockStore takes the store directory for this server, so that no second
// server writes the same files: two would each take the other's writes for
// corruption and drop them, acknowledged events included. The lock ends
// with the file's close, or the process.
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("nats store %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "rafiki.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nats store %s: %w", dir, err)
	}
	deadline := time.Now().Add(lockWaitMax)
	for {
		busy, err := lockFile(f)
		switch {
		case err != nil:
			f.Close()
			return nil, fmt.Errorf("lock nats store %s: %w", dir, err)
		case !busy:
			return f, nil
		case time.Now().After(deadline):
			f.Close()
			return nil, fmt.Errorf("%w: %s (another rafiki dev on the same DATA_DIR?)", ErrStoreInUse, dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
