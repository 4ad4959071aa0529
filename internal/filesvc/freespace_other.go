//go:build !unix

package filesvc

import "errors"

// freeSpace is unknown here; uploads then go ahead and fail on a full disk.
func freeSpace(dir string) (uint64, error) { return 0, errors.New("free space unknown on this system") }
