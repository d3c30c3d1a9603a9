package consoletest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// pageState is what the page check reads of a rendered page.
type pageState struct {
	Title    string
	Banner   bool   // a header holding the main navigation
	NavLinks int    // links in the main navigation
	Mains    int    // main landmarks
	H1       string // the first heading inside main
	Width    int    // the document's scroll width
}

const readPage = `(() => {
	const nav = document.querySelector('header nav[aria-label="Main"]');
	const h1 = document.querySelector("main h1");
	return {Title: document.title, Banner: !!nav, NavLinks: nav ? nav.querySelectorAll("a[href]").length : 0,
		Mains: document.querySelectorAll("main").length, H1: h1 ? h1.textContent.trim() : "",
		Width: document.documentElement.scrollWidth};
})()`

// pageCheck is a path to check and what shows that it finished loading (a
// selector; "" for main).
type pageCheck struct{ path, ready string }

// settle lets the tasks the page queued so far run (their errors are
// reported before it resolves).
const settle = "new Promise(r => setTimeout(r))"

// errorTitles start the titles of the console's error pages.
var errorTitles = []string{"Not found", "Not permitted", "Something went wrong"}

// checkPages opens each path at 1440 and at 375 px and fails the test for
// a page that is an error page, lacks its landmarks (the banner with the
// main navigation, one main with an h1), scrolls sideways, or made the
// browser report a script error or a Content-Security-Policy violation
// (problems, fed by browser). It is the cheap check that a page is not
// broken; the screenshots are for people to judge.
func checkPages(t *testing.T, ctx context.Context, problems <-chan string, base string, pages []pageCheck) {
	t.Helper()
	drain(problems) // what came before is not these pages' doing
	for _, w := range []int64{1440, 375} {
		for _, p := range pages {
			ready := p.ready
			if ready == "" {
				ready = "main"
			}
			var st pageState
			run(t, ctx, fmt.Sprintf("open %s at %d px", p.path, w),
				chromedp.EmulateViewport(w, 900),
				chromedp.Navigate(base+p.path), // returns after the load event: the modules ran
				chromedp.WaitVisible(ready, chromedp.ByQuery),
				eval(settle, nil),
				chromedp.Evaluate(readPage, &st))
			where := fmt.Sprintf("%s at %d px", p.path, w)
			for _, e := range errorTitles {
				if strings.HasPrefix(st.Title, e) {
					t.Errorf("%s is an error page: %q", where, st.Title)
				}
			}
			if !st.Banner || st.NavLinks == 0 || st.Mains != 1 || st.H1 == "" || !strings.HasSuffix(st.Title, "· Outpost") {
				t.Errorf("%s lacks its landmarks: %+v", where, st)
			}
			if st.Width > int(w) {
				t.Errorf("%s is %d px wide", where, st.Width)
			}
			for _, prob := range drain(problems) {
				t.Errorf("%s: the browser reported %s", where, prob)
			}
		}
	}
	run(t, ctx, "wide again", chromedp.EmulateViewport(1280, 900))
}

// drain returns what the browser reported so far.
func drain(problems <-chan string) []string {
	var out []string
	for {
		select {
		case p := <-problems:
			out = append(out, p)
		default:
			return out
		}
	}
}

// checkDetectsViolations proves the page check can fail: a script the
// policy forbids (inline) and a script error must both be reported.
func checkDetectsViolations(t *testing.T, ctx context.Context, problems <-chan string, base string) {
	t.Helper()
	drain(problems)
	run(t, ctx, "break a page on purpose",
		chromedp.Navigate(base+"/profile"),
		chromedp.WaitReady("main", chromedp.ByQuery),
		chromedp.Evaluate(`{ const s = document.createElement("script"); s.textContent = "window.ran = 1"; document.body.append(s);
			setTimeout(() => { throw new Error("deliberate"); }); }`, nil),
		eval(settle, nil))
	got := strings.Join(drain(problems), "\n")
	if !strings.Contains(got, "Content Security Policy") || !strings.Contains(got, "deliberate") {
		t.Errorf("the browser check missed a CSP violation or a script error; it reported:\n%s", got)
	}
}
