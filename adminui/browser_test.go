package adminui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestInBrowser runs scripts/browser/adminui.mjs: headless Chromium
// (Debian's chromium, driven by playwright-core from package.json) signs
// in, creates an asset, a wallet address and a peer, moves liquidity, pays
// a second wallet address's incoming payment from the first and funds the
// payment until it completes, sees the webhook event the liquidity caused
// and the asset's history, and checks the
// markup (with axe-core's WCAG rules), the keyboard and a phone's width.
// Screenshots go to artifacts/adminui/ at the repository's
// root. Outside CI it is skipped, saying why, when Chromium or the npm
// packages are missing; under CI=true it fails instead.
func TestInBrowser(t *testing.T) {
	root := repositoryRoot(t)
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	missing := func(what string, err error) {
		msg := what + " (scripts/test-deps.sh installs it): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipping the browser test: " + msg)
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("Chromium is not installed at "+chromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed", err)
	}
	for _, pkg := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", pkg)); err != nil {
			missing(pkg+" is not installed", err)
		}
	}

	s := startSystem(t)
	artifacts := filepath.Join(root, "artifacts", "adminui")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "scripts", "browser", "adminui.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "UI_URL="+s.uiURL, "TENANT_ID="+s.cfg.OperatorTenantID, "API_SECRET="+s.cfg.AdminAPISecret,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the browser run failed (screenshots in %s): %v", artifacts, err)
	}
	shots, err := filepath.Glob(filepath.Join(artifacts, "*.png"))
	if err != nil || len(shots) < 30 {
		t.Fatalf("screenshots: %d, %v", len(shots), err)
	}
}

// repositoryRoot is the module's root, two levels up from this file.
func repositoryRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(filepath.Dir(file))
}
