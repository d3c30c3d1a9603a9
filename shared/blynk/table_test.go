package blynk

import (
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

// frameCase is one byte stream as it appears on the wire and what the codec
// must make of it. The same table seeds the fuzz targets.
type frameCase struct {
	name  string
	raw   string // wire bytes in hex; spaces are for readability
	fill  int    // this many 0xAB bytes appended to raw (for huge bodies)
	limit int    // Reader body limit; 0 = MaxBody
	want  []Message
	err   error // returned after want; nil means a clean io.EOF

	// The meaning of the body of the single frame, where it has one.
	hw     *hwWant
	info   []string // InfoPairs
	fields []string // Fields
}

type hwWant struct {
	op     Op
	pin    int
	values []string
	err    error
}

const token = "0123456789abcdef0123456789abcdef"

func msg(cmd Command, id uint16, body string) Message {
	return Message{Cmd: cmd, ID: id, Body: []byte(body)}
}

func resp(id uint16, s Status) Message { return Message{Cmd: CmdResponse, ID: id, Status: s} }

var frameTable = []frameCase{
	// PROTOCOL.md §6: C++ Linux port, one session in order.
	{name: "cpp/login", raw: "1d 0001 0020 30313233343536373839616263646566 30313233343536373839616263646566",
		want: []Message{msg(CmdHWLogin, 1, token)}},
	{name: "cpp/login-ok", raw: "00 0001 00c8", want: []Message{resp(1, StatusSuccess)}},
	{name: "cpp/server-vw-1-hello", raw: "14 0065 000a 767700310068656c6c6f",
		want: []Message{msg(CmdHardware, 0x65, "vw\x001\x00hello")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 1, values: []string{"hello"}}},
	{name: "cpp/server-ping", raw: "06 0066 0000", want: []Message{msg(CmdPing, 0x66, "")}},
	{name: "cpp/info-trailing-nul", raw: "11 0002 0082 " +
		"76657200312e342e3000682d62656174 00313000627566662d696e0034303936 00646576004c696e75780066772d7479 " +
		"706500544d504c746573743030303100 667700302e312e30006275696c64004e 6f7620323220323032362031353a3134 " +
		"3a303600636f6e6e00536f636b657400 746d706c00544d504c74657374303030 3100",
		want: []Message{msg(CmdInternal, 2, "ver\x001.4.0\x00h-beat\x0010\x00buff-in\x004096\x00dev\x00Linux\x00"+
			"fw-type\x00TMPLtest0001\x00fw\x000.1.0\x00build\x00Nov 22 2026 15:14:06\x00conn\x00Socket\x00tmpl\x00TMPLtest0001\x00")},
		info: []string{"ver", "1.4.0", "h-beat", "10", "buff-in", "4096", "dev", "Linux", "fw-type", "TMPLtest0001",
			"fw", "0.1.0", "build", "Nov 22 2026 15:14:06", "conn", "Socket", "tmpl", "TMPLtest0001"}},
	{name: "cpp/pong-server-id", raw: "00 0066 00c8", want: []Message{resp(0x66, StatusSuccess)}},
	{name: "cpp/vw-0-10", raw: "14 0003 0007 76770030003130",
		want: []Message{msg(CmdHardware, 3, "vw\x000\x0010")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 0, values: []string{"10"}}},
	{name: "cpp/ping", raw: "06 0004 0000", want: []Message{msg(CmdPing, 4, "")}},
	{name: "cpp/ping-ok", raw: "00 0004 00c8", want: []Message{resp(4, StatusSuccess)}},

	// §6: other frames from the same library.
	{name: "cpp/sync-virtual-1-2", raw: "10 0003 0006 767200310032",
		want: []Message{msg(CmdHardwareSync, 3, "vr\x001\x002")}, fields: []string{"vr", "1", "2"}},
	{name: "cpp/property-label", raw: "13 0007 000c 30006c6162656c0054656d70",
		want: []Message{msg(CmdProperty, 7, "0\x00label\x00Temp")}, fields: []string{"0", "label", "Temp"}},
	{name: "cpp/property-labels", raw: "13 0008 000e 34006c6162656c73006100620063",
		want: []Message{msg(CmdProperty, 8, "4\x00labels\x00a\x00b\x00c")}, fields: []string{"4", "labels", "a", "b", "c"}},
	{name: "cpp/log-event", raw: "40 0009 0008 6f76657268656174",
		want: []Message{msg(CmdEventLog, 9, "overheat")}, fields: []string{"overheat"}},
	{name: "cpp/log-event-description", raw: "40 000a 0010 6f7665726865617400746f6f20686f74",
		want: []Message{msg(CmdEventLog, 10, "overheat\x00too hot")}, fields: []string{"overheat", "too hot"}},
	{name: "cpp/clear-event", raw: "41 000b 0008 6f76657268656174",
		want: []Message{msg(CmdEventClear, 11, "overheat")}},
	{name: "cpp/clear-event-all", raw: "41 000c 000c 6f7665726865617400616c6c",
		want: []Message{msg(CmdEventClear, 12, "overheat\x00all")}, fields: []string{"overheat", "all"}},
	{name: "cpp/group-begin-ts", raw: "15 000d 000f 740031373030303030303030303030",
		want: []Message{msg(CmdGroup, 13, "t\x001700000000000")}},
	{name: "cpp/group-end", raw: "15 0010 0001 65", want: []Message{msg(CmdGroup, 16, "e")}},
	{name: "cpp/group-begin", raw: "15 0011 0001 62", want: []Message{msg(CmdGroup, 17, "b")}},
	{name: "cpp/internal-utc-time", raw: "11 0014 0008 7574630074696d65",
		want: []Message{msg(CmdInternal, 20, "utc\x00time")}, fields: []string{"utc", "time"}},
	{name: "cpp/internal-meta-set", raw: "11 0015 001a 6d657461007365740053657269616c20 4e756d62657200534e31",
		want: []Message{msg(CmdInternal, 21, "meta\x00set\x00Serial Number\x00SN1")}},
	{name: "cpp/sync-all", raw: "10 0016 0000", want: []Message{msg(CmdHardwareSync, 22, "")}, fields: []string{}},
	{name: "cpp/vw-pin-200", raw: "14 0006 000d 7677003230300070696e323030",
		want: []Message{msg(CmdHardware, 6, "vw\x00200\x00pin200")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 200, values: []string{"pin200"}}},
	{name: "cpp/invalid-token", raw: "00 0001 0009", want: []Message{resp(1, StatusInvalidToken)}},
	{name: "cpp/dr-reply-same-id", raw: "14 01f6 0006 647700370030",
		want: []Message{msg(CmdHardware, 0x1f6, "dw\x007\x000")},
		hw:   &hwWant{op: OpDigitalWrite, pin: 7, values: []string{"0"}}},
	{name: "cpp/vr-illegal-command", raw: "00 01f4 0002", want: []Message{resp(0x1f4, StatusIllegalCommand)}},
	{name: "cpp/group-ts-vw5-vw6-end", raw: "15 000d 000f 740031373030303030303030303030" +
		"14 000e 0007 76770035003130 14 000f 0007 76770036003230 15 0010 0001 65",
		want: []Message{msg(CmdGroup, 13, "t\x001700000000000"), msg(CmdHardware, 14, "vw\x005\x0010"),
			msg(CmdHardware, 15, "vw\x006\x0020"), msg(CmdGroup, 16, "e")}},
	// virtualWriteBinary: raw bytes after "vw\0<pin>\0", not UTF-8, with NULs.
	{name: "cpp/vw-binary", raw: "14 0017 000b 7677 00 35 00 ff00fe8000c3",
		want: []Message{msg(CmdHardware, 23, "vw\x005\x00\xff\x00\xfe\x80\x00\xc3")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 5, values: []string{"\xff", "\xfe\x80", "\xc3"}}},
	{name: "cpp/vw-binary-trailing-nul", raw: "14 0018 0008 7677 00 35 00 01 02 00",
		want: []Message{msg(CmdHardware, 24, "vw\x005\x00\x01\x02\x00")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 5, values: []string{"\x01\x02", ""}}},
	// virtualWrite(1, "") — the empty value is kept by ParseHardware.
	{name: "cpp/vw-empty-string", raw: "14 0019 0005 7677003100",
		want: []Message{msg(CmdHardware, 25, "vw\x001\x00")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 1, values: []string{""}}},

	// §6: Python BlynkLib 1.0.0.
	{name: "py/info", raw: "11 0002 005d 76657200312e302e3000682d62656174 00313000627566662d696e0031303234 " +
		"00646576006c696e75782d707900746d 706c00544d504c746573743030303100 66772d7479706500544d504c74657374 3030303100667700302e312e30",
		want: []Message{msg(CmdInternal, 2, "ver\x001.0.0\x00h-beat\x0010\x00buff-in\x001024\x00dev\x00linux-py\x00"+
			"tmpl\x00TMPLtest0001\x00fw-type\x00TMPLtest0001\x00fw\x000.1.0")},
		info: []string{"ver", "1.0.0", "h-beat", "10", "buff-in", "1024", "dev", "linux-py", "tmpl", "TMPLtest0001",
			"fw-type", "TMPLtest0001", "fw", "0.1.0"}},
	{name: "py/vw-3-multi", raw: "14 0004 000c 7677 00 33 00 31 00 322e35 00 78",
		want: []Message{msg(CmdHardware, 4, "vw\x003\x001\x002.5\x00x")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 3, values: []string{"1", "2.5", "x"}}},
	{name: "py/ping", raw: "06 0009 0000", want: []Message{msg(CmdPing, 9, "")}},

	// §6: JS 0.5.4.
	{name: "js/info", raw: "11 0002 001d 76657200302e352e3400627566662d69 6e003430393600646576006a73",
		want: []Message{msg(CmdInternal, 2, "ver\x000.5.4\x00buff-in\x004096\x00dev\x00js")},
		info: []string{"ver", "0.5.4", "buff-in", "4096", "dev", "js"}},

	// Every other command code of §1.3.
	{name: "cmd/login-legacy", raw: "02 0001 0020 30313233343536373839616263646566 30313233343536373839616263646566",
		want: []Message{msg(CmdLogin, 1, token)}},
	{name: "cmd/tweet", raw: "0c 0002 0002 6869", want: []Message{msg(CmdTweet, 2, "hi")}},
	{name: "cmd/email", raw: "0d 0003 000e 746f4078007375626a00626f6479",
		want: []Message{msg(CmdEmail, 3, "to@x\x00subj\x00body")}, fields: []string{"to@x", "subj", "body"}},
	{name: "cmd/notify", raw: "0e 0004 0002 6869", want: []Message{msg(CmdNotify, 4, "hi")}},
	{name: "cmd/bridge-write", raw: "0f 0005 0008 3100767700330031",
		want: []Message{msg(CmdBridge, 5, "1\x00vw\x003\x001")}},
	{name: "cmd/sms", raw: "12 0006 0002 6869", want: []Message{msg(CmdSMS, 6, "hi")}},
	{name: "cmd/hardware-rgb", raw: "14 0007 0010 76770031330036300031343300313538",
		want: []Message{msg(CmdHardware, 7, "vw\x0013\x0060\x00143\x00158")},
		hw:   &hwWant{op: OpVirtualWrite, pin: 13, values: []string{"60", "143", "158"}}},
	{name: "cmd/hardware-pin-mode", raw: "14 0001 000d 706d0032006f7574003300696e",
		want: []Message{msg(CmdHardware, 1, "pm\x002\x00out\x003\x00in")},
		hw:   &hwWant{op: OpPinMode, pin: 2, values: []string{"out", "3", "in"}}},
	{name: "cmd/hardware-dr", raw: "14 01f6 0004 64720037",
		want: []Message{msg(CmdHardware, 0x1f6, "dr\x007")}, hw: &hwWant{op: OpDigitalRead, pin: 7}},
	{name: "cmd/hardware-aw", raw: "14 0008 0008 6177003300353132",
		want: []Message{msg(CmdHardware, 8, "aw\x003\x00512")},
		hw:   &hwWant{op: OpAnalogWrite, pin: 3, values: []string{"512"}}},
	{name: "cmd/hardware-ar", raw: "14 0009 0004 61720033",
		want: []Message{msg(CmdHardware, 9, "ar\x003")}, hw: &hwWant{op: OpAnalogRead, pin: 3}},
	{name: "cmd/hardware-vr", raw: "14 01f4 0004 76720031",
		want: []Message{msg(CmdHardware, 0x1f4, "vr\x001")}, hw: &hwWant{op: OpVirtualRead, pin: 1}},
	{name: "cmd/hardware-unknown-op", raw: "14 000a 0004 78780031",
		want: []Message{msg(CmdHardware, 10, "xx\x001")}, hw: &hwWant{op: OpUnknown, pin: -1, err: StatusIllegalCommand}},
	{name: "cmd/hardware-no-value", raw: "14 000b 0004 61770031",
		want: []Message{msg(CmdHardware, 11, "aw\x001")}, hw: &hwWant{op: OpAnalogWrite, pin: 1, err: StatusIllegalCommand}},
	{name: "cmd/hardware-pin-256", raw: "14 000c 0008 7677003235360031",
		want: []Message{msg(CmdHardware, 12, "vw\x00256\x001")}, hw: &hwWant{op: OpVirtualWrite, pin: -1, err: StatusIllegalCommand}},
	{name: "cmd/hardware-pin-negative", raw: "14 000d 0007 767700 2d31 0031",
		want: []Message{msg(CmdHardware, 13, "vw\x00-1\x001")}, hw: &hwWant{op: OpVirtualWrite, pin: -1, err: StatusIllegalCommand}},
	{name: "cmd/hardware-op-only", raw: "14 000e 0002 7677",
		want: []Message{msg(CmdHardware, 14, "vw")}, hw: &hwWant{op: OpVirtualWrite, pin: -1, err: StatusIllegalCommand}},
	{name: "cmd/redirect", raw: "29 0001 000d 31302e302e302e310038303830",
		want: []Message{msg(CmdRedirect, 1, "10.0.0.1\x008080")}, fields: []string{"10.0.0.1", "8080"}},
	{name: "cmd/debug-print", raw: "37 0002 0002 6869", want: []Message{msg(CmdDebugPrint, 2, "hi")}},
	{name: "cmd/internal-dbg-reboot", raw: "11 0003 000a 646267007265626f6f74",
		want: []Message{msg(CmdInternal, 3, "dbg\x00reboot")}},
	{name: "cmd/internal-ota", raw: "11 0004 0013 6f746100687474703a2f2f682f66772e 62696e",
		want: []Message{msg(CmdInternal, 4, "ota\x00http://h/fw.bin")}},
	{name: "cmd/unknown-command", raw: "63 0005 0001 78", want: []Message{msg(Command(0x63), 5, "x")}},
	{name: "cmd/id-zero", raw: "06 0000 0000", want: []Message{msg(CmdPing, 0, "")}},

	// Every status code of §1.4 (a RESPONSE never has a body).
	{name: "status/1", raw: "00 0001 0001", want: []Message{resp(1, StatusQuotaLimit)}},
	{name: "status/2", raw: "00 0001 0002", want: []Message{resp(1, StatusIllegalCommand)}},
	{name: "status/3", raw: "00 0001 0003", want: []Message{resp(1, StatusNotRegistered)}},
	{name: "status/4", raw: "00 0001 0004", want: []Message{resp(1, StatusAlreadyRegistered)}},
	{name: "status/5", raw: "00 0001 0005", want: []Message{resp(1, StatusNotAuthenticated)}},
	{name: "status/6", raw: "00 0001 0006", want: []Message{resp(1, StatusNotAllowed)}},
	{name: "status/7", raw: "00 0001 0007", want: []Message{resp(1, StatusDeviceNotInNetwork)}},
	{name: "status/8", raw: "00 0001 0008", want: []Message{resp(1, StatusNoActiveDashboard)}},
	{name: "status/9", raw: "00 0001 0009", want: []Message{resp(1, StatusInvalidToken)}},
	{name: "status/11", raw: "00 0001 000b", want: []Message{resp(1, StatusIllegalCommandBody)}},
	{name: "status/12", raw: "00 0001 000c", want: []Message{resp(1, StatusGetGraphData)}},
	{name: "status/13", raw: "00 0001 000d", want: []Message{resp(1, StatusNtfInvalidBody)}},
	{name: "status/14", raw: "00 0001 000e", want: []Message{resp(1, StatusNtfNotAuthorized)}},
	{name: "status/15", raw: "00 0001 000f", want: []Message{resp(1, StatusNtfException)}},
	{name: "status/16", raw: "00 0001 0010", want: []Message{resp(1, StatusTimeout)}},
	{name: "status/17", raw: "00 0001 0011", want: []Message{resp(1, StatusNoData)}},
	{name: "status/18", raw: "00 0001 0012", want: []Message{resp(1, StatusDeviceWentOffline)}},
	{name: "status/19", raw: "00 0001 0013", want: []Message{resp(1, StatusServerException)}},
	{name: "status/20", raw: "00 0001 0014", want: []Message{resp(1, StatusNotSupportedVer)}},
	{name: "status/21", raw: "00 0001 0015", want: []Message{resp(1, StatusEnergyLimit)}},
	{name: "status/22", raw: "00 0001 0016", want: []Message{resp(1, StatusFacebookUserLogin)}},
	{name: "status/23", raw: "00 0001 0017", want: []Message{resp(1, StatusOperationAccept)}},
	{name: "status/24", raw: "00 0001 0018", want: []Message{resp(1, StatusOperationDecline)}},
	{name: "status/200", raw: "00 ffff 00c8", want: []Message{resp(0xffff, StatusSuccess)}},
	{name: "status/65535-is-not-a-length", raw: "00 0001 ffff", limit: 4, want: []Message{resp(1, Status(0xffff))}},

	// Edge cases.
	{name: "edge/empty-stream", raw: "", want: []Message{}},
	{name: "edge/empty-body", raw: "11 0001 0000", want: []Message{msg(CmdInternal, 1, "")}, fields: []string{}},
	{name: "edge/single-nul-body", raw: "11 0001 0001 00", want: []Message{msg(CmdInternal, 1, "\x00")}, fields: []string{""}},
	{name: "edge/max-length-body", raw: "14 0001 ffff", fill: 0xffff,
		want: []Message{msg(CmdHardware, 1, strings.Repeat("\xab", 0xffff))}},
	{name: "edge/body-at-limit", raw: "14 0001 0004 61620063", limit: 4,
		want: []Message{msg(CmdHardware, 1, "ab\x00c")}},
	{name: "edge/body-over-limit", raw: "14 0001 0005 6162006364", limit: 4, want: []Message{}, err: ErrBodyTooLarge},
	{name: "edge/max-length-over-default-limit", raw: "14 0001 ffff", limit: 4096, want: []Message{}, err: ErrBodyTooLarge},
	{name: "edge/over-limit-after-good-frame", raw: "06 0001 0000 14 0002 1000", limit: 1024,
		want: []Message{msg(CmdPing, 1, "")}, err: ErrBodyTooLarge},
	{name: "edge/cut-in-header", raw: "14 00", want: []Message{}, err: io.ErrUnexpectedEOF},
	{name: "edge/cut-after-header", raw: "14 0003 0007", want: []Message{}, err: io.ErrUnexpectedEOF},
	{name: "edge/cut-in-body", raw: "14 0003 0007 7677003000", want: []Message{}, err: io.ErrUnexpectedEOF},
	{name: "edge/cut-in-second-header", raw: "06 0001 0000 06 00", want: []Message{msg(CmdPing, 1, "")}, err: io.ErrUnexpectedEOF},
	{name: "edge/cut-bridge-short-body", raw: "0f 0005 000a 3100767700330031", want: []Message{}, err: io.ErrUnexpectedEOF},
	{name: "edge/cut-in-response", raw: "00 0001 00", want: []Message{}, err: io.ErrUnexpectedEOF},
}

// rawBytes decodes a case's wire bytes.
func (c frameCase) rawBytes(tb testing.TB) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(c.raw, " ", ""))
	if err != nil {
		tb.Fatalf("%s: bad hex: %v", c.name, err)
	}
	for range c.fill {
		b = append(b, 0xab)
	}
	return b
}
