package automations

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"outpost/shared/rules"
)

// memStore is the runner's store in memory: the automations it loads and
// the runs it records.
type memStore struct {
	mu    sync.Mutex
	autos []rules.Automation
	runs  []rules.Run
}

func (m *memStore) AllAutomations(context.Context) ([]rules.Automation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]rules.Automation(nil), m.autos...), nil
}

func (m *memStore) GetAutomation(_ context.Context, id string) (rules.Automation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.autos {
		if a.ID == id {
			return a, nil
		}
	}
	return rules.Automation{}, context.Canceled
}

func (m *memStore) SaveRun(_ context.Context, r rules.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs = append(m.runs, r)
	return nil
}

// note is a notification the cloud was asked to send.
type note struct {
	org           int64
	subject, body string
}

// recCloud records notifications and webhook calls; no device is served.
type recCloud struct {
	mu     sync.Mutex
	notes  []note
	hooks  []string
	events []string          // automation device code description
	values map[string]string // "device/pin" → latest value
}

func (c *recCloud) LogEvent(_ context.Context, automation, device, code, description string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, automation+" "+device+" "+code+" "+description)
	return nil
}

func (c *recCloud) SiteOf(context.Context, string) (string, error) { return "", nil }
func (c *recCloud) Value(dev string, pin int) (string, bool) {
	v, ok := c.values[fmt.Sprintf("%s/%d", dev, pin)]
	return v, ok
}
func (c *recCloud) Write(context.Context, string, string, int, string) error {
	return nil
}

func (c *recCloud) Notify(_ context.Context, org int64, subject, body, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, note{org, subject, body})
	return nil
}

func (c *recCloud) Webhook(_ context.Context, _ int64, id string, _ *rules.Firing) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, id)
	return nil
}

// A scheduled automation fires on the instance that leads the schedules
// only, and its notify and webhook actions reach the cloud's notifier and
// webhook queue with the automation's organization.
func TestSchedulesFireOnTheLeaderOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leads func() bool
		want  int
	}{
		{"alone", nil, 1},
		{"leader", func() bool { return true }, 1},
		{"follower", func() bool { return false }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// synctest's clock starts at midnight UTC: the schedule is due
				// one minute in.
				st := &memStore{autos: []rules.Automation{{ID: "01JD5Z8Q3M4N5P6Q7R8S9T0003", Name: "morning", Enabled: true, OrgID: 7,
					Trigger: rules.Trigger{Kind: rules.TriggerSchedule, Schedule: &rules.Schedule{At: "00:01", TZ: "UTC"}},
					Actions: []rules.Action{{Kind: rules.ActionNotify, Subject: "Hello", Text: "good morning"},
						{Kind: rules.ActionWebhook, Webhook: "42"}}}}}
				c := &recCloud{}
				r := NewRunner(st, c, nil)
				if tc.leads != nil {
					r.LeadSchedules(tc.leads)
				}
				ctx, cancel := context.WithCancel(context.Background())
				if err := r.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() { defer close(done); _ = r.Run(ctx) }()
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				cancel()
				<-done

				c.mu.Lock()
				defer c.mu.Unlock()
				if len(c.notes) != tc.want || len(c.hooks) != tc.want {
					t.Fatalf("notifications %+v, webhook calls %v; want %d of each", c.notes, c.hooks, tc.want)
				}
				if tc.want > 0 && (c.notes[0].org != 7 || c.notes[0].subject != "Hello" || c.hooks[0] != "42") {
					t.Errorf("notification %+v, webhook %v", c.notes[0], c.hooks)
				}
				if len(st.runs) != tc.want {
					t.Errorf("%d runs recorded, want %d", len(st.runs), tc.want)
				}
			})
		})
	}
}

// Run now carries out a disabled automation's actions once, in order
// (a wait included), on a follower too, and records one run with the
// manual trigger; a second request right after is not cut (a person's
// request is not a loop).
func TestRunNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := rules.Automation{ID: "01JD5Z8Q3M4N5P6Q7R8S9T0004", Name: "by hand", Enabled: false, OrgID: 9,
			Trigger: rules.Trigger{Kind: rules.TriggerOnline, Device: "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"},
			Actions: []rules.Action{{Kind: rules.ActionWait, WaitS: 30}, {Kind: rules.ActionNotify, Subject: "Hand", Text: "made"},
				{Kind: rules.ActionLogEvent, Device: "01JD5Z8Q3M4N5P6Q7R8S9T0VAB", Event: "hot", Text: "by {automation_name}"}}}
		st := &memStore{autos: []rules.Automation{a}}
		c := &recCloud{}
		r := NewRunner(st, c, nil)
		r.LeadSchedules(func() bool { return false })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		at := time.Now()
		r.RunNow(a, at)
		r.RunNow(a, at)
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		<-done
		if len(st.runs) != 2 || len(c.notes) != 2 {
			t.Fatalf("runs %+v, notifications %+v; want 2 of each", st.runs, c.notes)
		}
		for _, run := range st.runs {
			if run.Trigger != rules.TriggerManual || run.At != at.UnixMilli() || run.Cut != "" || len(run.Results) != 3 || !run.OK() {
				t.Errorf("run %+v", run)
			}
		}
		if c.notes[0].org != 9 || c.notes[0].subject != "Hand" {
			t.Errorf("notification %+v", c.notes[0])
		}
		// The log event action reaches the cloud with the automation's
		// id and the placeholders expanded.
		if want := a.ID + " 01JD5Z8Q3M4N5P6Q7R8S9T0VAB hot by by hand"; len(c.events) != 2 || c.events[0] != want {
			t.Errorf("events logged %q, want twice %q", c.events, want)
		}
	})
}

// "Run now" of a datastream-triggered automation fills {trigger_value}
// with the datastream's latest value (a person testing "too warm: reads
// {trigger_value}" sees the reading, not an empty text).
func TestRunNowReadsTheTriggerValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev := "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"
		a := rules.Automation{ID: "01JD5Z8Q3M4N5P6Q7R8S9T0005", Name: "too warm", Enabled: true, OrgID: 9,
			Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: dev, Pin: 3, Op: rules.OpGt, Value: "30"},
			Actions: []rules.Action{{Kind: rules.ActionNotify, Subject: "Too warm", Text: "reads {trigger_value}"}}}
		st := &memStore{autos: []rules.Automation{a}}
		c := &recCloud{values: map[string]string{dev + "/3": "31.5"}}
		r := NewRunner(st, c, nil)
		r.LeadSchedules(func() bool { return false })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		r.RunNow(a, time.Now())
		synctest.Wait()
		cancel()
		<-done
		if len(c.notes) != 1 || c.notes[0].body != "reads 31.5" {
			t.Fatalf("notifications %+v, want one reading 31.5", c.notes)
		}
	})
}

// Where places an automation as the tenancy does: no device served, the
// cloud.
func TestWhere(t *testing.T) {
	r := NewRunner(&memStore{}, &recCloud{}, nil)
	a := rules.Automation{Trigger: rules.Trigger{Kind: rules.TriggerOnline, Device: "01JD5Z8Q3M4N5P6Q7R8S9T0VAA"}}
	if site, atSite, err := r.Where(context.Background(), &a); err != nil || atSite || site != "" {
		t.Fatalf("where: %q %v %v", site, atSite, err)
	}
}
