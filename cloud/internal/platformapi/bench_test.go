package platformapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGetDevice measures the handler path of an authenticated
// GET /api/v1/organization/device (auth, rate limit, scope check, store
// read, JSON) without sockets; cmd cloudload measures it over HTTP.
func BenchmarkGetDevice(b *testing.B) {
	ta := newTestAPI(b)
	var tm struct{ ID string }
	ta.do(b, "POST", "/api/v1/organization/template/create", "application/json", `{"name":"T"}`).decode(b, &tm)
	var ids []int64
	for i := range 100 {
		var d struct{ ID int64 }
		ta.do(b, "POST", "/api/v1/organization/device/create", "application/json",
			fmt.Sprintf(`{"templateId":%q,"name":"d%d"}`, tm.ID, i)).decode(b, &d)
		ids = append(ids, d.ID)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest("GET", fmt.Sprintf("/api/v1/organization/device?deviceId=%d", ids[i%len(ids)]), nil)
			req.Header.Set("Authorization", "Bearer "+ta.token)
			w := httptest.NewRecorder()
			ta.api.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("%d %s", w.Code, w.Body)
				return
			}
			i++
		}
	})
}
