// Package architecture holds no code: its test keeps the dependency
// directions docs/architecture.md describes, so a forbidden import fails
// the build of the test suite instead of creeping in.
package architecture
