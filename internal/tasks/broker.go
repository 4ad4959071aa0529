package tasks

import "sync"

// Broker tells watchers of a task (live log streams) that it changed:
// new log lines or a new state. A signal carries no data; watchers read
// the store from where they were, so a missed signal loses nothing.
type Broker struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// NewBroker returns an empty broker.
func NewBroker() *Broker { return &Broker{subs: map[string]map[chan struct{}]struct{}{}} }

// Subscribe returns a channel that receives a signal after each change of
// the task, and a function to stop.
func (b *Broker) Subscribe(taskID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs[taskID] == nil {
		b.subs[taskID] = map[chan struct{}]struct{}{}
	}
	b.subs[taskID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[taskID], ch)
		if len(b.subs[taskID]) == 0 {
			delete(b.subs, taskID)
		}
		b.mu.Unlock()
	}
}

// Publish signals every watcher of the task without blocking.
func (b *Broker) Publish(taskID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[taskID] {
		select {
		case ch <- struct{}{}:
		default: // a signal is already waiting
		}
	}
}
