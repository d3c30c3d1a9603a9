// A real Blynk client (npm blynk-library 0.5.x) for blynkserver's tests.
// Usage: node blynk_client.js <node_modules dir> <host> <port> <token>
// It logs in, writes V0 = 23.5 and prints one line per event, prefixed
// "EVT " so the test can ignore the library's own output.
'use strict';
const path = require('path');
const [modules, host, port, token] = process.argv.slice(2);
const Blynk = require(path.join(modules, 'blynk-library'));

const blynk = new Blynk.Blynk(token, {
  connector: new Blynk.TcpClient({ addr: host, port: parseInt(port, 10) }),
});
const v2 = new blynk.VirtualPin(2);
v2.on('write', (param) => console.log('EVT WRITE V2 ' + param.join('|')));
blynk.on('connect', () => {
  console.log('EVT CONNECTED');
  blynk.virtualWrite(0, 23.5);
});
blynk.on('error', (err) => console.log('EVT ERROR ' + err));
// The test closes stdin when it is done.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
