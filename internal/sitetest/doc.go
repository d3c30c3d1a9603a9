// Package sitetest holds tests that run a real cloud and a real gateway
// together on 127.0.0.1, with devices speaking the Blynk protocol: what
// crosses the system boundary (shared/syncproto over a websocket) is tested
// end to end here, since neither side may import the other.
package sitetest
