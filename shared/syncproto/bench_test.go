package syncproto

import (
	"strconv"
	"testing"
)

func benchBatch(n int) *Message {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Seq: int64(i + 1), Kind: KindWrite, Device: uid1, Pin: i % 8, Value: strconv.Itoa(i * 7), TS: 1764000000000 + int64(i), Source: "tcp"}
	}
	return &Message{Type: TypeTelemetry, Seq: int64(n), Telemetry: &Telemetry{Items: items}}
}

// BenchmarkEncodeTelemetry measures items/s through Encode for a 1,000-item
// batch, the cloud link's default batch size.
func BenchmarkEncodeTelemetry(b *testing.B) {
	m := benchBatch(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkDecodeTelemetry(b *testing.B) {
	enc, err := Encode(benchBatch(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "items/s")
}
