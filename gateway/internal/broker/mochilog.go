package broker

import (
	"context"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// mochiLog is the slog handler mochi logs through (Options.Logger of
// mqtt.New). mochi v2.7.9 logs a packet it could not process as "error
// processing packet" at warn with the whole packets.Packet attached: a
// struct of dozens of fields, payload and properties included, hundreds
// of bytes on a line for one device's mistake. Here every packet attribute
// becomes its type, topic and payload size, and that message reads "mqtt
// packet refused", so the warning is one short line.
type mochiLog struct{ slog.Handler }

func (h mochiLog) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	if msg == "error processing packet" {
		msg = "mqtt packet refused"
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value.Any().(type) {
		case packets.Packet:
			out.AddAttrs(packetAttrs(&v)...)
		case *packets.Packet:
			if v != nil {
				out.AddAttrs(packetAttrs(v)...)
			}
		default:
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h mochiLog) WithAttrs(as []slog.Attr) slog.Handler {
	return mochiLog{h.Handler.WithAttrs(as)}
}

func (h mochiLog) WithGroup(name string) slog.Handler {
	return mochiLog{h.Handler.WithGroup(name)}
}

// packetAttrs summarise a packet: its type and, for a publish, the topic
// and payload size (never the payload).
func packetAttrs(pk *packets.Packet) []slog.Attr {
	as := []slog.Attr{slog.String("packet", packets.PacketNames[pk.FixedHeader.Type])}
	if pk.FixedHeader.Type == packets.Publish {
		as = append(as, slog.String("topic", pk.TopicName), slog.Int("bytes", len(pk.Payload)))
	}
	return as
}
