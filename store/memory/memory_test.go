package memory_test

import (
	"testing"

	"github.com/clientreg/clientreg"
	"github.com/clientreg/clientreg/store/memory"
	"github.com/clientreg/clientreg/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) clientreg.Store { return memory.New() })
}
