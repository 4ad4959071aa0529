package sshtarget

// OpenCalls is how many calls are open on the target's remote process (see
// comms.Conn.OpenCalls): zero once the machine has finished every call,
// abandoned ones included.
func OpenCalls(t *Target) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc == nil {
		return 0
	}
	return t.proc.conn.OpenCalls()
}
