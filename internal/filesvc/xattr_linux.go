package filesvc

import (
	"os"

	"golang.org/x/sys/unix"
)

func getAttr(f *os.File, name string) (string, bool) {
	buf := make([]byte, 128)
	n, err := unix.Fgetxattr(int(f.Fd()), name, buf)
	if err != nil || n <= 0 {
		return "", false
	}
	return string(buf[:n]), true
}

func setAttr(f *os.File, name, value string) {
	_ = unix.Fsetxattr(int(f.Fd()), name, []byte(value), 0)
}
