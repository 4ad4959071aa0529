//go:build unix

package filesvc

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an advisory lock on the folder itself (flock works on a
// folder's descriptor), shared or exclusive; it never fails, it only
// locks less.
func lockDir(dir string, exclusive bool) func() {
	d, err := os.Open(dir)
	if err != nil {
		return func() {}
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(d.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return func() {}
	}
	return func() {
		unix.Flock(int(d.Fd()), unix.LOCK_UN)
		d.Close()
	}
}
