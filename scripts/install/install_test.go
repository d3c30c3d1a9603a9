// Package install holds the test of install.sh, the systemd install of the
// gateway and the cloud (the script itself is the deliverable).
package install

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stage runs install.sh into a fresh DESTDIR and returns it.
func stage(t *testing.T, dest string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"install.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "DESTDIR="+dest, "PREFIX=/opt/outpost", "GOOS=", "GOARCH=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStagedInstall: a staged install has both binaries, configs that the
// binaries accept with an absolute data_dir, and units that start those
// binaries with those configs; a second install keeps an edited config.
func TestStagedInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	dest := t.TempDir()
	if out, err := stage(t, dest, "gateway", "cloud"); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	for _, p := range []struct{ part, state string }{{"gateway", "/var/lib/outpost"}, {"cloud", "/var/lib/outpost-cloud"}} {
		bin := filepath.Join(dest, "opt/outpost/bin/outpost-"+p.part)
		conf := filepath.Join(dest, "etc/outpost", p.part+".yaml")
		out, err := exec.Command(bin, "-check-config", "-config", conf).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "config ok") {
			t.Errorf("%s -check-config on the installed config: %v\n%s", bin, err, out)
		}
		if c := read(t, conf); !strings.Contains(c, "\ndata_dir: "+p.state+"\n") {
			t.Errorf("%s: data_dir is not %s", conf, p.state)
		}
		unit := read(t, filepath.Join(dest, "etc/systemd/system/outpost-"+p.part+".service"))
		want := "ExecStart=/opt/outpost/bin/outpost-" + p.part + " -config /etc/outpost/" + p.part + ".yaml"
		if !strings.Contains(unit, want) {
			t.Errorf("outpost-%s.service lacks %q:\n%s", p.part, want, unit)
		}
		// UMask and StateDirectoryMode: the database and the secrets in the
		// state directory are readable by the service user only.
		for _, section := range []string{"[Unit]", "[Service]", "[Install]", "StateDirectory=" + filepath.Base(p.state) + "\n",
			"\nUMask=0077\n", "\nStateDirectoryMode=0750\n"} {
			if !strings.Contains(unit, section) {
				t.Errorf("outpost-%s.service lacks %q", p.part, section)
			}
		}
		if strings.Contains(unit, "/usr/local/bin") {
			t.Errorf("outpost-%s.service still names /usr/local/bin with PREFIX=/opt/outpost", p.part)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// Checks directives and that ExecStart binaries exist; the unit
		// names the installed paths, so only the syntax errors count.
		out, _ := exec.Command(sa, "verify", filepath.Join(dest, "etc/systemd/system/outpost-gateway.service")).CombinedOutput()
		if bytes.Contains(out, []byte("Unknown key")) || bytes.Contains(out, []byte("Unknown section")) {
			t.Errorf("systemd-analyze verify:\n%s", out)
		}
	}

	// Reinstall: the same defaults change nothing; an edited config stays
	// and the defaults land next to it.
	conf := filepath.Join(dest, "etc/outpost/gateway.yaml")
	if out, err := stage(t, dest, "gateway"); err != nil || strings.Contains(out, "kept your") {
		t.Fatalf("reinstall over the defaults: %v\n%s", err, out)
	}
	if _, err := os.Stat(conf + ".new"); err == nil {
		t.Errorf("%s.new written although the config was not edited", conf)
	}
	edited := read(t, conf) + "\n# edited by the installer\n"
	if err := os.WriteFile(conf, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	if out, err := stage(t, dest, "gateway"); err != nil || !strings.Contains(out, "kept your") {
		t.Fatalf("reinstall over an edited config: %v\n%s", err, out)
	}
	if got := read(t, conf); got != edited {
		t.Errorf("the edited config was overwritten")
	}
	if !strings.Contains(read(t, conf+".new"), "data_dir: /var/lib/outpost\n") {
		t.Errorf("%s.new does not hold the defaults", conf)
	}
}

func TestUnknownPart(t *testing.T) {
	out, err := stage(t, t.TempDir(), "gatway")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, "unknown part 'gatway'") {
		t.Errorf("install.sh gatway = %v\n%s; want exit 2 naming the part", err, out)
	}
}
