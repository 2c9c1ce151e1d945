package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/testkit"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// checkAdminUI signs in to the admin UI that `rafiki dev` serves, and to
// one `rafiki adminui` serves alone, given the dev's admin API port and
// NATS: each shows the asset's page and its history.
func checkAdminUI(t *testing.T, bin string, env []string, ports map[string]int, operatorID, secret, assetID string) {
	t.Helper()
	signIn(t, fmt.Sprintf("http://127.0.0.1:%d", ports["ADMIN_UI_PORT"]), operatorID, secret, assetID)

	uiPort := testkit.FreePort(t)
	alone := exec.Command(bin, "adminui")
	alone.Env = append(env, fmt.Sprintf("ADMIN_UI_PORT=%d", uiPort),
		fmt.Sprintf("NATS_URL=nats://127.0.0.1:%d", ports["EMBEDDED_NATS_PORT"]))
	var out bytes.Buffer
	alone.Stdout, alone.Stderr = &out, &out
	alone.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := alone.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = alone.Process.Kill(); _ = alone.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	testkit.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "rafiki adminui never served; output:\n%s", &out)
	signIn(t, base, operatorID, secret, assetID)
}

func signIn(t *testing.T, base, tenantID, secret, assetID string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s%s: %d\n%s", base, path, resp.StatusCode, b)
		}
		return string(b)
	}
	m := csrfRE.FindStringSubmatch(get("/login"))
	if m == nil {
		t.Fatalf("%s: no login form", base)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "tenantId": {tenantID}, "apiSecret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "<h1>Overview</h1>") {
		t.Fatalf("%s: not signed in:\n%s", base, b)
	}
	if page := get("/assets/" + assetID); !strings.Contains(page, "<h1>Asset USD</h1>") {
		t.Fatalf("%s: asset page:\n%s", base, page)
	}
	if page := get("/history/" + assetID); !strings.Contains(page, "asset.created") {
		t.Fatalf("%s: history:\n%s", base, page)
	}
}
