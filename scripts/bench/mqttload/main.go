// Command mqttload measures MQTT publish throughput of Outpost's broker
// side by side with bare mochi-mqtt and Mosquitto, the publish→committed
// latency (QoS 0) and the publish→PUBACK latency (QoS 1, the PUBACK
// follows the commit) at half load, and the gateway RSS with many idle
// device connections. See scripts/bench/mqtt.sh.
package main

func main() { run() }
