//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bench

// processCPUSeconds is 0 where the process's CPU time is not available.
func processCPUSeconds() float64 { return 0 }
