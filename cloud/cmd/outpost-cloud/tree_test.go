package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"outpost/internal/poll"
)

// "tree create" adds a root tree to the database of a running cloud; its
// Admin logs in over HTTP and reaches the new tree only.
func TestTreeCreateWhileRunning(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cloud.yaml")
	os.WriteFile(cfgPath, []byte("version: 1\ndata_dir: "+dir+"\nauth:\n  bcrypt_cost: 4\nlog:\n  level: warn\n"), 0o600)
	env := func(k string) string {
		return map[string]string{"OUTPOST_ADMIN_EMAIL": "boss@example.com", "OUTPOST_ADMIN_PASSWORD": "boss-password"}[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-config", cfgPath, "-listen", "127.0.0.1:0"}, env, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d: %s", code, errOut.String())
		}
	})
	urlRE := regexp.MustCompile(`Platform API on (http://\S+)/api/v1`)
	poll.Within(t, "the cloud's start line", 20*time.Second, func() bool { return urlRE.MatchString(out.String()) })
	base := urlRE.FindStringSubmatch(out.String())[1]

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"tree"}, 2},
		{[]string{"tree", "create", "-config", cfgPath, "--name", "Tenant Corp"}, 2},
		{[]string{"tree", "create", "-config", cfgPath, "--name", "X", "--admin-email", "x@tenant.test", "--password-file", filepath.Join(dir, "x.pw")}, 1}, // name too short
		// A generated password with no terminal and no file to show it in.
		{[]string{"tree", "create", "-config", cfgPath, "--name", "Nowhere Corp", "--admin-email", "n@tenant.test"}, 2},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), c.args, env, &o, &e); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s %s)", c.args, code, c.code, o.String(), e.String())
		}
	}
	pwFile := filepath.Join(dir, "tenant-admin.pw")
	var o, e bytes.Buffer
	code := run(context.Background(), []string{"tree", "create", "-config", cfgPath, "--name", "Tenant Corp",
		"--admin-email", "admin@tenant.test", "--password-file", pwFile}, env, &o, &e)
	if code != 0 || !strings.Contains(o.String(), `created root organization "Tenant Corp"`) || strings.Contains(o.String(), "password:") {
		t.Fatalf("tree create: exit %d: %s %s", code, o.String(), e.String())
	}
	st, err := os.Stat(pwFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	pw, _ := os.ReadFile(pwFile)

	post := func(path, tok string, body any) (int, map[string]any) {
		data, _ := json.Marshal(body)
		r, _ := http.NewRequest("POST", base+path, bytes.NewReader(data))
		r.Header.Set("Content-Type", "application/json")
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return do(t, r)
	}
	get := func(path, tok string) (int, map[string]any) {
		r, _ := http.NewRequest("GET", base+path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return do(t, r)
	}
	code, login := post("/api/v1/auth/login", "", map[string]string{"email": "admin@tenant.test", "password": strings.TrimSpace(string(pw))})
	if code != 200 {
		t.Fatalf("new Admin login: %d %v", code, login)
	}
	tok, _ := login["token"].(string)
	code, prof := get("/api/v1/organization/profile", tok)
	if code != 200 || prof["name"] != "Tenant Corp" {
		t.Fatalf("new Admin's profile: %d %v", code, prof)
	}
	// The first tree stays out of reach.
	_, boss := post("/api/v1/auth/login", "", map[string]string{"email": "boss@example.com", "password": "boss-password"})
	_, bossProf := get("/api/v1/organization/profile", boss["token"].(string))
	if code, body := get("/api/v1/organization?orgId="+jsonID(bossProf["id"]), tok); code != 404 {
		t.Errorf("the new Admin reads the first tree's root: %d %v", code, body)
	}
}

func jsonID(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func do(t *testing.T, r *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}
