// A Blynk MQTT device on MQTT.js (npm mqtt), reconnecting every 500 ms as
// the library does by default after a lost connection.
// usage: node mqtt_device.js NODE_MODULES URL TOKEN 4|5
// One line on stdout per event, as csrc/mosquitto_device.c prints them:
//   CONNECTED 0 | SUBSCRIBED | MSG <topic> <payload> | DISCONNECTED | EXIT <why>
'use strict';
const path = require('path');
const [modules, url, token, version] = process.argv.slice(2);
const mqtt = require(path.join(modules, 'mqtt'));

const c = mqtt.connect(url, {
  username: 'device', password: token, protocolVersion: parseInt(version, 10),
  clean: true, reconnectPeriod: 500, connectTimeout: 5000,
});
c.on('connect', () => {
  console.log('CONNECTED 0');
  c.subscribe('downlink/#', { qos: 1 }, (err) => console.log(err ? 'EXIT subscribe: ' + err.message : 'SUBSCRIBED'));
});
c.on('message', (topic, payload) => console.log('MSG ' + topic + ' ' + payload.toString()));
c.on('close', () => console.log('DISCONNECTED'));
c.on('error', (err) => console.log('ERROR ' + err.message));
c.on('end', () => { console.log('EXIT end'); process.exit(0); });
