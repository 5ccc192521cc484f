//go:build !race

package cli

// raceEnabled reports whether the tests were built with -race.
const raceEnabled = false
