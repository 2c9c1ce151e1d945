//go:build !unix

package natsembed

import "os"

// lockFile takes no lock where flock is missing: one process per store is
// then the operator's to keep.
func lockFile(*os.File) (busy bool, err error) { return false, nil }
