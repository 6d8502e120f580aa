package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// lockSet serializes mutating executions whose resources meet. Each key is a
// one-slot channel so waiting respects the context.
type lockSet struct {
	mu   sync.Mutex
	keys map[string]chan struct{}
}

func (l *lockSet) ch(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string]chan struct{}{}
	}
	c, ok := l.keys[key]
	if !ok {
		c = make(chan struct{}, 1)
		l.keys[key] = c
	}
	return c
}

// acquire takes every key in sorted order (so two executions never hold
// each other's keys) and returns the release function.
func (l *lockSet) acquire(ctx context.Context, keys []string) (func(), error) {
	return l.take(ctx, keys, true)
}

// tryAcquire takes every key if all are free, without waiting; ok is
// false (and nothing held) when one is taken.
func (l *lockSet) tryAcquire(keys []string) (release func(), ok bool) {
	release, err := l.take(context.Background(), keys, false)
	return release, err == nil
}

// errKeyTaken is take's answer when it may not wait and a key is held.
var errKeyTaken = errors.New("lock key held")

// take takes the keys one by one in sorted order. Without wait a held key
// gives errKeyTaken at once; with it, take waits for the key until ctx
// ends. Either way nothing stays held on error.
func (l *lockSet) take(ctx context.Context, keys []string, wait bool) (func(), error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]chan struct{}, 0, len(keys))
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			<-held[i]
		}
	}
	for _, k := range keys {
		c := l.ch(k)
		if !wait {
			select {
			case c <- struct{}{}:
				held = append(held, c)
				continue
			default:
				release()
				return nil, errKeyTaken
			}
		}
		select {
		case c <- struct{}{}:
			held = append(held, c)
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return release, nil
}

// ResourceLocker takes resource locks shared with other runs (other
// processes, other machines): RunOptions.Locks. The engine takes its own
// in-run lock first, so a run never waits on itself through the locker.
type ResourceLocker interface {
	// Acquire takes every key, all or none, in an order shared by every
	// run (sorted), so two runs never hold each other's keys. It calls
	// waiting each time it finds a key held by another run, with a
	// description of the holder ("run R on host H"). It gives up with an
	// error saying who held what when its own timeout passes, and with
	// ctx's error when ctx ends.
	Acquire(ctx context.Context, keys []string, waiting func(key, holder string)) (release func(), err error)
}
