package memory_test

import (
	"testing"

	"github.com/clientreg/clientreg/store"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/clientreg/clientreg/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

// TestDurability runs the life-cycle suite without a database: a memory
// store keeps nothing once closed, so the subtests that reopen one skip.
// Two memory stores share nothing, so the sharing suite does not apply.
func TestDurability(t *testing.T) {
	storetest.RunDurability(t, storetest.Durable{
		Open: func(*testing.T, string) (store.Store, error) { return memory.New(), nil },
	})
}
