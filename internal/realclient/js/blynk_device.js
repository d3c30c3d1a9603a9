// A Blynk device on the npm blynk-library over Blynk TCP; the library
// reconnects by itself (5 s after a lost connection).
// usage: node blynk_device.js NODE_MODULES HOST PORT TOKEN
// One line on stdout per event, as csrc/mosquitto_device.c prints them:
//   CONNECTED 0 | MSG V<pin> <value> | DISCONNECTED | ERROR <code>
// (the library's own console output does not start with these words).
'use strict';
const path = require('path');
const [modules, host, port, token] = process.argv.slice(2);
const Blynk = require(path.join(modules, 'blynk-library'));

const blynk = new Blynk.Blynk(token, {
  connector: new Blynk.TcpClient({ addr: host, port: parseInt(port, 10) }),
});
for (let pin = 0; pin < 8; pin++) {
  new blynk.VirtualPin(pin).on('write', (param) => console.log('MSG V' + pin + ' ' + param.join('|')));
}
blynk.on('connect', () => console.log('CONNECTED 0'));
blynk.on('disconnect', () => console.log('DISCONNECTED'));
blynk.on('error', (err) => console.log('ERROR ' + err));
