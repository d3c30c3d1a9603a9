package main

import (
	"fmt"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// installerShots takes the gateway's installer page: the first-start form,
// then (signed in) the status, the device list, a device just added with
// its token and sketch, a device page, hardware, network, logs and
// configuration, at 1440 and 375 px, and the status and device pages in
// dark mode.
func installerShots(step func(...chromedp.Action) error, base, out string) error {
	const pw = "screenshot-installer-pw"
	if err := step(emulation.SetDeviceMetricsOverride(1440, 900, 1, false), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#confirm", chromedp.ByID)); err != nil {
		return fmt.Errorf("installer first start: %w", err)
	}
	if err := save(step, out, "installer-setup-1440", 1440); err != nil {
		return err
	}
	if err := step(chromedp.SendKeys("#password", pw, chromedp.ByID), chromedp.SendKeys("#confirm", pw, chromedp.ByID),
		chromedp.Click(`button[type="submit"]`, chromedp.ByQuery), chromedp.WaitVisible("#cloudstate", chromedp.ByID)); err != nil {
		return fmt.Errorf("installer password: %w", err)
	}
	var dev string
	if err := step(chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("#devices", chromedp.ByID),
		chromedp.AttributeValue(`//table[@id="devices"]//a[contains(., "Demo Device 4")]`, "href", &dev, nil)); err != nil {
		return fmt.Errorf("installer devices: %w", err)
	}
	for _, width := range []int64{1440, 375} {
		for _, s := range []shot{{"installer-status", "/", "#cloudstate"}, {"installer-devices", "/devices", "#devices"},
			{"installer-device", dev, `#device[data-state="live"]`}, {"installer-hardware", "/hardware", "#hardware"},
			{"installer-network", "/network", "#endpoints"}, {"installer-logs", "/logs", "#logs"}, {"installer-config", "/config", "#effective"}} {
			if err := step(emulation.SetDeviceMetricsOverride(width, 900, 1, width < 500), chromedp.Navigate(base+s.path),
				chromedp.WaitVisible(s.ready, chromedp.ByQuery)); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if err := save(step, out, fmt.Sprintf("%s-%d", s.name, width), width); err != nil {
				return err
			}
		}
		if err := step(chromedp.Navigate(base+"/devices"), chromedp.WaitVisible("#name", chromedp.ByID),
			chromedp.SendKeys("#name", fmt.Sprintf("Greenhouse %d", width), chromedp.ByID),
			chromedp.Click(`form[action="/devices"] button[type="submit"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#token", chromedp.ByID)); err != nil {
			return fmt.Errorf("installer add device: %w", err)
		}
		if err := save(step, out, fmt.Sprintf("installer-added-%d", width), width); err != nil {
			return err
		}
	}
	dark := emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}})
	for _, s := range []shot{{"installer-status", "/", "#cloudstate"}, {"installer-device", dev, `#device[data-state="live"]`}} {
		if err := step(emulation.SetDeviceMetricsOverride(1440, 900, 1, false), dark, chromedp.Navigate(base+s.path),
			chromedp.WaitVisible(s.ready, chromedp.ByQuery)); err != nil {
			return fmt.Errorf("%s dark: %w", s.name, err)
		}
		if err := save(step, out, s.name+"-dark-1440", 1440); err != nil {
			return err
		}
	}
	return nil
}
