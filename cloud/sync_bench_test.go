package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
	"outpost/shared/syncproto"
)

// BenchmarkCommandLatency measures a Platform API datastream write to the
// command frame arriving at a connected test gateway (loopback), and
// reports p50/p99. The gateway answers each command at once, so the API
// call completes before the next one starts.
func BenchmarkCommandLatency(b *testing.B) {
	e := newSyncEnv(b)
	ctx := context.Background()
	svc := e.s.svc
	tm, err := svc.CreateTemplate(ctx, e.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Lamp",
		Datastreams: []datastream.Datastream{{Pin: 2, Name: "set", Type: datastream.Integer}}}})
	if err != nil {
		b.Fatal(err)
	}
	o, err := svc.CreateOrg(ctx, e.admin, tenancy.NewOrg{ParentID: e.admin.OrgID, Name: "Bench client"})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.SetTemplateEnabled(ctx, e.admin, o.ID, tm.ID, true); err != nil {
		b.Fatal(err)
	}
	d, err := svc.CreateDevice(ctx, e.admin, tenancy.NewDevice{TemplateID: tm.ID, Name: "Lamp", OrgID: o.ID})
	if err != nil {
		b.Fatal(err)
	}
	reg := e.register("bench site")
	e.call(200, "POST", "/api/v1/organization/gateway/claim", e.tok, map[string]any{"claimCode": reg.ClaimCode, "orgId": o.ID}, nil)
	gw := e.connect(reg, 0)
	gw.must(syncproto.TypeSnapshot)

	body, _ := json.Marshal(map[string]any{"deviceId": d.ID, "dataStreamId": 2, "value": 1})
	lat := make([]time.Duration, 0, b.N)
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("POST", e.s.URL()+"/api/v1/organization/device/datastream", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.tok)
		start := time.Now()
		done := make(chan int, 1)
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				done <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		cmd := gw.must(syncproto.TypeCommand)
		lat = append(lat, time.Since(start))
		gw.send(&syncproto.Message{Type: syncproto.TypeResult, ID: cmd.ID, Result: &syncproto.Result{Code: syncproto.ResultOK}})
		if st := <-done; st != 204 {
			b.Fatalf("status %d", st)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
