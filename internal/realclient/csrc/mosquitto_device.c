/*
 * mosquitto_device: an MQTT device on libmosquitto run the way Blynk's C
 * sample runs one: mosquitto_loop_forever, which reconnects after a lost
 * connection and gives up only on what it takes for a final answer.
 *
 * usage: mosquitto_device HOST PORT TOKEN 4|5
 *
 * One line on stdout per event:
 *   CONNECTED <reason>    CONNACK received (then subscribes downlink/#)
 *   SUBSCRIBED
 *   MSG <topic> <payload>
 *   DISCONNECTED <rc>
 *   EXIT <rc> <text>      loop_forever returned: the client stopped for good
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	(void)obj; (void)flags; (void)p;
	printf("CONNECTED %d\n", rc);
	if (rc == 0) {
		mosquitto_subscribe(m, NULL, "downlink/#", 1);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted, const mosquitto_property *p)
{
	(void)m; (void)obj; (void)mid; (void)n; (void)granted; (void)p;
	printf("SUBSCRIBED\n");
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg, const mosquitto_property *p)
{
	(void)m; (void)obj; (void)p;
	printf("MSG %s %.*s\n", msg->topic, msg->payloadlen, (const char *)msg->payload);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *p)
{
	(void)m; (void)obj; (void)p;
	printf("DISCONNECTED %d\n", rc);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s HOST PORT TOKEN 4|5\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new(NULL, true, NULL);
	if (m == NULL) {
		printf("EXIT -1 mosquitto_new failed\n");
		return 1;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, atoi(argv[4]) == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_username_pw_set(m, "device", argv[3]);
	mosquitto_reconnect_delay_set(m, 1, 1, false);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_message_v5_callback_set(m, on_message);
	mosquitto_disconnect_v5_callback_set(m, on_disconnect);
	int rc = mosquitto_connect(m, argv[1], atoi(argv[2]), 45);
	if (rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_loop_forever(m, -1, 1);
	}
	printf("EXIT %d %s\n", rc, mosquitto_strerror(rc));
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
