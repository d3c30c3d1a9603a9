// Command benchserver runs Outpost's MQTT broker with the hub and a real
// SQLite store, with -devices bench devices (tokens "bench" + 27-digit
// index), for scripts/bench/mqttload, which cannot import gateway/internal.
// It prints "addr <host:port>", then answers each stdin line "stats" with
// one JSON line {"rss_kb","heap_inuse_kb","stack_inuse_kb","goroutines",
// "queue_len","committed","transactions","p50_ms","p99_ms","connections"}; it exits when stdin closes. -cpuprofile and -memprofile
// write pprof profiles, -trace an execution trace (scripts/bench/mqtt.sh -profile DIR sets them).
// It adjusts the GC percentage as outpost-gateway does (gateway/internal/gcgoal);
// OUTPOST_GCGOAL=off in its environment leaves it alone, for comparison.
package main

func main() { run() }
