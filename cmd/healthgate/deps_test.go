package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// goList runs `go list` from the module root with a template.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestAgentNeverImportsServer keeps the device side free of server code:
// an agent is installed on millions of PCs and must not carry, or be able
// to reach, the verifier's keys, store or policy internals.
func TestAgentNeverImportsServer(t *testing.T) {
	const mod = "github.com/healthgate/healthgate/"
	agentSide := []string{"internal/agent", "internal/posture", "internal/devicekey", "internal/intel", "evidence"}
	serverSide := []string{"internal/server", "internal/store", "internal/issuer", "internal/verify", "internal/risk", "internal/cli",
		"internal/taxii", "internal/intel/intelstore", "internal/demo", "internal/simulate"}
	for _, pkg := range agentSide {
		for _, goos := range []string{"linux", "windows", "darwin"} {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./"+pkg)
			cmd.Dir = "../.."
			cmd.Env = append(cmd.Environ(), "GOOS="+goos)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, bad := range serverSide {
					if dep == mod+bad || strings.HasPrefix(dep, mod+bad+"/") {
						t.Errorf("%s (GOOS=%s) imports server package %s", pkg, goos, dep)
					}
				}
			}
		}
	}
}

// TestEveryPackageHasADocComment: a package without a doc comment is a
// package nobody can find their way into.
func TestEveryPackageHasADocComment(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.ImportPath}}\t{{len .GoFiles}}\t{{.Doc}}", "./...") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 || f[1] == "0" {
			continue // test-only package: its doc lives in a _test.go file
		}
		path, doc := f[0], f[2]
		if strings.TrimSpace(doc) == "" {
			t.Errorf("package %s has no doc comment", path)
		}
	}
}
