package sshdtest

import "syscall"

// diesWithParent makes sshd die with the test binary, whatever happens to it.
func diesWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
