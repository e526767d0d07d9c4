//go:build !windows

package posture

// liveRoot is the directory that stands for the running system's "/"
// (collectors_windows.go: the system drive on Windows).
func liveRoot() string { return "/" }
