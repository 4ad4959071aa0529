//go:build !linux

package sshdtest

import "syscall"

// diesWithParent has no equivalent here; Cleanup still stops sshd.
func diesWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
