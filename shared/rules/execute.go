package rules

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Actuator carries out actions. The site implements it with the hub's
// command path, the cloud with the command path to gateways, the mailer
// and the webhook queue. A write carries f.Chain so that the input it
// causes is observed with it (loop protection).
type Actuator interface {
	Write(ctx context.Context, f *Firing, device string, pin int, value string) error
	LogEvent(ctx context.Context, f *Firing, device, code, description string) error
	Notify(ctx context.Context, f *Firing, subject, text string) error
	Webhook(ctx context.Context, f *Firing, webhook string) error
}

// Run is the record of one firing: what triggered it and what each action
// did. Cut runs have no results.
type Run struct {
	Automation string      `json:"automation"`
	Name       string      `json:"name"`
	At         int64       `json:"at"` // ms since the epoch, the trigger's time
	Trigger    TriggerKind `json:"trigger"`
	Device     string      `json:"device,omitempty"`
	Pin        int         `json:"pin,omitempty"`
	Value      string      `json:"value,omitempty"`
	Chain      int         `json:"chain"`
	Cut        string      `json:"cut,omitempty"`
	Results    []Result    `json:"results,omitempty"`
}

// Result is what one action did.
type Result struct {
	Action int        `json:"action"` // index in Automation.Actions
	Kind   ActionKind `json:"kind"`
	At     int64      `json:"at"` // ms since the epoch, when it ended
	Error  string     `json:"error,omitempty"`
}

// OK reports whether every action succeeded and the run was not cut.
func (r *Run) OK() bool {
	if r.Cut != "" {
		return false
	}
	for _, x := range r.Results {
		if x.Error != "" {
			return false
		}
	}
	return true
}

// Execute runs f's actions in order. A failed action is recorded and the
// next one still runs (they are independent effects, as a person's
// writes would be); a wait ends early when ctx does, and the actions
// after it are recorded as not run.
func Execute(ctx context.Context, f Firing, act Actuator) Run {
	a := f.Automation
	r := Run{
		Automation: a.ID, Name: a.Name, At: f.At.UnixMilli(), Trigger: f.Trigger,
		Device: f.Device, Pin: f.Pin, Value: f.Value, Chain: f.Chain, Cut: f.Cut,
	}
	if f.Cut != "" {
		return r
	}
	for i, ac := range a.Actions {
		var err error
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			switch ac.Kind {
			case ActionWrite:
				err = act.Write(ctx, &f, ac.Device, ac.Pin, Expand(ac.Value, &f))
			case ActionLogEvent:
				err = act.LogEvent(ctx, &f, ac.Device, ac.Event, Expand(ac.Text, &f))
			case ActionNotify:
				err = act.Notify(ctx, &f, Expand(ac.Subject, &f), Expand(ac.Text, &f))
			case ActionWebhook:
				err = act.Webhook(ctx, &f, ac.Webhook)
			case ActionWait:
				t := time.NewTimer(time.Duration(ac.WaitS) * time.Second)
				select {
				case <-ctx.Done():
					err = ctx.Err()
				case <-t.C:
				}
				t.Stop()
			}
		}
		res := Result{Action: i, Kind: ac.Kind, At: time.Now().UnixMilli()}
		if err != nil {
			res.Error = err.Error()
		}
		r.Results = append(r.Results, res)
	}
	return r
}

// Expand replaces the placeholders of an automation's texts and values,
// written in either case as Blynk's are: {trigger_value}, {device_id}
// (the trigger's device), {pin}, {automation_name}, {automation_id},
// {timestamp_unix} (ms), {timestamp_iso}. Unknown placeholders stay as
// they are; the actuator may expand its own (device names, org names).
func Expand(s string, f *Firing) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+1 : i+j]
		if v, ok := placeholder(strings.ToLower(name), f); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}

func placeholder(name string, f *Firing) (string, bool) {
	switch name {
	case "trigger_value":
		return f.Value, true
	case "device_id":
		return f.Device, true
	case "pin":
		return "V" + strconv.Itoa(f.Pin), true
	case "automation_name":
		return f.Automation.Name, true
	case "automation_id":
		return f.Automation.ID, true
	case "timestamp_unix":
		return strconv.FormatInt(f.At.UnixMilli(), 10), true
	case "timestamp_iso":
		return f.At.UTC().Format(time.RFC3339Nano), true
	}
	return "", false
}
