package sshtarget

import (
	"debug/elf"
	"fmt"
	"strings"
)

// elfPlatform gives Go's names for the system and architecture an ELF
// binary is built for.
func elfPlatform(f *elf.File) (goos, goarch string) {
	switch f.OSABI {
	case elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX:
		goos = "linux"
	case elf.ELFOSABI_FREEBSD:
		goos = "freebsd"
	default:
		goos = strings.ToLower(strings.TrimPrefix(f.OSABI.String(), "ELFOSABI_"))
	}
	switch f.Machine {
	case elf.EM_X86_64:
		goarch = "amd64"
	case elf.EM_AARCH64:
		goarch = "arm64"
	case elf.EM_386:
		goarch = "386"
	case elf.EM_ARM:
		goarch = "arm"
	case elf.EM_RISCV:
		goarch = "riscv64"
	case elf.EM_PPC64:
		goarch = "ppc64le"
	case elf.EM_S390:
		goarch = "s390x"
	default:
		goarch = strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
	}
	return goos, goarch
}

// unameArch maps `uname -m` to Go's architecture names.
func unameArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "armv6l", "armv7l", "armv8l":
		return "arm"
	}
	return machine
}

// checkPlatform refuses a machine our binary cannot run on, before sending
// tens of megabytes that would only fail there.
func checkPlatform(uname string, b localBinary) error {
	// The last line: a chatty login script may print before it.
	lines := strings.Split(strings.TrimSpace(uname), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) != 2 {
		return fmt.Errorf("cannot tell which system the SSH target runs: uname -sm printed %q", uname)
	}
	system, machine := fields[0], fields[1]
	if b.goos == "" {
		return fmt.Errorf("the SSH target runs %s %s but this server's pulpo binary %s is not a Linux executable: it needs a linux build of pulpo to send", system, machine, b.path)
	}
	if strings.ToLower(system) == b.goos && unameArch(machine) == b.goarch {
		return nil
	}
	return fmt.Errorf("the SSH target runs %s %s but this server can only send a %s/%s pulpo binary", system, machine, b.goos, b.goarch)
}
