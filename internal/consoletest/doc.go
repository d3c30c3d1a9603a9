// Package consoletest drives the cloud's web console in a real browser
// (Debian's chromium, headless, through github.com/chromedp/chromedp)
// against a real cloud and a real gateway in this process, on 127.0.0.1
// ports from :0, with simulated Blynk devices (shared/devicesim). It sits
// outside cloud/ and gateway/ because it needs both (the import rules let
// neither import the other). It has no code of its own outside tests.
package consoletest
