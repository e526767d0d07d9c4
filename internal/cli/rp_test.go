package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

func TestRP(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "rp", "create", "shop", "--scopes", "decisions,feed", "--data", dir)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	key := lastWord(out)
	if !strings.HasPrefix(key, "hgk_") {
		t.Fatalf("last word %q is not a key:\n%s", key, out)
	}
	if code, _, _ := runCLI(t, "rp", "create", "shop", "--data", dir); code == 0 {
		t.Error("second create with the same name succeeded")
	}
	if code, _, _ := runCLI(t, "rp", "create", "bad name!", "--data", dir); code == 0 {
		t.Error("bad name accepted")
	}
	if code, _, _ := runCLI(t, "rp", "create", "x", "--scopes", "root", "--data", dir); code == 0 {
		t.Error("unknown scope accepted")
	}
	if code, _, _ := runCLI(t, "rp", "create", "y", "--lifetime", "20000h", "--data", dir); code == 0 {
		t.Error("lifetime over the maximum accepted")
	}
	code, out, errOut = runCLI(t, "rp", "rotate", "shop", "--grace", "1h", "--data", dir)
	if code != 0 {
		t.Fatalf("rotate: %d %s", code, errOut)
	}
	if k2 := lastWord(out); k2 == key || !strings.HasPrefix(k2, "hgk_") {
		t.Errorf("rotate printed %q", k2)
	}
	if code, _, _ := runCLI(t, "rp", "rotate", "shop", "--grace", "200h", "--data", dir); code == 0 {
		t.Error("grace over 7 days accepted")
	}
	code, out, _ = runCLI(t, "rp", "list", "--data", dir)
	if code != 0 || strings.Count(out, "shop") != 2 || !strings.Contains(out, "decisions,feed") || strings.Contains(out, key) {
		t.Errorf("list:\n%s", out)
	}
	code, out, errOut = runCLI(t, "rp", "revoke", "shop", "--data", dir)
	if code != 0 || !strings.Contains(out, "revoked 2 key(s)") {
		t.Errorf("revoke: %d %s %s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "rp", "revoke", "nobody", "--data", dir); code == 0 {
		t.Error("revoking an unknown name succeeded")
	}
	if _, out, _ := runCLI(t, "rp", "list", "--data", dir); strings.Count(out, "revoked") != 2 {
		t.Errorf("after revoke:\n%s", out)
	}
}
