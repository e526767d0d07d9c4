// Package posture collects a device's posture facts: operating system and
// patch age, firewall, antivirus, hosts file, DNS resolvers, proxy settings,
// added root certificates and running programs.
//
// Each fact group has one [Collector]; the collectors are listed in one
// registry (registry.go) and [Collect] runs them concurrently, each under
// its own timeout. A collector that fails leaves its group nil and records
// why in Facts.Unknown, so a report always goes out.
//
// Collectors read the device through an [Env] whose Root stands for "/":
// tests and `healthgate scan --root DIR` point it at a file tree of a
// healthy or an infected device (see testdata/), and absolute symbolic links
// inside the tree resolve under Root. Linux collectors only read files.
//
// Per-OS code lives in *_linux.go, *_windows.go and *_darwin.go files
// (Windows: WMI, registry, process and certificate-store calls; macOS:
// files and a few system tools through an injectable runner); other systems
// get a stub that returns an error wrapping [errors.ErrUnsupported]. The
// decoding of Windows and macOS answers is OS-independent and tested on
// recorded answers. The parsers of device files (hosts, resolv.conf, proxy
// variables, os-release, package logs, firewall rules, certificates) are
// OS-independent so they are tested and fuzzed everywhere.
package posture
