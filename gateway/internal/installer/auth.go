package installer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"outpost/shared/secret"
)

const (
	sessionCookie = "outpost_installer"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 64
	// MinPassword is the shortest installer password accepted.
	MinPassword = 10
)

// readPassword reads the bcrypt hash; a missing file means none is set yet.
func readPassword(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("installer: password file: %w", err)
	}
	h := []byte(strings.TrimSpace(string(b)))
	if _, err := bcrypt.Cost(h); err != nil {
		return nil, fmt.Errorf("installer: password file %s holds no bcrypt hash: %w", path, err)
	}
	return h, nil
}

func (in *Installer) hasPassword() bool {
	in.pwMu.Lock()
	defer in.pwMu.Unlock()
	return in.pwHash != nil
}

// setPassword hashes and stores the first password; it fails if one was
// set meanwhile (two first-start forms racing).
func (in *Installer) setPassword(pw string) error {
	cost := in.o.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return fmt.Errorf("installer: hash password: %w", err)
	}
	in.pwMu.Lock()
	defer in.pwMu.Unlock()
	if in.pwHash != nil {
		return errPasswordSet
	}
	if in.o.PasswordFile != "" {
		if err := secret.WriteFile(in.o.PasswordFile, append(h, '\n')); err != nil {
			return fmt.Errorf("installer: write password file: %w", err)
		}
	}
	in.pwHash = h
	return nil
}

var errPasswordSet = errors.New("installer: a password is already set")

func (in *Installer) checkPassword(pw string) bool {
	in.pwMu.Lock()
	h := in.pwHash
	in.pwMu.Unlock()
	return h != nil && bcrypt.CompareHashAndPassword(h, []byte(pw)) == nil
}

// newSession returns a new session id; the oldest session goes when there
// are too many.
func (in *Installer) newSession() string {
	var b [24]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := in.o.Now()
	in.sessMu.Lock()
	defer in.sessMu.Unlock()
	for k, exp := range in.sessions {
		if now.After(exp) {
			delete(in.sessions, k)
		}
	}
	if len(in.sessions) >= maxSessions {
		var oldest string
		var at time.Time
		for k, exp := range in.sessions {
			if oldest == "" || exp.Before(at) {
				oldest, at = k, exp
			}
		}
		delete(in.sessions, oldest)
	}
	in.sessions[id] = now.Add(sessionTTL)
	return id
}

func (in *Installer) sessionOK(r *http.Request) bool {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	in.sessMu.Lock()
	defer in.sessMu.Unlock()
	exp, ok := in.sessions[ck.Value]
	if !ok {
		return false
	}
	if in.o.Now().After(exp) {
		delete(in.sessions, ck.Value)
		return false
	}
	return true
}

func (in *Installer) endSession(r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		in.sessMu.Lock()
		delete(in.sessions, ck.Value)
		in.sessMu.Unlock()
	}
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
}

type setupData struct {
	NeedToken bool // the form asks for the installer token too
	Min       int
}

func (in *Installer) setupPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if in.hasPassword() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	in.render(w, r, http.StatusOK, "setup", view{Title: "Set the installer password",
		Data: setupData{NeedToken: in.o.Token != "", Min: MinPassword}})
}

// setupSubmit is POST /setup: the first password. From a loopback peer, or
// from anyone who gives the installer token too.
func (in *Installer) setupSubmit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if in.hasPassword() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	v := view{Title: "Set the installer password", Data: setupData{NeedToken: in.o.Token != "", Min: MinPassword}}
	pw, again := r.FormValue("password"), r.FormValue("confirm")
	switch {
	case in.o.Token != "" && subtle.ConstantTimeCompare([]byte(r.FormValue("token")), []byte(in.o.Token)) != 1:
		v.Error = "The installer token is not right. It is installer.token in the gateway's configuration file."
	case in.o.Token == "" && !localRequest(r):
		v.Error = "Set the password from the box itself (127.0.0.1), or configure installer.token."
	case utf8.RuneCountInString(pw) < MinPassword:
		v.Error = fmt.Sprintf("The password needs at least %d characters.", MinPassword)
	case len(pw) > 72:
		v.Error = "The password may have at most 72 bytes."
	case pw != again:
		v.Error = "The two passwords differ."
	}
	if v.Error != "" {
		in.render(w, r, http.StatusBadRequest, "setup", v)
		return
	}
	switch err := in.setPassword(pw); {
	case errors.Is(err, errPasswordSet):
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	case err != nil:
		in.serverError(w, r, err)
		return
	}
	in.log.Info("installer password set", "from", r.RemoteAddr)
	setSessionCookie(w, r, in.newSession())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (in *Installer) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !in.hasPassword() {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	v := view{Title: "Sign in"}
	if r.URL.Query().Get("done") == "out" {
		v.Notice = "You are signed out."
	}
	in.render(w, r, http.StatusOK, "login", v)
}

// Failed sign-ins: after maxFailures from one address within failWindow,
// that address waits out the rest of the window.
const (
	maxFailures = 5
	failWindow  = time.Minute
)

type failures struct {
	n     int
	since time.Time
}

// throttled tells whether the address has used up its attempts.
func (in *Installer) throttled(addr string) bool {
	in.failMu.Lock()
	defer in.failMu.Unlock()
	f, ok := in.fails[addr]
	if ok && in.o.Now().Sub(f.since) >= failWindow {
		delete(in.fails, addr)
		return false
	}
	return ok && f.n >= maxFailures
}

func (in *Installer) failed(addr string) {
	in.failMu.Lock()
	defer in.failMu.Unlock()
	now := in.o.Now()
	if len(in.fails) > 10_000 { // a flood of addresses: start over rather than grow
		clear(in.fails)
	}
	f, ok := in.fails[addr]
	if !ok || now.Sub(f.since) >= failWindow {
		f = failures{since: now}
	}
	f.n++
	in.fails[addr] = f
}

func peerHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (in *Installer) loginSubmit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	addr := peerHost(r)
	if in.throttled(addr) {
		w.Header().Set("Retry-After", "60")
		in.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Sign in", Error: "Too many wrong passwords: wait a minute."})
		return
	}
	if !in.checkPassword(r.FormValue("password")) {
		in.failed(addr)
		in.log.Warn("installer sign-in refused", "from", r.RemoteAddr)
		in.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Error: "Wrong password."})
		return
	}
	setSessionCookie(w, r, in.newSession())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (in *Installer) logout(w http.ResponseWriter, r *http.Request) {
	in.endSession(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login?done=out", http.StatusSeeOther)
}
