package tenancy

import (
	"reflect"
	"testing"
	"time"
)

// Every tunable has a default, and a zero Config is exactly the defaults.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("DefaultConfig().%s is zero", v.Type().Field(i).Name)
		}
	}
	if got := (Config{}).withDefaults(); got != d {
		t.Errorf("Config{}.withDefaults() = %+v, want %+v", got, d)
	}
	set := Config{MaxDepth: 6, SessionTTL: time.Minute}
	got := set.withDefaults()
	if got.MaxDepth != 6 || got.SessionTTL != time.Minute || got.InviteTTL != d.InviteTTL {
		t.Errorf("explicit values must stay: %+v", got)
	}
}
